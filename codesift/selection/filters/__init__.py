"""Filters that run before any selector: IFD ranks "hard" and "wrong" alike, so records that
are wrong in a way a check can see are removed first, each removal counted.

A filter is a function `(records, pool, cfg) -> keep mask` registered with
`@register("name")` in its own module here (found by package discovery, like selectors);
`cfg` is the `select` params section. A filter that does not apply to a record (raw code, an
instruction that names nothing) keeps it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from codesift.registry import Registry
from codesift.selection import Pool

Filter = Callable[[Sequence[dict], Pool, Any], np.ndarray]
FILTERS: Registry[Filter] = Registry("filter", __name__)
register = FILTERS.register


def apply_filters(names: Sequence[str], records: Sequence[dict], pool: Pool, cfg: Any,
                  labels: Sequence[str] | None = None) -> tuple[np.ndarray, list[dict]]:
    """Indices that pass every filter in order, and per filter how many of the records still
    in play it removed (by label when there are labels)."""
    keep = np.ones(len(records), dtype=bool)
    report = []
    for name in names:
        entry = FILTERS.get(name)
        passed = np.asarray(entry.obj(records, pool, cfg), dtype=bool)
        removed = np.flatnonzero(keep & ~passed)
        keep &= passed
        row: dict = {"name": name, "removed": int(len(removed))}
        if labels is not None:
            row["removed_by_label"] = dict(sorted(Counter(labels[i] for i in removed).items()))
        report.append(row)
    return np.flatnonzero(keep), report
