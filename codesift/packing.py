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

from collections.abc import Sequence

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
