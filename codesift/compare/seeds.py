"""Uncertainty of an arm run with several seeds: the same benchmark tasks, one `Outcomes` per
seed. pass@1 of the arm is the mean of its seeds' pass@1; the seed sd the sample standard
deviation (ddof 1) of those.

Seeds and tasks are crossed (every seed is tested on every task), and the bootstrap is
hierarchical: draw the seeds with replacement, then the tasks with replacement, the same task
draw for every drawn seed (a task is as hard for one seed as for the next), then, with several
samples per task, each cell's samples (one binomial draw, as in `stats`). Resampling both
factors of a crossed design this way is Owen's (2007) "pigeonhole" bootstrap; it is a little
conservative (the cell noise is counted at both levels), while the seed level, with only S
values, is a little short (its variance is (S - 1) / S of the sample variance's): with 3 seeds
the interval is a rough guide, with more a better one.

`seed_paired_bootstrap` compares two arms the same way: seeds drawn per arm (seed k of one arm
has no partner in the other), tasks drawn once for both (pairing by task), and the p-value of
the centred differences as in `stats.paired_bootstrap`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from codesift.compare.stats import Interval, Outcomes, PairedTest

CELLS = 4_000_000  # resample x seed x task cells drawn at once: bounds memory (~32 MB)


@dataclass(frozen=True)
class SeedRuns:
    """An arm's verdicts: per seed (rows) and task (columns), samples passed and drawn."""

    task_ids: tuple[str, ...]
    passed: np.ndarray  # int, (seeds, tasks)
    drawn: np.ndarray  # int >= 1, (seeds, tasks)

    @classmethod
    def of(cls, runs: Sequence[Outcomes]) -> SeedRuns:
        """The seeds' outcomes on the tasks all of them were tested on."""
        ids = sorted(set.intersection(*(set(o.task_ids) for o in runs)))
        if not ids:
            raise ValueError("the seeds share no task")
        aligned = [o.on(ids) for o in runs]
        return cls(tuple(ids), np.stack([o.passed for o in aligned]),
                   np.stack([o.drawn for o in aligned]))

    @property
    def rates(self) -> np.ndarray:
        return self.passed / self.drawn

    @property
    def per_seed(self) -> np.ndarray:
        """pass@1 of each seed."""
        return self.rates.mean(axis=1)

    @property
    def pass_at_1(self) -> float:
        return float(self.per_seed.mean())

    @property
    def seed_sd(self) -> float | None:
        """Sample standard deviation of the seeds' pass@1; None with one seed."""
        return float(self.per_seed.std(ddof=1)) if len(self.per_seed) > 1 else None

    def on(self, task_ids: Sequence[str]) -> SeedRuns:
        pos = {t: i for i, t in enumerate(self.task_ids)}
        idx = np.array([pos[t] for t in task_ids], dtype=np.int64)
        return SeedRuns(tuple(task_ids), self.passed[:, idx], self.drawn[:, idx])


def _chunks(n_resamples: int, cells_per_resample: int) -> Iterator[int]:
    """Resamples per draw, so that a draw holds at most CELLS cells."""
    step = max(1, CELLS // max(1, cells_per_resample))
    for start in range(0, n_resamples, step):
        yield min(step, n_resamples - start)


def _resampled_means(rng: np.random.Generator, r: SeedRuns, tasks: np.ndarray) -> np.ndarray:
    """pass@1 of each resample (rows of `tasks`): seeds drawn with replacement, every drawn
    seed on the resample's tasks, each cell's samples redrawn when there are several."""
    n_seeds = r.passed.shape[0]
    seeds = rng.integers(0, n_seeds, size=(len(tasks), n_seeds))
    rows, cols = seeds[:, :, None], tasks[:, None, :]
    rates = r.rates[rows, cols]
    if (r.drawn > 1).any():
        drawn = r.drawn[rows, cols]
        rates = rng.binomial(drawn, rates) / drawn
    return rates.mean(axis=(1, 2))


def seed_bootstrap_ci(r: SeedRuns, n_resamples: int = 10_000, seed: int = 0,
                      level: float = 0.95) -> Interval:
    """Percentile interval of the arm's pass@1 from the hierarchical bootstrap (seeds, then
    tasks, then samples); seeded."""
    rng = np.random.default_rng(seed)
    n_seeds, n_tasks = r.passed.shape
    means = np.concatenate([
        _resampled_means(rng, r, rng.integers(0, n_tasks, size=(k, n_tasks)))
        for k in _chunks(n_resamples, n_seeds * n_tasks)])
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(r.pass_at_1, float(low), float(high))


def seed_paired_bootstrap(base: SeedRuns, other: SeedRuns, n_resamples: int = 10_000,
                          seed: int = 0) -> PairedTest:
    """Two-sided p-value of the difference of two arms' pass@1 on their common tasks: seeds
    drawn per arm, tasks drawn once for both (see the module's docstring)."""
    ids = sorted(set(base.task_ids) & set(other.task_ids))
    if not ids:
        raise ValueError("the two arms share no task")
    a, b = base.on(ids), other.on(ids)
    rng = np.random.default_rng(seed)
    width = (a.passed.shape[0] + b.passed.shape[0]) * len(ids)
    diffs = []
    for k in _chunks(n_resamples, width):
        tasks = rng.integers(0, len(ids), size=(k, len(ids)))
        diffs.append(_resampled_means(rng, b, tasks) - _resampled_means(rng, a, tasks))
    d = np.concatenate(diffs)
    observed = b.pass_at_1 - a.pass_at_1
    hits = int((np.abs(d - observed) >= abs(observed) - 1e-12).sum())
    return PairedTest("paired seed bootstrap", len(ids), observed, (1 + hits) / (1 + len(d)))
