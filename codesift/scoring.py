"""IFD / PPL scoring engine: exact, batched by a token budget.

For each sample the conditioned sequence is BOS + prompt + answer (with its end-of-turn
token) and the unconditioned one is BOS + the *same answer token ids*. Sequences are sorted
by length and batched; by default each has its own right-padded row and attention takes the
plain causal path (`pack=False`); with `pack=True` several share a row, positions restart per
sequence and no attention mask or KV cache is passed, so they never see each other.

Only known per-sample conditions (empty fields, a prompt that fills max_len, nothing left to
score) are failures, reported with null scores and an `error`; anything else raises.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from codesift.io import ChunkLog
from codesift.packing import first_fit_decreasing, pack_rows
from codesift.templates import Encoded, encode


@dataclass
class Score:
    ce_cond: float | None = None
    ce_uncond: float | None = None
    ifd: float | None = None
    loss_ratio: float | None = None
    ppl_cond: float | None = None
    n_answer_tokens: int = 0
    truncated: bool = False
    error: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def segments(enc: Encoded, bos_id: int | None) -> tuple[tuple[list[int], list[int]], ...]:
    """(ids, labels) of the conditioned and unconditioned sequences of one sample.

    Without a BOS token nothing can predict the first answer token unconditioned,
    so it is dropped from both means.
    """
    answer = enc.answer_ids
    cond_labels = enc.labels()
    if bos_id is None:
        cond_labels[enc.n_prompt] = -100
        uncond = (answer, list(answer))  # pack_rows masks the first label
    else:
        uncond = ([bos_id, *answer], [-100, *answer])
    return (enc.input_ids, cond_labels), uncond


def batches(lengths: Sequence[int], capacity: int, batch_tokens: int,
            pack: bool = False) -> list[list[list[int]]]:
    """Pack sequences into rows of <= `capacity` tokens (or, without `pack`, one per row),
    then rows, longest first, into batches whose padded size (rows x widest row) stays
    within `batch_tokens`."""
    bins = first_fit_decreasing(lengths, capacity) if pack else [[i] for i in range(len(lengths))]
    widths = [sum(lengths[i] for i in b) for b in bins]
    order = sorted(range(len(bins)), key=lambda b: (-widths[b], b))
    out: list[list[list[int]]] = []
    out_width = 0
    for b in order:
        if out and (len(out[-1]) + 1) * out_width <= batch_tokens:
            out[-1].append(bins[b])
        else:
            out.append([bins[b]])
            out_width = widths[b]  # the first row of a batch is its widest
    return out


@torch.no_grad()
def segment_nll(model: PreTrainedModel,
                rows: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sum of NLL and token count per segment id in a packed batch."""
    dev = model.device
    labels = rows["labels"][:, 1:].to(dev)
    keep = labels != -100
    pos = rows.get("position_ids")
    logits = _logits_at(model, rows["input_ids"].to(dev), None if pos is None else pos.to(dev),
                        keep)
    nll = F.cross_entropy(logits.float(), labels[keep], reduction="none")
    seg = rows["segment_ids"][:, 1:].to(dev)
    ids, inverse = torch.unique(seg[keep], return_inverse=True)
    sums = torch.zeros(len(ids), device=dev, dtype=torch.float64).index_add_(
        0, inverse, nll.double())
    counts = torch.zeros(len(ids), device=dev, dtype=torch.long).index_add_(
        0, inverse, torch.ones_like(inverse))
    return ids.cpu(), sums.cpu(), counts.cpu()


def _logits_at(model: PreTrainedModel, input_ids: torch.Tensor, position_ids: torch.Tensor | None,
               keep: torch.Tensor) -> torch.Tensor:
    """Logits only where a label is scored: the LM head runs on answer positions alone
    (prompt positions are most of the tokens and need no vocabulary projection)."""
    head, decoder = model.get_output_embeddings(), model.get_decoder()
    if head is None or decoder is None or getattr(model.config, "final_logit_softcapping", None):
        logits = model(input_ids=input_ids, position_ids=position_ids, use_cache=False).logits
        return logits[:, :-1][keep]
    hidden = decoder(input_ids=input_ids, position_ids=position_ids,
                     use_cache=False).last_hidden_state
    return head(hidden[:, :-1][keep])


@dataclass
class ScoreStats:
    n_scored: int = 0
    n_failed: int = 0
    n_truncated: int = 0
    tokens: int = 0
    seconds: float = 0.0
    n_resumed: int = 0  # rows taken from a killed run's log instead of scored again


def score(model: PreTrainedModel, tok: PreTrainedTokenizerBase,
          pairs: Sequence[tuple[str, str]], max_len: int, batch_tokens: int,
          progress: bool = True, pack: bool = False) -> tuple[list[Score], ScoreStats]:
    """Score (prompt, answer) pairs; failures carry an `error` and null scores, never 0.

    `pack` puts several sequences in a row (position ids restarting, so the model builds a
    block-diagonal mask). Without it each sequence has its own right-padded row and no
    position ids or mask, so attention takes SDPA's plain causal path (causality alone
    keeps the trailing padding unseen): on CPU that is faster, because a masked row costs
    its width squared and the length-sorted batches hold little padding anyway.
    """
    start = time.perf_counter()
    results = [Score() for _ in pairs]
    seqs: list[list[int]] = []
    labels: list[list[int]] = []
    owner: list[int] = []  # sample index of each segment; cond segment first
    for i, (prompt, answer) in enumerate(pairs):
        enc = encode(tok, prompt, answer, max_len)
        if enc.error is None and tok.bos_token_id is None and len(enc.answer_ids) < 2:
            enc.error = "answer has one token; without BOS nothing is left to score"
        results[i].truncated, results[i].error = enc.truncated, enc.error
        if enc.error is None:
            for ids, lab in segments(enc, tok.bos_token_id):
                seqs.append(ids)
                labels.append(lab)
                owner.append(i)
    sums = torch.zeros(len(seqs), dtype=torch.float64)
    counts = torch.zeros(len(seqs), dtype=torch.long)
    plan = batches([len(s) for s in seqs], max_len, batch_tokens, pack)
    bar = tqdm(total=len(pairs), desc="ifd", unit="sample", disable=not progress)
    stats = ScoreStats()
    for batch in plan:
        rows = pack_rows(seqs, labels, batch, pad_id=_pad_id(tok))
        if not pack:
            del rows["position_ids"]  # default 0..width-1: no packing for the model to detect
        members = [i for b in batch for i in b]
        ids, s, c = segment_nll(model, rows)
        sums[ids], counts[ids] = s, c
        stats.tokens += sum(len(seqs[i]) for i in members)
        bar.update(len(members) / 2)
        bar.set_postfix(tok_s=f"{stats.tokens / (time.perf_counter() - start):.0f}")
    bar.close()
    _finish(results, owner, sums, counts)
    stats.seconds = time.perf_counter() - start
    stats.n_failed = sum(r.error is not None for r in results)
    stats.n_scored = len(results) - stats.n_failed
    stats.n_truncated = sum(r.truncated for r in results if r.error is None)
    return results, stats


def _finish(results: list[Score], owner: list[int], sums: torch.Tensor, counts: torch.Tensor
            ) -> None:
    """Turn per-segment sums into per-sample scores (segments come in cond, uncond pairs)."""
    for j in range(0, len(owner), 2):
        r = results[owner[j]]
        if counts[j] == 0 or counts[j + 1] == 0:
            r.error = "no answer tokens to score"
            continue
        cond, uncond = float(sums[j] / counts[j]), float(sums[j + 1] / counts[j + 1])
        r.ce_cond, r.ce_uncond, r.n_answer_tokens = cond, uncond, int(counts[j])
        r.ifd = math.exp(cond - uncond)
        r.loss_ratio = cond / uncond if uncond > 0 else None
        r.ppl_cond = math.exp(min(cond, 700.0))


def _pad_id(tok: PreTrainedTokenizerBase) -> int:
    return tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id


def mean_nll(model: PreTrainedModel, tok: PreTrainedTokenizerBase,
             pairs: Sequence[tuple[str, str]], max_len: int, batch_tokens: int,
             pack: bool = False) -> float:
    """Mean over pairs of the answer's mean NLL given its prompt (held-out loss)."""
    results, _ = score(model, tok, pairs, max_len, batch_tokens, progress=False, pack=pack)
    vals = [r.ce_cond for r in results if r.ce_cond is not None]
    return sum(vals) / len(vals) if vals else float("nan")


def score_resumable(model: PreTrainedModel, tok: PreTrainedTokenizerBase, ids: Sequence[str],
                    pairs: Sequence[tuple[str, str]], max_len: int, batch_tokens: int,
                    log: ChunkLog, chunk_size: int = 512,
                    pack: bool = False) -> tuple[list[dict], ScoreStats]:
    """Score in chunks, appending each finished chunk to `log`; rows already in the log
    (from a killed run with the same fingerprint) are not scored again."""
    done = {row["id"]: row for row in log.rows}
    todo = [i for i, rid in enumerate(ids) if rid not in done]
    total = ScoreStats(n_resumed=len(ids) - len(todo))
    bar = tqdm(total=len(ids), initial=len(ids) - len(todo), desc="ifd", unit="sample")
    for start in range(0, len(todo), chunk_size):
        chunk = todo[start:start + chunk_size]
        results, stats = score(model, tok, [pairs[i] for i in chunk], max_len, batch_tokens,
                               progress=False, pack=pack)
        rows = [{"id": ids[i], **r.as_dict()} for i, r in zip(chunk, results, strict=True)]
        log.append(rows)
        done.update((row["id"], row) for row in rows)
        total.tokens += stats.tokens
        total.seconds += stats.seconds
        bar.update(len(chunk))
        bar.set_postfix(tok_s=f"{total.tokens / max(total.seconds, 1e-9):.0f}",
                        sample_s=f"{(start + len(chunk)) / max(total.seconds, 1e-9):.1f}")
    bar.close()
    rows = [done[rid] for rid in ids]
    total.n_failed = sum(r["error"] is not None for r in rows)
    total.n_scored = len(rows) - total.n_failed
    total.n_truncated = sum(bool(r["truncated"]) for r in rows if r["error"] is None)
    return rows, total
