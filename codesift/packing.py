"""Sequence packing with per-sequence position ids, shared by IFD scoring and training.

A packed row holds several sequences back to back; `position_ids` restart at 0
for each, and the model is called with no attention mask and `use_cache=False`.
transformers then detects the boundaries from the position ids
(`masking_utils.find_packed_sequence_indices`) and builds a block-diagonal causal
mask, so packed sequences never attend to each other. HF's
`DataCollatorWithFlattening` makes a single flattened row, which on CPU SDPA costs
attention quadratic in the whole batch; we keep rows separate, hence this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


def first_fit_decreasing(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Bins of indices whose lengths sum to at most `capacity`, longest first.

    Deterministic: ties keep input order. Each bin lists its indices by
    decreasing length. A length above capacity is an error, not a silent cut.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    bins: list[list[int]] = []
    free: list[int] = []
    for i in order:
        if lengths[i] > capacity:
            raise ValueError(f"sequence {i} has {lengths[i]} tokens, more than capacity {capacity}")
        for b, room in enumerate(free):
            if lengths[i] <= room:
                bins[b].append(i)
                free[b] -= lengths[i]
                break
        else:
            bins.append([i])
            free.append(capacity - lengths[i])
    return bins


def best_fit_decreasing(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Bins for a whole dataset: each sequence, longest first, goes to the fullest bin it
    fits. O(n log n) with a sorted list of free space; deterministic."""
    import bisect

    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    bins: list[list[int]] = []
    free: list[tuple[int, int]] = []  # sorted (room left, bin index)
    for i in order:
        if lengths[i] > capacity:
            raise ValueError(f"sequence {i} has {lengths[i]} tokens, more than capacity {capacity}")
        at = bisect.bisect_left(free, (lengths[i], -1))
        if at < len(free):
            room, b = free.pop(at)
        else:
            room, b = capacity, len(bins)
            bins.append([])
        bins[b].append(i)
        bisect.insort(free, (room - lengths[i], b))
    return bins


def pack_rows(seqs: Sequence[Sequence[int]], labels: Sequence[Sequence[int]],
              bins: Sequence[Sequence[int]], pad_id: int,
              row_len: int | None = None) -> dict[str, torch.Tensor]:
    """Lay out `bins` of sequences as rows: input_ids, labels, position_ids, segment_ids.

    The first label of every sequence is forced to -100, so no token is predicted
    across a boundary. Row padding is its own segment (-1) with restarting
    positions and label -100; causality keeps real tokens from seeing it.
    """
    width = row_len or max(sum(len(seqs[i]) for i in b) for b in bins)
    shape = (len(bins), width)
    ids = torch.full(shape, pad_id, dtype=torch.long)
    lab = torch.full(shape, -100, dtype=torch.long)
    pos = torch.zeros(shape, dtype=torch.long)
    seg = torch.full(shape, -1, dtype=torch.long)
    for r, b in enumerate(bins):
        at = 0
        for i in b:
            n = len(seqs[i])
            ids[r, at:at + n] = torch.tensor(seqs[i])
            lab[r, at:at + n] = torch.tensor(labels[i])
            lab[r, at] = -100
            pos[r, at:at + n] = torch.arange(n)
            seg[r, at:at + n] = i
            at += n
        pos[r, at:] = torch.arange(width - at)
    return {"input_ids": ids, "labels": lab, "position_ids": pos, "segment_ids": seg}


def pad_rows(seqs: Sequence[Sequence[int]], labels: Sequence[Sequence[int]], pad_id: int,
             row_len: int | None = None) -> dict[str, torch.Tensor]:
    """One sequence per row, right-padded, with an attention mask (the unpacked layout)."""
    width = row_len or max(len(s) for s in seqs)
    out = pack_rows(seqs, labels, [[i] for i in range(len(seqs))], pad_id, width)
    out["attention_mask"] = (out["segment_ids"] >= 0).long()
    del out["position_ids"]
    return out


# --- pad modes: how training lays out a batch ----------------------------------------------
# A layout takes the batch's sequences and labels, the pad id, max_seq_len and `groups` (the
# indices of each dataset item: one sequence each, or a whole pre-packed bin) and returns
# input_ids, labels, segment_ids (-1 = padding) and, for packed layouts, position_ids.

Layout = Callable[[list, list, int, int, list[list[int]]], dict[str, torch.Tensor]]


def pad_to_max(seqs, labels, pad_id: int, max_len: int, groups) -> dict[str, torch.Tensor]:
    """`pad`: every sample padded to max_seq_len (the published default)."""
    return pad_rows(seqs, labels, pad_id, max_len)


def pad_to_longest(seqs, labels, pad_id: int, max_len: int, groups) -> dict[str, torch.Tensor]:
    """`dynamic_pad`: every sample padded to the batch's longest."""
    return pad_rows(seqs, labels, pad_id)


def pack_batch(seqs, labels, pad_id: int, max_len: int, groups) -> dict[str, torch.Tensor]:
    """`dynamic_pack`: the batch's samples packed (first-fit decreasing) into rows as wide as
    its longest sample, never wider than max_seq_len: on SDPA a masked row costs its width
    squared, so wider rows undo the saving (bench/bench_pack.py)."""
    lengths = [len(s) for s in seqs]
    return pack_rows(seqs, labels, first_fit_decreasing(lengths, max(lengths)), pad_id)


def pack_groups(seqs, labels, pad_id: int, max_len: int, groups) -> dict[str, torch.Tensor]:
    """`bfd`: each dataset item is a bin packed once over the whole dataset; one row each."""
    return pack_rows(seqs, labels, groups, pad_id)


@dataclass(frozen=True)
class PadMode:
    layout: Layout
    packed: bool  # rows hold several samples (flash-attn reads them as one flattened row)
    bins: Callable[[Sequence[int], int], list[list[int]]] | None = None  # dataset -> items


# The pad-mode choices (`train.pad_mode`) are this table's keys: a new mode is one entry.
PAD_MODES: dict[str, PadMode] = {
    "pad": PadMode(pad_to_max, packed=False),
    "dynamic_pad": PadMode(pad_to_longest, packed=False),
    "dynamic_pack": PadMode(pack_batch, packed=True),
    "bfd": PadMode(pack_groups, packed=True, bins=best_fit_decreasing),  # changes step count
}
