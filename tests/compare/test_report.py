"""The comparison of a few made-up experiments: the baseline picked, both tables, the plots
against data size (the page that shows them: test_page.py)."""

from __future__ import annotations

import re

import pytest

from codesift import CodesiftError
from codesift.compare.report import markdown, plots
from codesift.compare.results import Experiment, compare, pick_baseline
from tests.helpers.compare import run


@pytest.fixture
def experiments() -> list[Experiment]:
    old = Experiment("old", {"method": "ifd", "n_selected": 20},  # no verdict files, no losses
                     reported={"humaneval_plus": {"pass@1": 0.25, "base": {"pass@1": 0.3},
                                                  "plus": {"pass@1": 0.25}}})
    return [run("cdas-0.3", "cdas", 30, (7, 5), 1.2), run("random-0.3", "random", 30, (5, 4), 1.3),
            run("full", "random", 100, (7, 6), 1.1), old]


def test_tables_have_every_row_with_intervals_and_tests(experiments):
    c = compare(experiments, n_resamples=500)
    assert c.baseline == "full"  # the most training data
    md = markdown(c)
    lines = {line.split(" | ")[0].lstrip("| "): line for line in md.splitlines()
             if line.startswith("| ") and "---" not in line}
    assert "| humaneval_plus base | vs baseline | humaneval_plus plus | vs baseline |" in md
    # cdas-0.3 loses 4 of the baseline's plus passes: p = 2 / 2**4; random-0.3 loses 8 of
    # its base passes and 8 of its plus passes: p = 2 / 2**8
    assert re.search(r"\| cdas-0\.3 \| 70\.0 \[\d+\.\d, \d+\.\d\] \| \+0\.0, p=1 \| "
                     r"50\.0 \[\d+\.\d, \d+\.\d\] \| -10\.0, p=0\.125 \|", md)
    assert lines["random-0.3"].count("-20.0, p=0.007812 *") == 2
    assert lines["full"].count("baseline") == 2
    assert "| old | 30.0 |  | 25.0 |  |" in md  # reported figures, no interval, no test
    assert "| full | random | 1 |  | 100 | 100.0% | 1 | 100000 | 250.0 | 0.100 | 900 |" in md
    assert "| old | ifd |  |  | 20 |  |  |  |  |  |  |  |  |  |" in md  # blanks, not errors
    assert "exact McNemar" in md and "(used here: mcnemar)" in md


def test_baseline_by_name_or_unique_prefix(experiments):
    assert pick_baseline(experiments, "cdas") == "cdas-0.3"
    assert pick_baseline(experiments, "random-0.3") == "random-0.3"
    with pytest.raises(CodesiftError, match="matches 0 of"):
        pick_baseline(experiments, "nope")
    assert compare(experiments, "cdas", n_resamples=100).baseline == "cdas-0.3"
    files = [Experiment("b.jsonl"), Experiment("a.jsonl")]
    assert pick_baseline(files, None) == "b.jsonl"  # no data sizes: the first given


def test_plots_draw_lines_per_method_with_the_baseline_band(experiments):
    c = compare(experiments, n_resamples=500)
    specs = {re.sub(r" \((band|dashed).*\)$", "", s["title"]): s for s in plots(c)}
    assert sorted(specs) == ["heldout_nll against data size",
                             "humaneval_plus base: pass@1 (%) against data size",
                             "humaneval_plus plus: pass@1 (%) against data size",
                             "valid_loss against data size"]
    plus = specs["humaneval_plus plus: pass@1 (%) against data size"]
    rows = plus["data"]["values"]
    assert {(r["experiment"], r["method"], r["n_selected"]) for r in rows} == {
        ("cdas-0.3", "cdas", 30), ("random-0.3", "random", 30), ("old", "ifd", 20)}
    band, rule = plus["layer"][0], plus["layer"][1]
    full = c.figures[("full", "humaneval_plus", "plus")].interval
    assert band["mark"]["type"] == "rect" and "x" not in band["encoding"]
    assert band["data"]["values"] == [{"pass1": 100 * full.low, "high": 100 * full.high}]
    assert rule["data"]["values"][0]["pass1"] == pytest.approx(60.0)
    loss = specs["heldout_nll against data size"]
    assert [layer["mark"]["type"] for layer in loss["layer"][:2]] == ["rule", "line"]
