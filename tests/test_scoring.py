import copy
import math

import pytest
import torch
import torch.nn.functional as F

from codesift.scoring import batches, reference_ifd, score
from codesift.templates import encode


def _answer_nll(model, ids: list[int], first: int) -> list[float]:
    """NLL of ids[first:] given everything before, one unpadded sequence, no packing."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0].float()
    nll = F.cross_entropy(logits[:-1], torch.tensor(ids[1:]), reduction="none")
    return nll[first - 1:].tolist()


def _by_hand(model, tok, prompt, answer, max_len=512):
    enc = encode(tok, prompt, answer, max_len)
    answer_ids = enc.answer_ids
    if tok.bos_token_id is None:  # drop the first answer token from both means
        cond = _answer_nll(model, enc.input_ids, enc.n_prompt + 1)
        uncond = _answer_nll(model, answer_ids, 1)
    else:
        cond = _answer_nll(model, enc.input_ids, enc.n_prompt)
        uncond = _answer_nll(model, [tok.bos_token_id, *answer_ids], 1)
    c, u = sum(cond) / len(cond), sum(uncond) / len(uncond)
    return c, u, math.exp(c - u), len(cond)


@pytest.fixture
def pairs(sample_records, tiny, template):
    return [template.pair(tiny[1], r["instruction"], r["response"]) for r in sample_records[:24]]


@pytest.mark.parametrize("pack", [True, False])
def test_packed_batched_scores_equal_one_at_a_time(tiny, pairs, pack):
    model, tok = tiny
    lengths = [len(encode(tok, p, a, 512).input_ids) for p, a in pairs]
    plan = batches(lengths * 2, 512, 4096, pack)
    assert any(len(row) > 1 for b in plan for row in b) == pack  # packs, or one per row
    assert any(len(b) > 1 for b in plan)  # several rows per batch either way
    results, stats = score(model, tok, pairs, max_len=512, batch_tokens=4096, progress=False,
                           pack=pack)
    assert stats.n_scored == len(pairs) and stats.n_failed == 0
    for (p, a), r in zip(pairs, results, strict=True):
        c, u, ifd, n = _by_hand(model, tok, p, a)
        assert r.n_answer_tokens == n
        assert r.ce_cond == pytest.approx(c, abs=1e-5)
        assert r.ce_uncond == pytest.approx(u, abs=1e-5)
        assert r.ifd == pytest.approx(ifd, rel=1e-5)
        assert r.loss_ratio == pytest.approx(c / u, rel=1e-5)
        assert r.ppl_cond == pytest.approx(math.exp(c), rel=1e-5)


@pytest.mark.parametrize("pack", [True, False])
def test_batch_budget_does_not_change_scores(tiny, pairs, pack):
    model, tok = tiny
    big, _ = score(model, tok, pairs, 512, batch_tokens=16384, progress=False, pack=pack)
    small, _ = score(model, tok, pairs, 512, batch_tokens=512, progress=False, pack=pack)
    for a, b in zip(big, small, strict=True):
        assert a.ifd == pytest.approx(b.ifd, abs=1e-5)


def test_tokenizer_without_bos_drops_first_answer_token(tiny, pairs):
    model, tok = tiny
    nobos = copy.deepcopy(tok)
    nobos.bos_token = None
    assert nobos.bos_token_id is None
    results, _ = score(model, nobos, pairs[:6], 512, 4096, progress=False)
    for (p, a), r in zip(pairs[:6], results, strict=True):
        c, u, ifd, n = _by_hand(model, nobos, p, a)
        assert r.n_answer_tokens == n == len(encode(nobos, p, a, 512).answer_ids) - 1
        assert r.ifd == pytest.approx(ifd, rel=1e-5)


def test_failures_are_null_with_error_never_zero(tiny, template):
    model, tok = tiny
    pairs = [("", "x = 1"), template.pair(tok, "ok", "   "),
             template.pair(tok, "word " * 400, "x = 1"), template.pair(tok, "ok", "y=2")]
    results, stats = score(model, tok, pairs, max_len=64, batch_tokens=1024, progress=False)
    for r in results[:3]:
        assert r.error and r.ifd is None and r.ce_cond is None
    assert results[3].error is None and results[3].ifd is not None
    assert stats.n_failed == 3 and stats.n_scored == 1


def test_truncated_answers_are_marked_and_scored(tiny, template):
    model, tok = tiny
    p = template.prompt(tok, "Repeat.")
    results, stats = score(model, tok, [(p, "x = 1\n" * 100)], max_len=48, batch_tokens=1024,
                           progress=False)
    assert results[0].truncated and results[0].ifd is not None and stats.n_truncated == 1
    assert results[0].n_answer_tokens == 48 - encode(tok, p, "x", 48).n_prompt


def test_text_nll_is_the_plain_next_token_loss_of_each_document(tiny, sample_records):
    from codesift.scoring import mean_text_nll

    model, tok = tiny
    texts = [r["response"] for r in sample_records[:6]]
    want = []
    for t in texts:  # one at a time, after BOS, as a plain causal LM: model(ids, labels=ids)
        ids = torch.tensor([[tok.bos_token_id, *tok(t, add_special_tokens=False)["input_ids"]]])
        with torch.no_grad():
            want.append(float(model(input_ids=ids, labels=ids).loss))
    got = mean_text_nll(model, tok, texts, 512, 2048)
    assert got == pytest.approx(sum(want) / len(want), rel=1e-5)


def test_reference_loop_gives_the_engines_ifd(tiny, pairs, template):
    """The published one-at-a-time loop (the GPU check's and bench_ifd's baseline) agrees with
    the batched engine, and is None exactly where the engine reports an error."""
    model, tok = tiny
    pairs = [*pairs[:8], template.pair(tok, "", "an answer")]
    results, _ = score(model, tok, pairs, 512, 2048, progress=False)
    ref = [reference_ifd(model, tok, p, a, 512) for p, a in pairs]
    assert [r is None for r in ref] == [r.ifd is None for r in results] == [False] * 8 + [True]
    for r, want in zip(results[:8], ref[:8], strict=True):
        assert r.ifd == pytest.approx(want, rel=1e-5)
