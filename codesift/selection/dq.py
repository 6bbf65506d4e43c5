"""dq: Dataset Quantization (Zhou et al. 2023), without the N x N kernel.

Published procedure (magic-research/Dataset_Quantization, `alpaca_sample.py` with DeepCore's
`GraphCut` and `NaiveGreedy`): split the data into k bins one after another; each bin is
chosen greedily from the pool U of samples not yet binned (U is fixed while that bin is
built); then sample uniformly from every bin.

Gain of candidate j, given the bin's members S chosen so far (K = cosine kernel, alpha =
GraphCut's `lam`, default 1)::

    gain(j) = alpha * sum_{i in U} K(i, j) - 2 * sum_{s in S} K(s, j)

Since K(i, j) = x_i . x_j, both sums are dot products with running sums::

    gain(j) = x_j . (alpha * u - 2 * sigma),  u = sum_{i in U} x_i,  sigma = sum_{s in S} x_s

so the N x N kernel is never built. Greedy keeps the gain vector g = X_U . w exact: picking
s changes w by -2 x_s, i.e. every gain by -2 K(:, s) = -2 X_U x_s. That is one
matrix-vector product per pick (~35 ms at 100K x 768, memory-bound), so instead we cache
the kernel rows of the current best candidates, filled `GROW` at a time by one matrix
product (compute-bound, many times cheaper per row); a pick outside the cache triggers the
next fill around the current best gains, which includes it. Picks come from the exact
argmax over the whole pool (ties to the lowest index, like NaiveGreedy's `argmax`); the
cache only decides how a kernel row is computed, so results equal the dense-kernel loop up
to float rounding. Peak extra memory: `BLOCK` x N floats.

Deviations from the published script, all documented: bin sizes are N // k plus one for the
first N % k bins, so the bins partition the data (the script drops the last N % k samples);
the last bin is simply what remains (greedy over the whole remainder picks all of it); and
the per-bin quotas are n // k plus one for the first n % k bins, so exactly n come back (the
script returns k * (n // k)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np

from codesift.config import AT_LEAST_1, NON_NEGATIVE
from codesift.selection import Pool, register

BLOCK = 2048  # kernel rows cached: 2048 x N floats (800 MB at N = 100,000)
GROW = 256


def graphcut_gains(x: np.ndarray, pool: np.ndarray, chosen: np.ndarray,
                   alpha: float) -> np.ndarray:
    """Gains of every pool member via the running-sum reduction (for tests and clarity)."""
    w = alpha * x[pool].sum(axis=0, dtype=np.float64) - 2 * x[chosen].sum(axis=0, dtype=np.float64)
    return x[pool].astype(np.float64) @ w


class _KernelRows:
    """Cached kernel rows K[c, :] = x_c . x for promising candidates c, at most `cap` rows
    (cap x N floats). Filling `grow` rows at once is one matrix product, far cheaper per row
    than a matrix-vector product; when full, the cache starts over."""

    def __init__(self, x: np.ndarray, cap: int, grow: int) -> None:
        self.x, self.grow = x, grow
        self.rows = np.empty((min(cap, len(x)), len(x)), dtype=np.float32)
        self.pos = np.full(len(x), -1)
        self.used = 0

    def fill(self, gain: np.ndarray, size: int) -> None:
        """Cache the `size` best untaken, uncached candidates by current gain."""
        free = np.flatnonzero(np.isfinite(gain) & (self.pos < 0))
        size = min(size, len(free), len(self.rows))
        if self.used + size > len(self.rows):
            self.pos[:] = -1
            self.used = 0
        new = free[np.argpartition(-gain[free], size - 1)[:size]] if size < len(free) else free
        self.rows[self.used:self.used + len(new)] = self.x[new] @ self.x.T
        self.pos[new] = np.arange(self.used, self.used + len(new))
        self.used += len(new)

    def get(self, s: int, gain: np.ndarray) -> np.ndarray:
        if self.pos[s] < 0:
            self.fill(gain, self.grow)  # s is the best untaken, so it is among them
        return self.rows[self.pos[s]]


def graphcut_bin(x: np.ndarray, size: int, alpha: float, block: int = BLOCK,
                 grow: int = GROW) -> np.ndarray:
    """Greedy graph-cut selection of `size` rows of x (the current pool), in pick order.

    The gain vector is kept exact: a pick s changes every gain by -2 K[:, s], read from a
    cache of kernel rows filled around the current best gains (see `_KernelRows`)."""
    gain = (x @ (alpha * x.sum(axis=0, dtype=np.float64)).astype(np.float32)).astype(np.float64)
    cache = _KernelRows(x, block, grow)
    cache.fill(gain, block // 2)
    order: list[int] = []
    while len(order) < size:
        s = int(np.argmax(gain))  # taken samples sit at -inf; ties go to the lowest index
        gain -= 2 * cache.get(s, gain)
        gain[s] = -np.inf
        order.append(s)
    return np.asarray(order, dtype=np.int64)


def _split(total: int, k: int) -> np.ndarray:
    """k near-equal parts of total: total // k, plus one for the first total % k."""
    return total // k + (np.arange(k) < total % k)


def dq_bins(x: np.ndarray, k: int, alpha: float) -> list[np.ndarray]:
    """Partition the rows of x into k bins, each a greedy graph-cut pick of what remains."""
    remaining = np.arange(len(x))
    bins = []
    for size in _split(len(x), k)[:-1]:
        local = graphcut_bin(np.ascontiguousarray(x[remaining]), int(size), alpha)
        bins.append(remaining[local])
        remaining = np.delete(remaining, local)
    bins.append(remaining)
    return bins


def dq_sample(bins: list[np.ndarray], n: int, seed: int) -> np.ndarray:
    """Uniform seeded sample from each bin, quotas n // k (+1 for the first n % k bins)."""
    rng = np.random.default_rng(seed)
    quotas = _split(n, len(bins))
    return np.concatenate([rng.choice(b, size=min(int(q), len(b)), replace=False)
                           for b, q in zip(bins, quotas, strict=True)])


@dataclass
class DqOptions:
    bins: Annotated[int, AT_LEAST_1] = 10  # graph-cut bins, sampled uniformly
    alpha: Annotated[float, NON_NEGATIVE] = 1.0  # weight of the pool term in the gain


@register("dq", needs=("embeddings",), options=DqOptions)
def dq(pool: Pool, n: int, cfg) -> np.ndarray:
    """Dataset Quantization: k graph-cut bins covering the data, then uniform per-bin draws."""
    x = np.ascontiguousarray(pool.embeddings, dtype=np.float32)
    o = cfg.options("dq", DqOptions)
    k = max(1, min(o.bins, len(x)))
    return dq_sample(dq_bins(x, k, o.alpha), n, cfg.seed)
