"""Uncertainty of pass@1 over benchmark tasks, and paired tests between two runs.

A run's verdicts on one benchmark are `Outcomes`: per task, the samples that passed out of
the samples drawn. pass@1 is the mean over tasks of passed / drawn (the unbiased estimator).

* `bootstrap_ci`: percentile interval from resampling tasks; with several samples per task, a
  two-level bootstrap that also redraws each resampled task's samples. Redrawing n samples
  with replacement from a task with c passes of n gives Binomial(n, c / n) passes, so the
  second level is one binomial draw per task (no n-wide index arrays).
* `mcnemar`: exact McNemar (two-sided binomial test on the discordant tasks), for one sample
  per task.
* `paired_bootstrap`: the same two-level resampling applied to both runs on the same task
  draws (samples are redrawn per run: sample j of one run has no partner in the other). The
  resampled differences, centred on the observed one, stand in for the null distribution;
  the p-value is the Monte Carlo share (1 + hits) / (1 + resamples) of centred differences at
  least as far from 0 as the observed one, so an observed difference of 0 gives p = 1.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

CHUNK = 1000  # resamples drawn at once: bounds memory at CHUNK x tasks


@dataclass(frozen=True)
class Outcomes:
    """Per task (in a fixed order): samples passed and samples drawn."""

    task_ids: tuple[str, ...]
    passed: np.ndarray  # int, one per task
    drawn: np.ndarray  # int >= 1, one per task

    @classmethod
    def from_verdicts(cls, verdicts: Mapping[str, Sequence[bool]]) -> Outcomes:
        """{task_id: [passed, ...] per sample}; tasks sorted so two runs line up."""
        ids = tuple(sorted(verdicts))
        return cls(ids, np.array([sum(map(bool, verdicts[t])) for t in ids], dtype=np.int64),
                   np.array([len(verdicts[t]) for t in ids], dtype=np.int64))

    @property
    def rates(self) -> np.ndarray:
        return self.passed / self.drawn

    @property
    def pass_at_1(self) -> float:
        return float(self.rates.mean())

    @property
    def single(self) -> bool:
        """One sample per task: no second bootstrap level, McNemar applies."""
        return bool((self.drawn == 1).all())

    def on(self, task_ids: Sequence[str]) -> Outcomes:
        """These tasks only, in this order."""
        pos = {t: i for i, t in enumerate(self.task_ids)}
        idx = np.array([pos[t] for t in task_ids], dtype=np.int64)
        return Outcomes(tuple(task_ids), self.passed[idx], self.drawn[idx])


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class PairedTest:
    """`other` minus `base` on their common tasks."""

    test: str  # "mcnemar" | "paired bootstrap"
    n_tasks: int
    difference: float
    p_value: float
    base_only: int = 0  # McNemar's discordant tasks: passed by the baseline only
    other_only: int = 0  # ... by the other run only

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05


def _task_draws(rng: np.random.Generator, n_tasks: int, n_resamples: int
                ) -> Iterator[np.ndarray]:
    """Resampled task indices, CHUNK rows at a time (rows: resamples)."""
    for start in range(0, n_resamples, CHUNK):
        yield rng.integers(0, n_tasks, size=(min(CHUNK, n_resamples - start), n_tasks))


def _resampled_rates(rng: np.random.Generator, o: Outcomes, idx: np.ndarray) -> np.ndarray:
    """Per-task pass rates of resampled tasks `idx`, their samples redrawn when there are
    several (the bootstrap's second level)."""
    if o.single:
        return o.rates[idx]
    drawn = o.drawn[idx]
    return rng.binomial(drawn, o.rates[idx]) / drawn


def bootstrap_ci(o: Outcomes, n_resamples: int = 10_000, seed: int = 0,
                 level: float = 0.95) -> Interval:
    """Percentile bootstrap interval of pass@1 (seeded: the same call, the same interval)."""
    rng = np.random.default_rng(seed)
    means = np.concatenate([_resampled_rates(rng, o, idx).mean(axis=1)
                            for idx in _task_draws(rng, len(o.task_ids), n_resamples)])
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(o.pass_at_1, float(low), float(high))


def mcnemar(base: Outcomes, other: Outcomes) -> PairedTest:
    """Exact McNemar test: under no difference, each discordant task is a fair coin."""
    from scipy.stats import binomtest

    ids = common_tasks(base, other)
    a, b = base.on(ids).passed.astype(bool), other.on(ids).passed.astype(bool)
    base_only, other_only = int((a & ~b).sum()), int((~a & b).sum())
    n = base_only + other_only
    p = binomtest(other_only, n, 0.5).pvalue if n else 1.0
    return PairedTest("mcnemar", len(ids), float(b.mean() - a.mean()), float(p),
                      base_only, other_only)


def paired_bootstrap(base: Outcomes, other: Outcomes, n_resamples: int = 10_000,
                     seed: int = 0) -> PairedTest:
    """Two-sided p-value of the pass@1 difference from resampling tasks (both runs on the same
    draws) and, within each task, each run's samples (see the module's docstring)."""
    ids = common_tasks(base, other)
    a, b = base.on(ids), other.on(ids)
    rng = np.random.default_rng(seed)
    diffs = np.concatenate([
        (_resampled_rates(rng, b, idx) - _resampled_rates(rng, a, idx)).mean(axis=1)
        for idx in _task_draws(rng, len(ids), n_resamples)])
    observed = b.pass_at_1 - a.pass_at_1
    hits = int((np.abs(diffs - observed) >= abs(observed) - 1e-12).sum())
    return PairedTest("paired bootstrap", len(ids), observed, (1 + hits) / (1 + len(diffs)))


def paired_test(base: Outcomes, other: Outcomes, n_resamples: int = 10_000,
                seed: int = 0) -> PairedTest:
    """McNemar with one sample per task in both runs, the paired bootstrap otherwise."""
    if base.single and other.single:
        return mcnemar(base, other)
    return paired_bootstrap(base, other, n_resamples, seed)


def common_tasks(base: Outcomes, other: Outcomes) -> list[str]:
    """Tasks both runs were tested on (a paired test only compares like with like)."""
    ids = sorted(set(base.task_ids) & set(other.task_ids))
    if not ids:
        raise ValueError("the two runs share no task")
    return ids
