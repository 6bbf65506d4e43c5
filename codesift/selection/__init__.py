"""Data selection: one module per method, a registry, and the selection report.

Every method takes the same `Pool` and returns sorted indices into it; it is
deterministic given `seed`, so the same params give a byte-identical subset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from codesift import CodesiftError


@dataclass
class Pool:
    """What a selector may look at; `ifd`/`ppl` are NaN where scoring failed."""

    embeddings: np.ndarray | None
    ifd: np.ndarray
    ppl: np.ndarray

    def __len__(self) -> int:
        return len(self.ifd)


@dataclass
class Request:
    n_select: int
    seed: int = 0
    n_clusters: int = 10
    n_init: int = 10
    ifd_max: float = 1.0
    ratio_of: str = "kept"
    deita_threshold: float = 0.9  # deita: max cosine similarity to any kept sample
    dq_bins: int = 10  # dq: number of bins k
    dq_alpha: float = 1.0  # dq: weight of the pool term in the graph-cut gain (lam)
    activeft_iters: int = 300
    activeft_lr: float = 1e-3
    activeft_temperature: float = 0.07
    activeft_balance: float = 1.0  # activeft: lambda on the diversity term
    activeft_refresh: int = 20  # activeft: refresh the nearest-parameter lists every R iters
    activeft_candidates: int = 8  # activeft: nearest parameters tracked per sample
    activeft_neighbours: int = 32  # activeft: nearest parameters tracked per parameter


Selector = Callable[[Pool, Request], np.ndarray]
REGISTRY: dict[str, Selector] = {}


def register(name: str) -> Callable[[Selector], Selector]:
    def wrap(fn: Selector) -> Selector:
        REGISTRY[name] = fn
        return fn
    return wrap


def select(method: str, pool: Pool, req: Request) -> np.ndarray:
    """Sorted, unique indices of the chosen samples."""
    _load_methods()

    if method not in REGISTRY:
        raise CodesiftError(f"select.method: unknown method {method!r}; "
                            f"known: {', '.join(sorted(REGISTRY))}")
    if method in NEEDS_EMBEDDINGS and pool.embeddings is None:
        raise CodesiftError(f"select.method {method} needs embeddings")
    picked = np.unique(np.asarray(REGISTRY[method](pool, req), dtype=np.int64))
    return picked


NEEDS_EMBEDDINGS = {"cdas", "kcenter", "deita", "dq", "activeft"}


def _load_methods() -> None:
    """Import every method module so its @register runs; lazy to keep imports light."""
    from codesift.selection import (  # noqa: F401
        activeft,
        deita,
        dq,
        ifd_all,
        kcenter,
        methods,
    )


def n_to_select(n_total: int, ratio: float, sample_num: int) -> int:
    if sample_num > 0:
        return min(sample_num, n_total)
    if not 0 < ratio <= 1:
        raise CodesiftError(f"select.ratio must be in (0, 1], got {ratio}")
    return max(1, round(ratio * n_total))
