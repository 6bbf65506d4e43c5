"""Saved models are the same bytes wherever they were made, so DVC sees no change."""

from transformers import AutoTokenizer

from codesift.models import save_tokenizer


def _files(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_a_saved_tokenizer_does_not_record_how_it_was_loaded(tiny_dir, tmp_path):
    # HF_HUB_OFFLINE=1 loads with local_files_only=True; transformers 5 saves that flag
    for flag in (True, False):
        tok = AutoTokenizer.from_pretrained(tiny_dir, local_files_only=flag)
        save_tokenizer(tok, tmp_path / str(flag))
    assert _files(tmp_path / "True") == _files(tmp_path / "False")
    assert b"local_files_only" not in (tmp_path / "True/tokenizer_config.json").read_bytes()
