"""The whole selection: the filter chain, then the method on what is left (per task or not).

The requested size is a share of the whole pool, so a filter changes which records can be
picked, not how many are asked for; when the filters leave fewer, all of them are kept and
the shortfall is reported.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from codesift.selection import Pool, n_to_select, select, select_per_task
from codesift.selection.filters import apply_filters

log = logging.getLogger(__name__)


def choose(records: Sequence[dict], pool: Pool, cfg: Any, labels: Sequence[str] | None = None
           ) -> tuple[np.ndarray, int, list[dict]]:
    """Sorted indices picked, the number requested, and the filters' removal counts."""
    n = n_to_select(len(records), cfg.ratio, cfg.sample_num)
    kept, removed = apply_filters(cfg.filters, records, pool, cfg, labels)
    if n > len(kept):
        log.warning("select: the filters (%s) left %d records, fewer than the %d requested; "
                    "keeping all of them", ", ".join(cfg.filters), len(kept), n)
    n_here = min(n, len(kept))
    sub = pool.subset(kept)
    if cfg.per_task:
        tasks = [records[i].get("task", "") for i in kept]
        picked = select_per_task(sub, tasks, n_here, cfg)
    else:
        picked = select(sub, n_here, cfg)
    return kept[picked], n, removed
