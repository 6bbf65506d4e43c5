"""The comparison of `Experiment`s (compare/experiment.py) against a baseline: pass@1 with
bootstrap intervals, paired tests."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from codesift import CodesiftError
from codesift.compare.experiment import Experiment
from codesift.compare.seeds import SeedRuns, seed_bootstrap_ci, seed_paired_bootstrap
from codesift.compare.stats import (
    Interval,
    Outcomes,
    PairedTest,
    bootstrap_ci,
    paired_test,
)

PASS = "pass"  # evalplus's status of a passing test set (codesift.evaluation.judging.PASS)
SETS = ("base", "plus")


@dataclass(frozen=True)
class Figure:
    """pass@1 on one benchmark's test set, with its interval and the test against the
    baseline (None for the baseline itself, or when either run lacks verdicts)."""

    interval: Interval | None
    test: PairedTest | None = None
    reported: float | None = None  # the metrics file's value when there are no verdicts
    seeds: int = 1  # runs pooled into this figure (an arm of several seeds)
    seed_sd: float | None = None  # standard deviation of pass@1 across the arm's seeds
    within_seed_spread: bool | None = None  # |difference from baseline| <= the seed spread

    @property
    def value(self) -> float | None:
        return self.interval.estimate if self.interval else self.reported


@dataclass
class Comparison:
    experiments: list[Experiment]
    baseline: str
    benchmarks: list[str]  # in report order
    sets: dict[str, tuple[str, ...]]  # benchmark -> ("base",) or ("base", "plus")
    figures: dict[tuple[str, str, str], Figure]  # (experiment, benchmark, set) -> figure
    n_resamples: int
    seed: int


def outcomes(rows: Sequence[dict], test_set: str) -> Outcomes:
    """Per-task passes: `base` counts base tests passed, `plus` base and plus tests (evalplus's
    "HumanEval+"), as the evaluate stage's summary does."""
    per_task: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        per_task[r["task_id"]].append(r["base_status"] == PASS if test_set == "base"
                                      else bool(r["passed"]))
    return Outcomes.from_verdicts(per_task)


def verdict_sets(rows: Sequence[dict]) -> tuple[str, ...]:
    """("base", "plus") when the verdicts carry plus tests, else ("base",)."""
    return SETS if any(r.get("plus_status") is not None for r in rows) else SETS[:1]


def pick_baseline(experiments: Sequence[Experiment], name: str | None) -> str:
    """`name` (exact, else a unique prefix; a seed run's name stands for its arm), or the
    experiment with the most training data (the full-data run); the first one when no data
    size is known (sample files)."""
    names = [e.name for e in experiments]
    if name:
        if name in names:
            return name
        arm = [e.name for e in experiments if any(r.name == name for r in e.runs)]
        hits = arm or [n for n in names if n.startswith(name)]
        if len(hits) != 1:
            raise CodesiftError(f"--baseline {name!r} matches {len(hits)} of the experiments "
                                f"({', '.join(names)}); give one name")
        return hits[0]
    sized = [e for e in experiments if e.data_size is not None]
    return max(sized, key=lambda e: e.data_size).name if sized else names[0]


def compare(experiments: list[Experiment], baseline: str | None = None,
            n_resamples: int = 10_000, seed: int = 0) -> Comparison:
    """Every arm's pass@1 (with interval) per benchmark and test set, and its paired test
    against the baseline on their common tasks; experiments that differ only by seed are
    pooled into one arm (`arms.py`)."""
    from codesift.compare.arms import arms

    if not experiments:
        raise CodesiftError("no experiments to compare")
    names = [e.name for e in experiments]
    if len(set(names)) < len(names):
        raise CodesiftError(f"experiment names repeat: {', '.join(names)}")
    rows = arms(experiments)
    base = pick_baseline(rows, baseline)
    by_name = {e.name: e for e in rows}
    benchmarks = sorted({b for e in experiments for b in (*e.verdicts, *e.reported)})
    sets = {b: _sets_of(experiments, b) for b in benchmarks}
    figures = {}
    for e in rows:
        for b in benchmarks:
            for s in sets[b]:
                figures[(e.name, b, s)] = _figure(e, by_name[base], b, s, n_resamples, seed)
    return Comparison(rows, base, benchmarks, sets, figures, n_resamples, seed)


def _sets_of(experiments: Sequence[Experiment], bench: str) -> tuple[str, ...]:
    rows = [r for e in experiments for r in e.verdicts.get(bench, [])]
    reported = [e.reported[bench] for e in experiments if bench in e.reported]
    return SETS if verdict_sets(rows) == SETS or any("plus" in r for r in reported) else SETS[:1]


def _figure(e: Experiment, base: Experiment, bench: str, test_set: str, n_resamples: int,
            seed: int) -> Figure:
    """pass@1 of an arm (a single run: one seed), its interval and its test against the
    baseline arm; an arm's runs without verdicts on `bench` are not in its figure (`seeds`
    says how many are)."""
    mine = _seed_outcomes(e, bench, test_set)
    if not mine:
        return _reported_figure(e, bench, test_set)
    arm = SeedRuns.of(mine)
    interval = seed_bootstrap_ci(arm, n_resamples, seed) if len(mine) > 1 \
        else bootstrap_ci(mine[0], n_resamples, seed)
    theirs = _seed_outcomes(base, bench, test_set) if e is not base else []
    test = _test(theirs, mine, n_resamples, seed) if theirs else None
    if test is None:
        return Figure(interval, seeds=len(mine), seed_sd=arm.seed_sd)
    spreads = [x for x in (arm.seed_sd, SeedRuns.of(theirs).seed_sd) if x is not None]
    within = abs(test.difference) <= max(spreads) if spreads else None
    return Figure(interval, test, seeds=len(mine), seed_sd=arm.seed_sd,
                  within_seed_spread=within)


def _seed_outcomes(e: Experiment, bench: str, test_set: str) -> list[Outcomes]:
    """Per run of the arm with verdicts on `bench`, its outcomes (one for a single run);
    an arm's seeds must share tasks (they ran the same params)."""
    runs = [outcomes(r.verdicts[bench], test_set) for r in e.runs or [e]
            if r.verdicts.get(bench)]
    if len(runs) > 1 and not set.intersection(*(set(o.task_ids) for o in runs)):
        raise CodesiftError(f"{e.name}: its seeds share no {bench} task")
    return runs


def _test(base: list[Outcomes], other: list[Outcomes], n_resamples: int, seed: int
          ) -> PairedTest | None:
    """The paired test on the common tasks (None without any): McNemar or the paired
    bootstrap between single runs, the paired seed bootstrap when either arm has seeds."""
    a, b = SeedRuns.of(base), SeedRuns.of(other)
    if not set(a.task_ids) & set(b.task_ids):
        return None
    if len(base) == len(other) == 1:
        return paired_test(base[0], other[0], n_resamples, seed)
    return seed_paired_bootstrap(a, b, n_resamples, seed)


def _reported_figure(e: Experiment, bench: str, test_set: str) -> Figure:
    """The metrics files' pass@1 (runs without verdict files): an arm's mean and seed sd."""
    values = [v for r in e.runs or [e]
              if (v := _reported(r.reported.get(bench), test_set)) is not None]
    if not values:
        return Figure(None)
    sd = statistics.stdev(values) if len(values) > 1 else None
    return Figure(None, reported=statistics.fmean(values), seeds=len(values), seed_sd=sd)


def _reported(metrics: dict | None, test_set: str) -> float | None:
    """pass@1 of a metrics file's benchmark entry ({"pass@1", "base": {...}, "plus": {...}})."""
    if not isinstance(metrics, dict):
        return None
    part = metrics.get(test_set) if isinstance(metrics.get(test_set), dict) else None
    if part is None and test_set == "base" and "plus" not in metrics:
        part = metrics
    value = (part or {}).get("pass@1")
    return float(value) if isinstance(value, int | float) else None
