"""The label report: each label's share of the pool and the subset, and the flawed share."""

from __future__ import annotations

import numpy as np
import pytest

from codesift import CodesiftError
from codesift.selection.labels import label_report, record_labels


def test_shares_of_pool_and_subset_and_the_flawed_share():
    labels = ["good"] * 6 + ["terse"] * 2 + ["noisy"] * 2
    metrics, rows = label_report(labels, np.array([0, 1, 2, 6]), "quality",
                                 ["terse", "noisy", "absent"])
    assert metrics["labels"]["pool"] == {"good": 0.6, "noisy": 0.2, "terse": 0.2}
    assert metrics["labels"]["selected"] == {"good": 0.75, "noisy": 0.0, "terse": 0.25}
    assert metrics["labels"]["n_selected"] == {"good": 3, "terse": 1}
    assert metrics["flawed_share_pool"] == pytest.approx(0.4)
    assert metrics["flawed_share"] == pytest.approx(0.25)
    assert rows[0] == {"label": "good", "pool": 0.6, "selected": 0.75}


def test_no_flawed_labels_means_no_flawed_share():
    metrics, _ = label_report(["a", "b"], np.array([0]), "source", [])
    assert "flawed_share" not in metrics


def test_labels_come_from_meta_and_a_missing_column_is_an_error():
    records = [{"meta": {"quality": "good"}}, {"meta": {}}, {}]
    assert record_labels(records, "quality", "x.jsonl") == ["good", "(none)", "(none)"]
    assert record_labels(records, "", "x.jsonl") is None
    with pytest.raises(CodesiftError, match="select.label_column: no record of x.jsonl"):
        record_labels(records, "task", "x.jsonl")
