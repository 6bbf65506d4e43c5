"""superfilter: Superfiltering.D (Li et al. 2024), as tianyi-lab/Superfiltering's
`code_diversity_fla/do_fla.py` runs it.

IFD comes from a small scorer model (the paper: GPT-2 for a 7B target; here the `ifd` stage's
model). The script keeps samples with IFD < `ifd_lupper` (1.0, here `select.ifd_max`), takes
the top `ifd_num` of them by IFD (10,400 of Alpaca's 52,002: `select.superfilter.ifd_share`
of the pool, 0.2), then picks `fla_num` (here `n`) of those by facility location on their
sentence embeddings: submodlib's `FacilityLocationFunction(mode="dense", metric="euclidean")`
maximised by its `LazyGreedy` optimiser with both stop conditions off.

submodlib's euclidean kernel is K(i, j) = exp(-||x_i - x_j|| / d) (d = the embedding width,
the distance not squared, K(i, i) = 1), and f(S) = sum_i max_{j in S} K(i, j). Its lazy
greedy keeps a max-heap of (upper bound on the gain, index): pop the top, recompute its gain,
take it if the gain is >= the next bound, else push it back; so it takes the largest exact
gain each step, ties going to the *higher* index (C++ `std::pair` order). `greedy` takes the
same picks with every gain kept exact incrementally.

The candidates are in the script's order, IFD descending (ties by pool order: Python's stable
sort), which decides the heap's ties. submodlib is not a dependency: it builds a C++ extension
and holds the m x m kernel (0.4 GB at the script's 10,400 candidates, 0.9 GB at 15,000); we
keep the kernel too (float32, built in float64 blocks) up to 16,384 candidates and compute
columns on demand beyond, so rounding can differ from submodlib's and break near-ties
differently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

import numpy as np

from codesift.config import UNIT
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

    def rows(self, idx: np.ndarray) -> np.ndarray:
        """K[idx, :] (K is symmetric)."""
        return self._compute(idx).T if self.kernel is None else self.kernel[idx, :]

    def gains(self, cols: np.ndarray) -> np.ndarray:
        """Marginal gains of adding each of `cols` to the chosen set."""
        out = np.empty(len(cols))
        for lo in range(0, len(cols), BLOCK):
            k = self.columns(cols[lo:lo + BLOCK])
            out[lo:lo + BLOCK] = np.maximum(k - self.best[:, None], 0).sum(axis=0)
        return out

    def add(self, j: int, gain: np.ndarray) -> None:
        """Put j in the set, updating every candidate's `gain` in place: only the points j
        now serves best (R) change their term, so the update costs |R| x m, and R is about
        j's share of the points, small once a few are chosen (instead of m x m a step)."""
        col = self.columns(np.array([j]))[:, 0]
        moved = np.flatnonzero(col > self.best)
        for lo in range(0, len(moved), BLOCK):
            r = moved[lo:lo + BLOCK]
            k = self.rows(r)
            gain += (np.maximum(k - col[r, None], 0) - np.maximum(k - self.best[r, None], 0)
                     ).sum(axis=0)
        self.best[moved] = col[moved]

    def value(self, chosen: np.ndarray) -> float:
        """f(chosen), for tests and reports."""
        return float(self.columns(np.asarray(chosen)).max(axis=1).sum()) if len(chosen) else 0.0


def greedy(x: np.ndarray, budget: int, cache_floats: int = CACHE_FLOATS) -> np.ndarray:
    """The picks of submodlib's LazyGreedy on the facility location of the rows of x, in order.

    Lazy greedy picks the candidate of largest exact gain each step (its stale heap bounds
    only skip evaluations), so we keep every exact gain up to date instead (`add`): on this
    flat kernel nearly every bound goes stale each step, which made a lazy loop re-evaluate
    almost all candidates. Ties go to the higher index, as submodlib's heap of (gain, index)
    pairs orders them."""
    fl = FacilityLocation(x, cache_floats)
    m = len(x)
    gain = fl.gains(np.arange(m))  # the empty set's gains
    picked: list[int] = []
    for _ in range(min(budget, m)):
        # The running gains carry rounding, so the leaders are re-summed fresh, as submodlib
        # sums them, for ties (duplicates: identical sums) to break as its heap does.
        near = np.flatnonzero(gain >= gain.max() - 1e-9 * m)
        gain[near] = fl.gains(near)
        top = near[gain[near] == gain[near].max()]
        j = int(top.max())  # of equal gains the higher index
        fl.add(j, gain)
        gain[j] = -np.inf
        picked.append(j)
    return np.asarray(picked, dtype=np.int64)


@dataclass
class SuperfilterOptions:
    """Superfiltering.D (tianyi-lab/Superfiltering, do_fla.py): IFD filter, then facility
    location."""

    ifd_share: Annotated[float, UNIT] = 0.2  # top share of the pool by IFD kept for the
    #                                          facility-location step (the script: 10,400/52,002)


@register("superfilter", needs=("embeddings", "ifd"), options=SuperfilterOptions)
def superfilter(pool: Pool, n: int, cfg) -> np.ndarray:
    """Top `ifd_share` of the pool by IFD (among IFD < ifd_max), then facility location."""
    valid = np.flatnonzero(valid_ifd(pool, cfg.ifd_max))
    m = round(cfg.options("superfilter", SuperfilterOptions).ifd_share * len(pool))
    if n >= m:
        log.warning("superfilter: %d to select but ifd_share keeps %d candidates; taking %d, so "
                    "the facility-location step keeps them all (the top by IFD)", n, m, n)
    m = max(m, n)
    cand = top_k(valid, pool.ifd, m)  # IFD descending, as the script's list
    x = np.ascontiguousarray(pool.embeddings[cand], dtype=np.float32)
    return cand[greedy(x, n)]
