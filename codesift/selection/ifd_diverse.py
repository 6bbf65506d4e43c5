"""ifd_diverse: DEITA's score-first diversity walk with IFD as the score (not DEITA itself:
`deita` is the published method, with its scorer LMs and efficode's batch filter).

Walk the samples by descending IFD and keep one only if its cosine similarity to every kept
sample is <= `select.ifd_diverse.threshold`, until `n_select` are kept. The score is IFD among
the valid samples, exactly the pool `ifd_filtered` uses: finite IFD below `ifd_max`. Samples
whose IFD is NaN (scoring failed) or >= ifd_max are **excluded**, not put last: a failed or
above-threshold score says nothing good about a sample, and `ifd_filtered`/`cdas` drop them
too. So fewer than `n_select` come back when the valid pool runs out of distinct-enough
samples.

Speed: candidates are taken in blocks of the walk order. One product checks a whole block
against every kept sample; the survivors are then resolved among themselves sequentially in
walk order with their block x block similarity matrix. The result is identical to the
one-at-a-time walk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np

from codesift.config import Range
from codesift.selection import Pool, register, valid_ifd

BLOCK = 2048


def _resolve_block(sims: np.ndarray, threshold: float, room: int) -> list[int]:
    """Walk one block in order, keeping i unless a kept block member is too similar."""
    blocked = np.zeros(len(sims), dtype=bool)
    keep: list[int] = []
    for i in range(len(sims)):
        if blocked[i]:
            continue
        keep.append(i)
        if len(keep) == room:
            break
        blocked |= sims[i] > threshold
    return keep


def diversity_filter(x: np.ndarray, order: np.ndarray, n: int, threshold: float,
                     block: int = BLOCK) -> np.ndarray:
    """Indices from `order` kept by the walk, in walk order; at most n."""
    kept = np.empty((min(n, len(order)), x.shape[1]), dtype=np.float32)
    out: list[np.ndarray] = []
    n_kept = 0
    for lo in range(0, len(order), block):
        if n_kept == n:
            break
        idx = order[lo:lo + block]
        xb = x[idx]
        if n_kept:
            ok = (xb @ kept[:n_kept].T).max(axis=1) <= threshold
            idx, xb = idx[ok], xb[ok]
        keep = _resolve_block(xb @ xb.T, threshold, n - n_kept)
        kept[n_kept:n_kept + len(keep)] = xb[keep]
        n_kept += len(keep)
        out.append(idx[keep])
    return np.concatenate(out) if out else np.empty(0, dtype=np.int64)


@dataclass
class IfdDiverseOptions:
    threshold: Annotated[float, Range(-1, 1)] = 0.9  # max cosine similarity to a kept sample


@register("ifd_diverse", needs=("embeddings", "ifd"), options=IfdDiverseOptions)
def ifd_diverse(pool: Pool, n: int, cfg) -> np.ndarray:
    """Highest-IFD samples that are not near-duplicates (cosine > threshold) of a better one."""
    valid = np.flatnonzero(valid_ifd(pool, cfg.ifd_max))
    order = valid[np.lexsort((valid, -pool.ifd[valid]))]  # IFD descending, ties by index
    x = np.asarray(pool.embeddings, dtype=np.float32)
    return diversity_filter(x, order, n, cfg.options("ifd_diverse", IfdDiverseOptions).threshold)
