"""Data selection: one module per method, found by package discovery; the selection report.

A selector is a function `(pool, n, cfg) -> indices` registered with
`@register("name", needs=(...))` in its own module here, which package discovery imports:
`cfg` is the `select` params section (a SelectConfig). A method with knobs declares them as a
dataclass in its module, registers it (`options=`) and reads them with
`cfg.options("name", Options)` from `select.<name>` in params.yaml: adding it edits no other
file. It is deterministic given `cfg.seed`, so the same params give a
byte-identical subset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from codesift import CodesiftError
from codesift.registry import Registry


@dataclass
class Pool:
    """What a selector may look at; `ifd`/`ppl` are NaN where scoring failed."""

    embeddings: np.ndarray | None
    ifd: np.ndarray
    ppl: np.ndarray
    deita: np.ndarray | None = None  # DEITA's complexity x quality, where it was scored
    align: np.ndarray | None = None  # reverse IFD (instruction given response), if scored
    reps: np.ndarray | None = None  # RDS+: the scorer's pooled hidden states, L2-normalised
    query_reps: np.ndarray | None = None  # the same of the query set (not pool rows)
    grads: np.ndarray | None = None  # LESS: projected LoRA gradient features (see less.py)
    query_grads: np.ndarray | None = None  # the same of the query set (not pool rows)

    def __len__(self) -> int:
        return len(self.ifd)

    def subset(self, idx: np.ndarray) -> Pool:
        def take(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        return Pool(take(self.embeddings), self.ifd[idx], self.ppl[idx], take(self.deita),
                    take(self.align), take(self.reps), self.query_reps, take(self.grads),
                    self.query_grads)


# What to set when a selector's input is missing (`needs` names Pool fields).
HOW_TO_GET = {
    "embeddings": "the embed stage's data/embeddings",
    "deita": "set select.deita.scorer_complexity and select.deita.scorer_quality",
    "reps": "the rds_embed stage computes them when select.method is rds",
    "query_reps": "the rds_embed stage computes them from select.rds.query",
    "grads": "the less_grads stage computes them when select.method is less",
    "query_grads": "the less_grads stage computes them from select.less.query",
    "align": "ifd.alignment: true (the ifd stage scores the reverse IFD)",
}


Selector = Callable[[Pool, int, Any], np.ndarray]
REGISTRY: Registry[Selector] = Registry("selection method", __name__)
register = REGISTRY.register


def select(pool: Pool, n: int, cfg: Any) -> np.ndarray:
    """Sorted, unique indices of the samples `cfg.method` picks (cfg: a SelectConfig)."""
    entry = REGISTRY.get(cfg.method)
    for need in entry.needs:
        if getattr(pool, need) is None:
            raise CodesiftError(f"select.method {cfg.method} needs {need}, which are missing: "
                                f"{HOW_TO_GET.get(need, 'see the README')}")
    if n == 0 or len(pool) == 0:
        return np.empty(0, dtype=np.int64)
    picked = entry.obj(pool, n, cfg)
    return np.unique(np.asarray(picked, dtype=np.int64))


def select_per_task(pool: Pool, tasks: list[str], n: int, cfg: Any) -> np.ndarray:
    """`select` inside each task's records, each task getting its share of `n` (so every task
    keeps the same share), as sorted indices into the whole pool."""
    tasks_arr = np.asarray(tasks)
    out = []
    for task in sorted(set(tasks)):
        idx = np.flatnonzero(tasks_arr == task)
        n_task = max(1, round(n * len(idx) / len(pool)))
        out.append(idx[select(pool.subset(idx), min(n_task, len(idx)), cfg)])
    return np.sort(np.concatenate(out))


def n_to_select(n_total: int, ratio: float, sample_num: int) -> int:
    """How many to pick: `sample_num` if set, else `ratio` of the pool (at least one)."""
    if sample_num > 0:
        if sample_num > n_total:
            raise CodesiftError(f"select.sample_num is {sample_num}, but only {n_total} "
                                "records are prepared")
        return sample_num
    if not 0 < ratio <= 1:
        raise CodesiftError(f"select.ratio must be in (0, 1], got {ratio}")
    return max(1, round(ratio * n_total)) if n_total else 0


def valid_ifd(pool: Pool, ifd_max: float) -> np.ndarray:
    """Scored samples with IFD below `ifd_max` (IFD >= 1: the prompt does not help)."""
    return np.isfinite(pool.ifd) & (pool.ifd < ifd_max)


def top_k(indices: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """The k indices with the highest score; ties broken by index, so it is deterministic."""
    order = np.lexsort((indices, -score[indices]))
    return indices[order[:k]]
