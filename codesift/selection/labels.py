"""What a selection is made of, by a label the data carries (a planted quality flaw, a
source, a task): each label's share of the pool and of the subset, and the flawed share."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from codesift import CodesiftError

UNLABELLED = "(none)"


def record_labels(records: Sequence[dict], column: str, where: str) -> list[str] | None:
    """Each record's label from its `meta` (prepare keeps the source's short columns there);
    None when no column is asked for. A column no record has is a mistake, not a blank."""
    if not column:
        return None
    values = [r.get("meta", {}).get(column) for r in records]
    if records and all(v is None for v in values):
        raise CodesiftError(f"select.label_column: no record of {where} has a column "
                            f"{column!r}; set it to a column of the data, or '' for none")
    return [UNLABELLED if v is None else str(v) for v in values]


def _shares(labels: Sequence[str], names: list[str]) -> dict[str, float]:
    counts = Counter(labels)
    return {k: counts[k] / max(1, len(labels)) for k in names}


def label_report(labels: Sequence[str], picked: np.ndarray, column: str,
                 flawed: Sequence[str]) -> tuple[dict, list[dict]]:
    """Metrics (`labels`, `flawed_share`, `flawed_share_pool`) and `dvc plots` rows."""
    names = sorted(set(labels))
    chosen = [labels[i] for i in picked]
    pool, sel = _shares(labels, names), _shares(chosen, names)
    metrics: dict = {"labels": {"column": column, "pool": pool, "selected": sel,
                                "n_selected": dict(sorted(Counter(chosen).items()))}}
    if flawed:
        metrics["flawed_share_pool"] = sum(pool.get(k, 0.0) for k in flawed)
        metrics["flawed_share"] = sum(sel.get(k, 0.0) for k in flawed)
    rows = [{"label": k, "pool": pool[k], "selected": sel[k]} for k in names]
    return metrics, rows
