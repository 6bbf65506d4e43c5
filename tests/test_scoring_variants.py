"""Each IFD variant against a one-sample-at-a-time reference written from its source's code,
and the fast LM-head path against a plain forward for models that post-process logits."""

from __future__ import annotations

import math

import pytest
import torch

from codesift.scoring import CHERRY_PROMPT, VARIANTS, plain_head, score


def _loss(model, ids: list[int], labels: list[int]) -> float:
    """`model(ids, labels=labels).loss`, as the published scripts compute it."""
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels]))
    return float(out.loss)


def cherry_reference(model, tok, question: str, answer: str, max_length: int) -> float:
    """CodeACT's data_selection/calculate_ifd.py, calculate_ifd, line for line (fp32)."""
    prompt = f"Question:\n{question}\n\nAnswer:\n"
    end_index = len(tok.encode(prompt, truncation=True, max_length=max_length))
    answer_ids = tok.encode(answer, truncation=True, max_length=max_length - end_index + 1)
    ppl_answer = math.exp(_loss(model, answer_ids, answer_ids))
    input_ids = tok.encode(prompt + answer, truncation=True, max_length=max_length)
    labels = [-100] * end_index + input_ids[end_index:]
    return math.exp(_loss(model, input_ids, labels)) / ppl_answer


def efficode_reference(model, tok, template, instruction: str, response: str,
                       max_length: int) -> float:
    """efficode's data_selection/get_ppl_ifd.py, calculate_ppl_ifd (its training prompt)."""
    prompt = template.prompt(tok, instruction)
    end_index = len(tok.encode(prompt, add_special_tokens=False, truncation=True,
                               max_length=max_length))
    response = response + tok.eos_token
    resp_ids = tok.encode(response, add_special_tokens=False, truncation=True,
                          max_length=max_length - end_index + 1)
    ppl_resp = math.exp(_loss(model, resp_ids, resp_ids))
    input_ids = tok.encode(prompt + response, add_special_tokens=False, truncation=True,
                           max_length=max_length)
    labels = [-100] * end_index + input_ids[end_index:]
    return math.exp(_loss(model, input_ids, labels)) / ppl_resp


def _records(sample_records, n=12):
    return [(r["instruction"], r["response"]) for r in sample_records[:n]]


@pytest.fixture(scope="module")
def bos_tok(tiny):
    """The tiny tokenizer, made to add BOS like LLaMA/DeepSeek tokenizers do."""
    from tokenizers import processors

    _, tok = tiny
    tok = tok.__class__(tokenizer_object=tok.backend_tokenizer.__class__.from_str(
        tok.backend_tokenizer.to_str()), bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.bos_token_id)])
    assert tok.encode("x")[0] == tok.bos_token_id
    return tok


@pytest.mark.parametrize("max_len", [512, 40])
def test_cherry_equals_codeacts_script(tiny, bos_tok, template, sample_records, max_len):
    model, _ = tiny
    pairs = [VARIANTS["cherry"].pair(template, bos_tok, q, a) for q, a in
             _records(sample_records)]
    assert pairs[0][0] == CHERRY_PROMPT.replace("{question}", sample_records[0]["instruction"])
    results, _ = score(model, bos_tok, pairs, max_len, 2048, progress=False, variant="cherry")
    for (q, a), r in zip(_records(sample_records), results, strict=True):
        ref = cherry_reference(model, bos_tok, q, a, max_len)
        if math.isnan(ref):  # the prompt fills max_len: the script sets 0, we report a failure
            assert r.ifd is None and "prompt alone" in r.error
        else:
            assert r.ifd == pytest.approx(ref, rel=1e-5)
    assert any(r.ifd is not None for r in results)


def test_efficode_equals_its_script(tiny, template, sample_records):
    model, tok = tiny
    pairs = [VARIANTS["efficode"].pair(template, tok, q, a) for q, a in _records(sample_records)]
    results, _ = score(model, tok, pairs, 512, 2048, progress=False, variant="efficode")
    for (q, a), r in zip(_records(sample_records), results, strict=True):
        ref = efficode_reference(model, tok, template, q, a, 512)
        assert r.ifd == pytest.approx(ref, rel=1e-5)


def test_variants_differ_where_their_sources_do(tiny, template, sample_records):
    """efficode leaves the first answer token unscored without BOS; codesift scores it after
    BOS: the two give different IFDs on the same text."""
    model, tok = tiny
    recs = _records(sample_records, 6)
    got = {}
    for name in ("codesift", "efficode"):
        pairs = [VARIANTS[name].pair(template, tok, q, a) for q, a in recs]
        got[name] = [r.ifd for r in score(model, tok, pairs, 512, 2048, progress=False,
                                          variant=name)[0]]
    assert all(a != pytest.approx(b, rel=1e-6) for a, b in zip(*got.values(), strict=True))


def _tiny(config_cls, vocab: int, **extra):
    torch.manual_seed(0)
    cfg = config_cls(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                     **extra)
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(cfg).eval()
    with torch.no_grad():  # logits big enough for softcapping to bite
        model.get_output_embeddings().weight.mul_(50)
    return model


@pytest.mark.parametrize("kind", ["granite", "gemma2", "llama"])
def test_fast_path_equals_a_plain_forward_for_every_family(tiny, template, sample_records, kind):
    from transformers import Gemma2Config, GraniteConfig, LlamaConfig

    _, tok = tiny
    n = len(tok)
    model = {"granite": lambda: _tiny(GraniteConfig, n, logits_scaling=8.0),
             "gemma2": lambda: _tiny(Gemma2Config, n, final_logit_softcapping=30.0, head_dim=8),
             "llama": lambda: _tiny(LlamaConfig, n)}[kind]()
    assert plain_head(model) == (kind == "llama")
    pairs = [template.pair(tok, q, a) for q, a in _records(sample_records, 4)]
    results, _ = score(model, tok, pairs, 256, 4096, progress=False)
    for (p, a), r in zip(pairs, results, strict=True):
        from codesift.templates import encode

        enc = encode(tok, p, a, 256)
        ids = torch.tensor([enc.input_ids])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0].float()
        nll = torch.nn.functional.cross_entropy(logits[:-1], ids[0, 1:], reduction="none")
        want = float(nll[enc.n_prompt - 1:].mean())
        assert r.ce_cond == pytest.approx(want, rel=1e-4)
