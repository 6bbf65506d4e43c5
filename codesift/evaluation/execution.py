"""Run benchmark tests on samples in the sandbox; pass@k by the unbiased estimator."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from codesift import CodesiftError
from codesift.evaluation.sandbox import Limits, run_many


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of the Codex paper: 1 - C(n-c, k) / C(n, k), computed stably."""
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def program(task: dict, solution: str) -> str:
    """A HumanEval-style test program: the solution, the task's `check`, then the call."""
    return f"{solution}\n\n{task['test']}\n\ncheck({task['entry_point']})\n"


def evaluate(tasks: list[dict], samples: list[dict], ks: list[int], limits: Limits,
             workers: int = 2) -> tuple[list[dict], dict]:
    """Verdict per sample and {pass@k..., n_tasks}; every task needs at least one sample."""
    by_id = {t["task_id"]: t for t in tasks}
    unknown = sorted({s["task_id"] for s in samples} - by_id.keys())
    if unknown:
        raise CodesiftError(f"samples name tasks not in the benchmark, e.g. {unknown[:3]}")
    missing = sorted(by_id.keys() - {s["task_id"] for s in samples})
    if missing:
        raise CodesiftError(f"{len(missing)} tasks have no sample, e.g. {missing[:3]}")
    outcomes = run_many([program(by_id[s["task_id"]], s["solution"]) for s in samples],
                        limits, workers=workers, desc="execute")
    verdicts, correct = [], defaultdict(list)
    for s, o in zip(samples, outcomes, strict=True):
        verdicts.append({"task_id": s["task_id"], "passed": o.status == "passed",
                         "status": o.status, "detail": o.detail[-500:]})
        correct[s["task_id"]].append(o.status == "passed")
    summary: dict = {"n_tasks": len(by_id)}
    for k in ks:
        if all(len(v) >= k for v in correct.values()):
            summary[f"pass@{k}"] = float(np.mean([pass_at_k(len(v), sum(v), k)
                                                   for v in correct.values()]))
    return verdicts, summary
