"""superfilter: Superfiltering.D (Li et al. 2024), as tianyi-lab/Superfiltering's
`code_diversity_fla/do_fla.py` runs it.

IFD comes from a small scorer model (the paper: GPT-2 for a 7B target; here the `ifd` stage's
model). The script keeps samples with IFD < `ifd_lupper` (1.0, here `select.ifd_max`), takes
the top `ifd_num` of them by IFD (10,400 of Alpaca's 52,002: `select.superfilter.ifd_share`
of the pool, 0.2), then picks `fla_num` (here `n`) of those by facility location on their
sentence embeddings: submodlib's `FacilityLocationFunction(mode="dense", metric="euclidean")`
maximised by its `LazyGreedy` optimiser with both stop conditions off.

submodlib's euclidean kernel is K(i, j) = exp(-||x_i - x_j|| / d) (d = the embedding width,
the distance not squared, K(i, i) = 1), and f(S) = sum_i max_{j in S} K(i, j). The lazy
greedy keeps a max-heap of (upper bound on the gain, index): pop the top, recompute its gain,
take it if the gain is >= the next bound, else push it back. Ties in the heap go to the
*higher* index (C++ `std::pair` order), which we keep, so the picks are submodlib's.

The candidates are in the script's order, IFD descending (ties by pool order: Python's stable
sort), which decides the heap's ties. submodlib is not a dependency: it builds a C++ extension
and holds the m x m kernel (0.4 GB at the script's 10,400 candidates, 0.9 GB at 15,000); we
keep the kernel too (float32, built in float64 blocks) up to 16,384 candidates and compute
columns on demand beyond, so rounding can differ from submodlib's and break near-ties
differently.
"""

from __future__ import annotations

import logging

import numpy as np

from codesift.selection import Pool, register, top_k, valid_ifd

log = logging.getLogger(__name__)

BLOCK = 1024  # kernel columns computed at once: m x BLOCK doubles
CACHE_FLOATS = 1 << 28  # the kernel is kept whole up to 1 GiB of float32 (m <= 16,384)


class FacilityLocation:
    """f(S) = sum_i max_{j in S} K(i, j) with submodlib's euclidean kernel, columns on demand."""

    def __init__(self, x: np.ndarray, cache_floats: int = CACHE_FLOATS) -> None:
        self.x = np.asarray(x, dtype=np.float64)
        self.sq = np.einsum("ij,ij->i", self.x, self.x)
        self.gamma = 1.0 / self.x.shape[1]
        self.best = np.zeros(len(self.x))  # max similarity of each point to the chosen set
        self.kernel = None  # the whole kernel, float32 as submodlib's, when it fits
        if len(self.x) ** 2 <= cache_floats:
            m = len(self.x)
            self.kernel = np.empty((m, m), dtype=np.float32)
            for lo in range(0, m, BLOCK):
                self.kernel[:, lo:lo + BLOCK] = self._compute(np.arange(lo, min(lo + BLOCK, m)))

    def _compute(self, cols: np.ndarray) -> np.ndarray:
        d2 = self.sq[:, None] + self.sq[cols][None, :] - 2 * (self.x @ self.x[cols].T)
        k = np.exp(-np.sqrt(np.maximum(d2, 0)) * self.gamma)
        k[cols, np.arange(len(cols))] = 1.0  # submodlib sets the diagonal to exactly 1
        return k

    def columns(self, cols: np.ndarray) -> np.ndarray:
        """K[:, cols] (m x len(cols)), from the cached kernel when there is one."""
        return self._compute(cols) if self.kernel is None else self.kernel[:, cols]

    def gains(self, cols: np.ndarray) -> np.ndarray:
        """Marginal gains of adding each of `cols` to the chosen set."""
        out = np.empty(len(cols))
        for lo in range(0, len(cols), BLOCK):
            k = self.columns(cols[lo:lo + BLOCK])
            out[lo:lo + BLOCK] = np.maximum(k - self.best[:, None], 0).sum(axis=0)
        return out

    def add(self, j: int) -> None:
        np.maximum(self.best, self.columns(np.array([j]))[:, 0], out=self.best)

    def value(self, chosen: np.ndarray) -> float:
        """f(chosen), for tests and reports."""
        return float(self.columns(np.asarray(chosen)).max(axis=1).sum()) if len(chosen) else 0.0


def lazy_greedy(x: np.ndarray, budget: int, batch: int = 256,
                cache_floats: int = CACHE_FLOATS) -> np.ndarray:
    """The picks of submodlib's LazyGreedy on the facility location of the rows of x, in order.

    Gains only shrink as the set grows (submodularity), so a stale gain bounds the fresh one.
    Each step refreshes the `batch` candidates with the highest bounds at once (one m x batch
    block instead of one column per heap pop: on a flat kernel the one-at-a-time
    heap re-evaluates almost every candidate); the best fresh gain is the greedy pick once it
    is >= every stale bound left, as submodlib's `newMaxBound >= maxHeap.top().first`. Ties go
    to the higher index, as its heap of (gain, index) pairs orders them."""
    fl = FacilityLocation(x, cache_floats)
    m = len(x)
    bound = fl.gains(np.arange(m))  # the empty set's gains: exact
    fresh, taken = np.ones(m, dtype=bool), np.zeros(m, dtype=bool)
    picked: list[int] = []
    while len(picked) < min(budget, m):
        while True:
            stale = np.flatnonzero(~fresh & ~taken)
            top = stale[np.argsort(-bound[stale], kind="stable")[:batch]]
            done = np.flatnonzero(fresh & ~taken)
            if len(done):
                best = int(done[np.lexsort((-done, -bound[done]))[0]])  # max gain, then index
                if len(top) == 0 or bound[best] >= bound[top[0]]:
                    break
            bound[top] = fl.gains(top)
            fresh[top] = True
        fl.add(best)
        picked.append(best)
        taken[best] = True
        fresh[:] = False
    return np.asarray(picked, dtype=np.int64)


@register("superfilter", needs=("embeddings", "ifd"))
def superfilter(pool: Pool, n: int, cfg) -> np.ndarray:
    """Top `ifd_share` of the pool by IFD (among IFD < ifd_max), then facility location."""
    valid = np.flatnonzero(valid_ifd(pool, cfg.ifd_max))
    m = round(cfg.superfilter.ifd_share * len(pool))
    if n >= m:
        log.warning("superfilter: %d to select but ifd_share keeps %d candidates; taking %d, so "
                    "the facility-location step keeps them all (the top by IFD)", n, m, n)
    m = max(m, n)
    cand = top_k(valid, pool.ifd, m)  # IFD descending, as the script's list
    x = np.ascontiguousarray(pool.embeddings[cand], dtype=np.float32)
    return cand[lazy_greedy(x, n)]
