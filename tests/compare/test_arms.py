"""Experiments that differ only by seed pooled into arms, and the comparison of arms: per-arm
mean, seed sd, the hierarchical interval, the paired seed test and the within-seed-spread mark."""

from __future__ import annotations

import logging
import re
import statistics

import pytest

from codesift.compare.arms import arms, group_arms
from codesift.compare.report import markdown, run_table
from codesift.compare.results import Experiment, compare

N_TASKS = 50


def params(method: str, ratio: float, seed: int, **train) -> dict:
    return {"select": {"method": method, "ratio": ratio, "seed": seed},
            "train": {"seed": seed, "lr": 1e-3, **train}}


def verdicts(n_pass: int) -> list[dict]:
    """The first n_pass of N_TASKS tasks pass (base and plus tests alike)."""
    return [{"task_id": f"T/{i:02d}", "passed": i < n_pass,
             "base_status": "pass" if i < n_pass else "fail",
             "plus_status": "pass" if i < n_pass else "fail"} for i in range(N_TASKS)]


def run(name: str, method: str, ratio: float, seed: int, n_pass: int, loss: float,
        **train) -> Experiment:
    facts = {"method": method, "ratio": ratio, "n_selected": int(100 * ratio),
             "valid_loss": loss, "train_seconds": 10.0 + seed, "supervised_tokens": 1000 + seed}
    return Experiment(name, facts, {"humaneval_plus": verdicts(n_pass)},
                      params=params(method, ratio, seed, **train))


@pytest.fixture
def grid() -> list[Experiment]:
    """A grid of `seeds: [0, 1, 2]`: cdas-0.4 a little below full (within the seeds' spread),
    random-0.4 far below it."""
    return ([run(f"full-s{s}", "random", 1.0, s, n, 4.6 + s / 100)
             for s, n in zip((0, 1, 2), (30, 33, 27), strict=True)] +
            [run(f"cdas-0.4-s{s}", "cdas", 0.4, s, n, 4.7)
             for s, n in zip((0, 1, 2), (29, 32, 27), strict=True)] +
            [run(f"random-0.4-s{s}", "random", 0.4, s, n, 4.8)
             for s, n in zip((0, 1, 2), (10, 12, 11), strict=True)])


def test_runs_that_differ_only_by_seed_are_one_arm_named_after_the_grid(grid):
    rows = arms(grid)
    assert [e.name for e in rows] == ["full", "cdas-0.4", "random-0.4"]
    assert [[r.name for r in e.runs] for e in rows][1] == [
        "cdas-0.4-s0", "cdas-0.4-s1", "cdas-0.4-s2"]
    other = run("cdas-0.4-lr", "cdas", 0.4, 3, 30, 4.7, lr=2e-3)  # another lr: its own arm
    sample_files = [Experiment("a.jsonl"), Experiment("b.jsonl")]  # no params: never pooled
    assert [len(g) for g in group_arms([*grid, other, *sample_files])] == [3, 3, 3, 1, 1, 1]


def test_a_repeated_seed_is_not_pooled_and_is_said(grid, caplog):
    again = run("cdas-rerun", "cdas", 0.4, 1, 31, 4.7)
    with caplog.at_level(logging.WARNING):
        groups = group_arms([*grid[3:6], again])
    assert [len(g) for g in groups] == [1, 1, 1, 1]
    assert "a seed repeats" in caplog.text and "cdas-rerun" in caplog.text
    caplog.clear()
    workspace = Experiment("workspace", params=grid[3].params)  # the same run twice, say
    with caplog.at_level(logging.WARNING):
        groups = group_arms([workspace, grid[6], grid[3]])
    assert [[e.name for e in g] for g in groups] == [["workspace"], ["random-0.4-s0"],
                                                     ["cdas-0.4-s0"]]  # in the order given
    assert caplog.text == ""  # a config run twice: nothing to say


def test_arms_not_named_by_the_grid_join_their_runs_names(grid):
    renamed = [Experiment(n, e.facts, e.verdicts, params=e.params)
               for n, e in zip(("a", "b", "c"), grid[3:6], strict=True)]
    assert [e.name for e in arms(renamed)] == ["a+b+c"]
    taken = [*grid[3:6], Experiment("cdas-0.4")]  # the stem is someone else's name
    assert [e.name for e in arms(taken)] == ["cdas-0.4-s0+cdas-0.4-s1+cdas-0.4-s2", "cdas-0.4"]


def test_pooled_facts_are_means_with_the_seed_sd(grid):
    full = arms(grid)[0]
    assert full.facts["seeds"] == 3 and full.facts["method"] == "random"
    assert full.facts["n_selected"] == 100 and "n_selected_sd" not in full.facts  # agreed
    assert full.facts["valid_loss"] == pytest.approx(4.61)
    assert full.facts["valid_loss_sd"] == pytest.approx(0.01)
    assert full.facts["train_seconds"] == pytest.approx(11.0)
    assert full.data_size == 100


def test_arm_figures_pool_seeds_and_test_against_the_baseline_arm(grid):
    c = compare(grid, n_resamples=2000)
    assert c.baseline == "full" and [e.name for e in c.experiments] == [
        "full", "cdas-0.4", "random-0.4"]
    full, cdas, rand = (c.figures[(n, "humaneval_plus", "plus")]
                        for n in ("full", "cdas-0.4", "random-0.4"))
    assert full.seeds == 3 and full.test is None and full.within_seed_spread is None
    assert full.value == pytest.approx(30 / N_TASKS)
    assert full.seed_sd == pytest.approx(statistics.stdev([30 / 50, 33 / 50, 27 / 50]))
    assert full.interval.low < full.value < full.interval.high
    assert cdas.test.test == "paired seed bootstrap" and cdas.test.n_tasks == N_TASKS
    assert cdas.test.difference == pytest.approx(-2 / 150)
    assert cdas.within_seed_spread and not cdas.test.significant
    assert rand.test.difference == pytest.approx(11 / 50 - 30 / 50)
    assert rand.within_seed_spread is False and rand.test.significant


def test_a_single_run_against_an_arm_of_seeds(grid):
    one = run("cdas-0.4", "cdas", 0.4, 7, 28, 4.7, lr=5e-4)
    c = compare([*grid[:3], one], n_resamples=1000)
    f = c.figures[("cdas-0.4", "humaneval_plus", "base")]
    assert f.seeds == 1 and f.seed_sd is None and f.test.test == "paired seed bootstrap"
    # its own seed spread is unknown: the baseline's (6 points) is the spread
    assert f.test.difference == pytest.approx(-0.04) and f.within_seed_spread


def test_baseline_by_arm_or_by_one_of_its_runs(grid):
    assert compare(grid, "cdas-0.4", n_resamples=100).baseline == "cdas-0.4"
    assert compare(grid, "random-0.4-s2", n_resamples=100).baseline == "random-0.4"


def test_markdown_marks_seeds_spread_and_loss_sd(grid):
    c = compare(grid, n_resamples=1000)
    md = markdown(c)
    assert re.search(r"\| cdas-0\.4 \| 58\.7 \[\d+\.\d, \d+\.\d\] \(3 seeds, sd 5\.0\) \| "
                     r"-1\.3, p=[\d.]+, within seed spread \|", md)
    assert re.search(r"\| random-0\.4 \| 22\.0 \[[\d., ]+\] \(3 seeds, sd 2\.0\) \| "
                     r"-38\.0, p=[\d.<]+ \* \|", md)
    assert "Arms of several seeds" in md and "paired seed bootstrap" in md
    runs = run_table(c).splitlines()
    assert runs[0].startswith("| experiment | seeds | method |")
    assert "| full | 3 | random | 1 |" in runs[2] and "| 4.6100 ± 0.0100 |" in runs[2]
    assert "| 4.7000 |" in runs[3]  # the seeds agree: no sd
    assert "| 1001 |" in runs[2]  # a count's mean over seeds (1001.0) reads as a count
    single = compare(grid[:1] + grid[3:4], n_resamples=100)
    assert "seeds" not in run_table(single).splitlines()[0] and "Arms of" not in markdown(single)
