"""Fill-in-the-middle on raw code: the permutation is reversible, its rates hold, every token
is supervised, the sentinels are added when missing, and a run trains and saves them."""

import json

import numpy as np
import pytest

from codesift.config import DataConfig, TrainConfig
from codesift.data.prepare import prepare
from codesift.data.sources import read_source
from codesift.fim import Sentinels, fim_examples, permute, sentinels
from codesift.training import Collator, train

S = Sentinels(prefix=-1, middle=-2, suffix=-3)


def unpermute(seq: list[int]) -> tuple[list[int], list[int], list[int], str]:
    """(prefix, middle, suffix, mode) of a permuted piece; mode "" for an untouched one."""
    if not seq or seq[0] != S.prefix:
        return seq, [], [], ""
    if seq[1] == S.suffix:  # SPM: <pre><suf> suffix <mid> prefix middle
        m = seq.index(S.middle)
        return seq[m + 1:], [], seq[2:m], "spm"  # prefix+middle together after <mid>
    s, m = seq.index(S.suffix), seq.index(S.middle)
    return seq[1:s], seq[m + 1:], seq[s + 1:m], "psm"


def test_prefix_middle_and_suffix_reassemble_the_original():
    rng = np.random.default_rng(0)
    for n in [0, 1, 2, 7, 50]:
        ids = list(range(10, 10 + n))
        for _ in range(200):
            prefix, middle, suffix, _ = unpermute(permute(ids, rng, 1.0, 0.5, S))
            assert prefix + middle + suffix == ids


def test_rates_hold_over_many_draws_with_a_seed():
    rng = np.random.default_rng(7)
    modes = [unpermute(permute(list(range(20)), rng, 0.5, 0.25, S))[3] for _ in range(20000)]
    fim = [m for m in modes if m]
    assert len(fim) / len(modes) == pytest.approx(0.5, abs=0.015)
    # A PSM piece with an empty prefix is the same sequence as an SPM one, so it reads as SPM:
    # 0.25 + 0.75 * P(first cut at 0), with two cuts drawn from 0..20.
    looks_spm = 0.25 + 0.75 * (1 - (20 / 21) ** 2)
    assert fim.count("spm") / len(fim) == pytest.approx(looks_spm, abs=0.015)
    again = np.random.default_rng(7)
    assert [unpermute(permute(list(range(20)), again, 0.5, 0.25, S))[3]
            for _ in range(100)] == modes[:100]


def test_examples_supervise_every_token_and_cut_long_documents(tiny_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_dir)  # its own: adding sentinels mutates it
    marks, added = sentinels(tok, ["<fim_prefix>", "<fim_middle>", "<fim_suffix>"])
    assert len(added) == 3 and marks.prefix in added
    assert sentinels(tok, ["<fim_prefix>", "<fim_middle>", "<fim_suffix>"])[1] == []
    texts = ["def f(x):\n    return x + 1\n" * 40, "import os\n"]
    examples = fim_examples(texts, tok, 64, 0.5, 0.5, 0, marks)
    assert len(examples) > 2 and all(len(e["input_ids"]) <= 64 for e in examples)
    for e in examples:
        assert e["labels"] == e["input_ids"] and e["input_ids"][-1] == tok.eos_token_id
    assert examples == fim_examples(texts, tok, 64, 0.5, 0.5, 0, marks)  # seeded
    batch = Collator("dynamic_pack", tok.pad_token_id, 64)(examples)
    assert int((batch["position_ids"] == 0).sum()) >= len(examples)  # isolated, not chained


def test_a_fim_run_adds_the_sentinels_and_saves_them(tiny_dir, sample_records, tmp_path):
    from transformers import AutoModelForCausalLM

    from codesift.models import load_tokenizer

    tok = load_tokenizer(str(tiny_dir))
    marks, added = sentinels(tok, ["<fim_prefix>", "<fim_middle>", "<fim_suffix>"])
    texts = [r["response"] for r in sample_records[:40]]
    examples = fim_examples(texts, tok, 128, 0.5, 0.5, 0, marks)
    cfg = TrainConfig(method="lora", objective="fim", max_steps=3, batch_size=8,
                      logging_steps=1, warmup_steps=0, save_steps=0, max_seq_len=128)
    run = train(str(tiny_dir), examples, tok, cfg, tmp_path / "out", tmp_path / "ck",
                new_tokens=added)
    assert run.metrics["steps"] == 3 and np.isfinite(run.metrics["train_loss"])
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    saved = load_tokenizer(str(tmp_path / "out"))
    assert model.get_input_embeddings().num_embeddings == len(saved) == len(tok)
    assert saved.convert_tokens_to_ids("<fim_middle>") == marks.middle


def test_raw_code_from_source_files_and_text_documents(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("def a():\n    return 1\n")
    (tmp_path / "src" / "b.py").write_text("def b():\n    return 2\n")
    records, _ = prepare(read_source(str(tmp_path / "src")), DataConfig(text_column="text"), {})
    assert [r["text"] for r in records] == ["def a():\n    return 1\n", "def b():\n    return 2\n"]
    (tmp_path / "c.txt").write_text("def c():\n    pass\n\n\ndef d():\n    pass\n")
    records, _ = prepare(read_source(str(tmp_path / "c.txt")), DataConfig(text_column="text"),
                         {})
    assert [r["text"].strip() for r in records] == ["def c():\n    pass", "def d():\n    pass"]
    assert [r["source"] for r in records] == [f"{tmp_path}/c.txt:1", f"{tmp_path}/c.txt:5"]
    assert json.dumps(records)  # plain data
