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
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from codesift.io import ChunkLog
from codesift.packing import first_fit_decreasing, pack_rows
from codesift.templates import Template, encode


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


Segment = tuple[list[int], list[int]]  # ids, labels (-100 = not scored)


@dataclass
class Planned:
    """A pair's conditioned and unconditioned sequences, or why it cannot be scored."""

    cond: Segment | None = None
    uncond: Segment | None = None
    truncated: bool = False
    error: str | None = None


def codesift_segments(tok: PreTrainedTokenizerBase, prompt: str, answer: str, max_len: int
                      ) -> Planned:
    """Prompt and answer tokenised jointly (templates.encode); the unconditioned pass scores
    the *same answer ids* after BOS. Without a BOS token nothing can predict the first answer
    token unconditioned, so it is dropped from both means."""
    enc = encode(tok, prompt, answer, max_len)
    if enc.error is None and tok.bos_token_id is None and len(enc.answer_ids) < 2:
        enc.error = "answer has one token; without BOS nothing is left to score"
    if enc.error:
        return Planned(error=enc.error)
    answer_ids, cond_labels = enc.answer_ids, enc.labels()
    if tok.bos_token_id is None:
        cond_labels[enc.n_prompt] = -100
        uncond = (answer_ids, list(answer_ids))  # pack_rows masks the first label
    else:
        uncond = ([tok.bos_token_id, *answer_ids], [-100, *answer_ids])
    return Planned((enc.input_ids, cond_labels), uncond, enc.truncated)


def source_segments(tok: PreTrainedTokenizerBase, prompt: str, answer: str, max_len: int,
                    special: bool) -> Planned:
    """The published scripts' rule (CodeACT's calculate_ifd.py, efficode's get_ppl_ifd.py):
    the prompt's length from tokenising it alone, the conditioned sequence tokenised whole,
    the unconditioned one the answer tokenised alone (`special`: with the tokenizer's special
    tokens, e.g. BOS), each scored as `model(ids, labels=...)` does: its first token never."""
    if not prompt.strip() or not answer.strip():
        return Planned(error="empty instruction or response")

    def ids(text: str, limit: int) -> list[int]:
        return tok(text, add_special_tokens=special, truncation=True,
                   max_length=limit)["input_ids"]

    end = len(ids(prompt, max_len))
    full = ids(prompt + answer, max_len)
    if len(full) <= end:
        return Planned(error=f"prompt alone has {end} tokens, max_len is {max_len}")
    alone = ids(answer, max_len - end + 1)
    truncated = len(tok(prompt + answer, add_special_tokens=special)["input_ids"]) > max_len
    return Planned((full, [-100] * end + full[end:]), (alone, list(alone)), truncated)


ALIGNMENT_PROMPT = "```python\n{response}\n```\nThe instruction this code answers:\n"


def alignment_pair(instruction: str, response: str) -> tuple[str, str]:
    """IFD the other way round (the instruction given the response), in a fixed plain-text
    format so it means the same for every template: a response that answers *this*
    instruction makes it easy to predict; another question's answer does not."""
    return ALIGNMENT_PROMPT.replace("{response}", response), instruction


@dataclass(frozen=True)
class Variant:
    """How an IFD variant turns a record into (prompt, answer) text and then sequences."""

    pair: Callable[[Template, PreTrainedTokenizerBase, str, str], tuple[str, str]]
    segments: Callable[[PreTrainedTokenizerBase, str, str, int], Planned]


CHERRY_PROMPT = "Question:\n{question}\n\nAnswer:\n"  # CodeACT's calculate_ifd.py

VARIANTS: dict[str, Variant] = {
    # the training text exactly (template, end-of-turn token), joint tokenisation, BOS
    "codesift": Variant(lambda t, tok, q, a: t.pair(tok, q, a), codesift_segments),
    # CodeACT (after Cherry LLM): its own Question/Answer prompt, no EOS, special tokens on
    "cherry": Variant(lambda t, tok, q, a: (CHERRY_PROMPT.replace("{question}", q), a),
                      partial(source_segments, special=True)),
    # efficode: its training prompt (the template), EOS as text, no special tokens added
    "efficode": Variant(lambda t, tok, q, a: (t.prompt(tok, q), a + (tok.eos_token or "")),
                        partial(source_segments, special=False)),
}


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
def segment_nll(model: PreTrainedModel, rows: dict[str, torch.Tensor], plain: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sum of NLL and token count per segment id in a batch."""
    dev = model.device
    labels = rows["labels"][:, 1:].to(dev)
    keep = labels != -100
    pos = rows.get("position_ids")
    logits = _logits_at(model, rows["input_ids"].to(dev), None if pos is None else pos.to(dev),
                        keep, plain)
    nll = F.cross_entropy(logits.float(), labels[keep], reduction="none")
    seg = rows["segment_ids"][:, 1:].to(dev)
    ids, inverse = torch.unique(seg[keep], return_inverse=True)
    sums = torch.zeros(len(ids), device=dev, dtype=torch.float64).index_add_(
        0, inverse, nll.double())
    counts = torch.zeros(len(ids), device=dev, dtype=torch.long).index_add_(
        0, inverse, torch.ones_like(inverse))
    return ids.cpu(), sums.cpu(), counts.cpu()


def _logits_at(model: PreTrainedModel, input_ids: torch.Tensor, position_ids: torch.Tensor | None,
               keep: torch.Tensor, plain: bool) -> torch.Tensor:
    """Logits only where a label is scored. With a `plain` head (see `plain_head`) the LM
    head runs on answer positions alone: prompt positions are most of the tokens and need no
    vocabulary projection. Otherwise the model's own forward, post-processing included."""
    if not plain:
        logits = model(input_ids=input_ids, position_ids=position_ids, use_cache=False).logits
        return logits[:, :-1][keep]
    hidden = model.get_decoder()(input_ids=input_ids, position_ids=position_ids,
                                 use_cache=False).last_hidden_state
    return model.get_output_embeddings()(hidden[:, :-1][keep])


# Config fields of known logit post-processing (Gemma 2 softcapping, Cohere's logit_scale,
# Granite's logits_scaling, ...): with any of them set, the model's own forward is used.
LOGIT_FIELDS = ("final_logit_softcapping", "logit_scale", "logits_scaling",
                "output_logits_scale", "lm_head_multiplier", "logit_softcapping")


@torch.no_grad()
def plain_head(model: PreTrainedModel) -> bool:
    """Whether the model's logits are exactly its LM head applied to its decoder's output:
    no known post-processing field set, and a probe forward gives the same bits both ways."""
    head, decoder = model.get_output_embeddings(), model.get_decoder()
    if head is None or decoder is None:
        return False
    if any(getattr(model.config, f, None) not in (None, 1, 1.0) for f in LOGIT_FIELDS):
        return False
    probe = torch.arange(1, 9, device=model.device)[None] % model.config.vocab_size
    full = model(input_ids=probe, use_cache=False).logits
    return torch.equal(full, head(decoder(input_ids=probe, use_cache=False).last_hidden_state))


@dataclass
class ScoreStats:
    n_scored: int = 0
    n_failed: int = 0
    n_truncated: int = 0
    tokens: int = 0
    seconds: float = 0.0
    n_resumed: int = 0  # rows taken from a killed run's log instead of scored again


def plan(tok: PreTrainedTokenizerBase, pairs: Sequence[tuple[str, str]], max_len: int,
         variant: str) -> tuple[list[Score], list[list[int]], list[list[int]], list[int]]:
    """Scores to fill (failures already marked), and the sequences to run: each scored
    pair contributes its conditioned then its unconditioned sequence (`owner` maps back)."""
    results = [Score() for _ in pairs]
    seqs, labels, owner = [], [], []
    for i, (prompt, answer) in enumerate(pairs):
        p = VARIANTS[variant].segments(tok, prompt, answer, max_len)
        results[i].truncated, results[i].error = p.truncated, p.error
        if p.error is None:
            for ids, lab in (p.cond, p.uncond):
                seqs.append(ids)
                labels.append(lab)
                owner.append(i)
    return results, seqs, labels, owner


def score(model: PreTrainedModel, tok: PreTrainedTokenizerBase,
          pairs: Sequence[tuple[str, str]], max_len: int, batch_tokens: int,
          progress: bool = True, pack: bool = False, variant: str = "codesift"
          ) -> tuple[list[Score], ScoreStats]:
    """Score (prompt, answer) pairs; failures carry an `error` and null scores, never 0.

    `pack` puts several sequences in a row (position ids restarting, so the model builds a
    block-diagonal mask). Without it each sequence has its own right-padded row and no
    position ids or mask, so attention takes SDPA's plain causal path (causality alone
    keeps the trailing padding unseen): on CPU that is faster, because a masked row costs
    its width squared and the length-sorted batches hold little padding anyway.
    """
    start = time.perf_counter()
    results, seqs, labels, owner = plan(tok, pairs, max_len, variant)
    bar = tqdm(total=len(pairs), desc="ifd", unit="sample", disable=not progress)
    sums, counts, tokens = forward_all(model, tok, seqs, labels, max_len, batch_tokens, pack,
                                       lambda n: bar.update(n / 2))  # two sequences a pair
    bar.close()
    _finish(results, owner, sums, counts)
    stats = ScoreStats(tokens=tokens, seconds=time.perf_counter() - start)
    stats.n_failed = sum(r.error is not None for r in results)
    stats.n_scored = len(results) - stats.n_failed
    stats.n_truncated = sum(r.truncated for r in results if r.error is None)
    return results, stats


def forward_all(model: PreTrainedModel, tok: PreTrainedTokenizerBase,
                seqs: Sequence[list[int]], labels: Sequence[list[int]], max_len: int,
                batch_tokens: int, pack: bool = False,
                on_batch: Callable[[int], object] = lambda n: None
                ) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Per-sequence NLL sums and scored-token counts, in length-sorted batches, and the
    tokens run; `on_batch(n)` after each batch of n sequences (progress)."""
    plain = plain_head(model)
    sums = torch.zeros(len(seqs), dtype=torch.float64)
    counts = torch.zeros(len(seqs), dtype=torch.long)
    tokens = 0
    for batch in batches([len(s) for s in seqs], max_len, batch_tokens, pack):
        rows = pack_rows(seqs, labels, batch, pad_id=_pad_id(tok))
        if not pack:
            del rows["position_ids"]  # default 0..width-1: no packing for the model to detect
        members = [i for b in batch for i in b]
        ids, s, c = segment_nll(model, rows, plain)
        sums[ids], counts[ids] = s, c
        tokens += sum(len(seqs[i]) for i in members)
        on_batch(len(members))
    return sums, counts, tokens


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


# The held-out losses' settings (generate's heldout_nll and valid_loss): whole canonical
# solutions and records (2,048 tokens is past every HumanEval solution), 16K tokens a batch.
LOSS_MAX_LEN, LOSS_BATCH_TOKENS = 2048, 16384


def mean_nll(model: PreTrainedModel, tok: PreTrainedTokenizerBase,
             pairs: Sequence[tuple[str, str]], max_len: int, batch_tokens: int,
             pack: bool = False) -> float:
    """Mean over pairs of the answer's mean NLL given its prompt (held-out loss)."""
    results, _ = score(model, tok, pairs, max_len, batch_tokens, progress=False, pack=pack)
    vals = [r.ce_cond for r in results if r.ce_cond is not None]
    return sum(vals) / len(vals) if vals else float("nan")


def mean_text_nll(model: PreTrainedModel, tok: PreTrainedTokenizerBase, texts: Sequence[str],
                  max_len: int, batch_tokens: int) -> float:
    """Mean over documents of their mean next-token NLL (raw-code records have no prompt):
    each document after BOS when the tokenizer has one, cut at `max_len`."""
    bos = [] if tok.bos_token_id is None else [tok.bos_token_id]
    seqs = [(bos + ids)[:max_len] for ids in tok(list(texts), add_special_tokens=False)
            ["input_ids"]]
    seqs = [s for s in seqs if len(s) > 1]  # pack_rows never scores a sequence's first token
    sums, counts, _ = forward_all(model, tok, seqs, [list(s) for s in seqs], max_len,
                                  batch_tokens)
    means = [float(s / c) for s, c in zip(sums, counts, strict=True) if c > 0]
    return sum(means) / len(means) if means else float("nan")


@torch.no_grad()
def reference_ifd(model: PreTrainedModel, tok: PreTrainedTokenizerBase, prompt: str, answer: str,
                  max_len: int) -> float | None:
    """IFD by the published loop (CodeACT's calculate_ifd.py): one sample at a time, two
    forward passes with `model(ids, labels=...)`, but on this engine's token ids (`encode`;
    BOS before the unconditioned answer), so only the loop differs. The baseline `score` is
    checked and timed against (bench/bench_ifd.py, scripts/gpu_check.py); None where
    `encode` reports an error. Needs a tokenizer with a BOS token."""
    enc = encode(tok, prompt, answer, max_len)
    if enc.error:
        return None
    ids = torch.tensor([enc.input_ids], device=model.device)
    labels = ids.clone()
    labels[0, :enc.n_prompt] = -100
    ce_cond = model(input_ids=ids, labels=labels).loss.item()
    answer_ids = torch.tensor([[tok.bos_token_id, *enc.answer_ids]], device=model.device)
    labels = answer_ids.clone()
    labels[0, 0] = -100
    ce_uncond = model(input_ids=answer_ids, labels=labels).loss.item()
    return math.exp(ce_cond - ce_uncond)


def validation_loss(model: PreTrainedModel, tok: PreTrainedTokenizerBase, template: Template,
                    records: Sequence[dict], max_len: int, batch_tokens: int) -> float | None:
    """The held-out loss of prepared records (None for none): an instruction record's answer
    given its prompt, as trained; a raw-code record (no instruction: FIM) its plain
    next-token loss. prepare writes one kind per run."""
    if not records:
        return None
    if "instruction" not in records[0]:
        return mean_text_nll(model, tok, [r["text"] for r in records], max_len, batch_tokens)
    pairs = [template.pair(tok, r["instruction"], r["response"]) for r in records]
    return mean_nll(model, tok, pairs, max_len, batch_tokens)


def score_resumable(model: PreTrainedModel, tok: PreTrainedTokenizerBase, ids: Sequence[str],
                    pairs: Sequence[tuple[str, str]], max_len: int, batch_tokens: int,
                    log: ChunkLog, chunk_size: int = 512, pack: bool = False,
                    variant: str = "codesift", desc: str = "ifd"
                    ) -> tuple[list[dict], ScoreStats]:
    """Score in chunks, appending each finished chunk to `log`; rows already in the log
    (from a killed run with the same fingerprint) are not scored again."""
    done = {row["id"]: row for row in log.rows}
    todo = [i for i, rid in enumerate(ids) if rid not in done]
    total = ScoreStats(n_resumed=len(ids) - len(todo))
    bar = tqdm(total=len(ids), initial=len(ids) - len(todo), desc=desc, unit="sample")
    for start in range(0, len(todo), chunk_size):
        chunk = todo[start:start + chunk_size]
        results, stats = score(model, tok, [pairs[i] for i in chunk], max_len, batch_tokens,
                               progress=False, pack=pack, variant=variant)
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
