"""What is compared: an `Experiment`, one run's (or one arm's) facts and per-sample verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Experiment:
    """One row of the report. `facts`: the run's table columns (blank when unknown);
    `verdicts`: benchmark -> rows {task_id, passed, base_status, plus_status} per sample;
    `reported`: benchmark -> the metrics file's figures, for runs without verdict files;
    `params`: the run's params.yaml (what tells seeds of one arm apart from other arms);
    `runs`: for an arm of several seeds, its runs (then `facts` holds their means, and
    `<key>_sd` their standard deviation where they differ; verdicts stay with the runs)."""

    name: str
    facts: dict[str, Any] = field(default_factory=dict)
    verdicts: dict[str, list[dict]] = field(default_factory=dict)
    reported: dict[str, dict] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    runs: list[Experiment] = field(default_factory=list)

    @property
    def data_size(self) -> float | None:
        """Training samples (n_selected), what the default baseline maximises."""
        return self.facts.get("n_selected")
