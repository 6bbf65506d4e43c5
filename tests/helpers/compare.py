"""Made-up experiments for the comparison tests: verdicts with known pass rates."""

from __future__ import annotations

from codesift.compare.results import Experiment
from tests.conftest import ROOT

TEMPLATE = ROOT / "configs/plots/template.html"
N_TASKS = 40


def verdicts(base_rate: int, plus_rate: int) -> list[dict]:
    """Task i passes base tests if i % 10 < base_rate, plus tests if i % 10 < plus_rate."""
    return [{"task_id": f"T/{i}", "passed": i % 10 < plus_rate,
             "base_status": "pass" if i % 10 < base_rate else "fail",
             "plus_status": "pass" if i % 10 < plus_rate else "fail", "detail": ""}
            for i in range(N_TASKS)]


def run(name: str, method: str, n: int, rates: tuple[int, int], nll: float) -> Experiment:
    facts = {"method": method, "ratio": n / 100, "n_selected": n, "share": n / 100,
             "epochs": 1.0, "supervised_tokens": 1000 * n, "train_seconds": 2.5 * n,
             "pad_fraction": 0.1, "peak_memory_mb": 900.0, "total_seconds": 60.0 + n,
             "heldout_nll": nll, "valid_loss": nll + 0.1}
    return Experiment(name, facts, {"humaneval_plus": verdicts(*rates)})
