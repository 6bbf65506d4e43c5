"""The comparison page: its summary in words, forest plots (seed arms marked), the tasks that
flipped with both runs' code, each subset's make-up, what it says on bad input, and (where
Chromium is installed) that every chart draws in a real browser with a silent console."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from codesift.compare import browser
from codesift.compare.flips import flips
from codesift.compare.page import (
    body,
    forest_rows,
    page,
    pass_forest,
    problems,
    selection_chart,
    summary,
    write_report,
)
from codesift.compare.results import Comparison, Experiment, compare
from tests.helpers.compare import TEMPLATE, run
from tests.helpers.html import parse

BENCH = "humaneval_plus"


def with_code(e: Experiment) -> Experiment:
    for r in e.verdicts[BENCH]:
        r["solution"] = f"def f():  # {e.name} {r['task_id']}\n    return {r['passed']}\n"
        r["detail"] = "" if r["passed"] else f"{r['task_id']}: assertion failed"
    return e


@pytest.fixture
def c() -> Comparison:
    """cdas (labels and clusters known) and random against the full data; `old` has only the
    figures of its metrics file."""
    cdas = with_code(run("cdas-0.3", "cdas", 30, (7, 5), 1.2))
    cdas.facts.update(labels={"column": "quality", "pool": {"good": 0.6, "flawed": 0.4},
                              "selected": {"good": 0.8, "flawed": 0.2}},
                      flawed_share=0.2, flawed_share_pool=0.4,
                      cluster_shares=[{"cluster": i, "full": 0.25, "selected": s}
                                      for i, s in enumerate([0.1, 0.2, 0.3, 0.4])])
    old = Experiment("old", {"method": "ifd", "n_selected": 20},
                     reported={BENCH: {"pass@1": 0.25, "base": {"pass@1": 0.3},
                                       "plus": {"pass@1": 0.25}}})
    exps = [cdas, with_code(run("random-0.3", "random", 30, (5, 4), 1.3)),
            with_code(run("full", "random", 100, (7, 6), 1.1)), old]
    return compare(exps, n_resamples=500)


def as_arm(c: Comparison, name: str, seeds: int, sd: float, within: bool) -> Comparison:
    """What the seed-aware arms put in a figure (pooled runs, their spread)."""
    figures = {k: replace(f, seeds=seeds, seed_sd=sd, within_seed_spread=within)
               if k[0] == name else f for k, f in c.figures.items()}
    return replace(c, figures=figures)


def test_summary_says_each_difference_in_words(c):
    # random-0.3 loses 8 of full's passes on base and plus tests: exact McNemar p = 2 / 2**8
    assert summary(c) == [
        "cdas-0.3: +0.0 points on HumanEval, not significant, p = 1.00; -10.0 points on "
        "HumanEval+, not significant, p = 0.12",
        "random-0.3: -20.0 points on HumanEval, significant, p = 0.008; -20.0 points on "
        "HumanEval+, significant, p = 0.008",
        "old: no paired test against full (no verdicts on a benchmark both ran)"]
    assert problems(c) == []


def test_forest_has_a_row_per_run_and_the_baseline_band(c):
    spec = pass_forest(c, BENCH, "plus")
    rows = spec["data"]["values"]
    assert [r["experiment"] for r in rows] == ["cdas-0.3", "random-0.3", "full", "old"]
    assert [r["verdict"] for r in rows] == ["not significant", "worse, p < 0.05", "baseline",
                                           "no test"]
    assert [r["label"] for r in rows] == ["-10.0 pts, p = 0.12", "-20.0 pts, p = 0.008",
                                         "baseline", "no test"]
    full = c.figures[("full", BENCH, "plus")].interval
    band, rule = spec["hconcat"][0]["layer"][:2]
    assert band["data"]["values"] == [{"low": 100 * full.low, "high": 100 * full.high}]
    assert rule["data"]["values"] == [{"estimate": pytest.approx(60.0)}]
    assert rows[3]["low"] is None and rows[3]["estimate"] == pytest.approx(25.0)
    point = spec["hconcat"][0]["layer"][-1]["encoding"]
    assert "shape" not in point  # single runs: no seed legend
    assert point["color"]["scale"]["domain"] == ["baseline", "worse, p < 0.05",
                                                 "not significant", "no test"]


def test_seed_arms_show_their_seeds_and_spread(c):
    arms = as_arm(c, "cdas-0.3", seeds=3, sd=0.012, within=True)
    row = forest_rows(arms, BENCH, "plus")[0]
    assert row["label"] == "-10.0 pts, p = 0.12 (3 seeds, sd 1.2) ~ seed spread"
    assert row["spread"] == "within its seed spread"
    assert "shape" in pass_forest(arms, BENCH, "plus")["hconcat"][0]["layer"][-1]["encoding"]
    assert summary(arms)[0].endswith("HumanEval+, not significant, p = 0.12, within its "
                                     "seed spread")
    beyond = forest_rows(as_arm(c, "random-0.3", 2, 0.001, False), BENCH, "base")[1]
    assert (beyond["spread"], beyond["label"]) == ("beyond its seed spread",
                                                   "-20.0 pts, p = 0.008 (2 seeds, sd 0.1)")


def test_flips_are_the_discordant_tasks_with_both_runs_code(c):
    random = c.experiments[1]
    rows = flips(c, random, BENCH)
    for s in ("base", "plus"):  # the same tasks McNemar counted
        test = c.figures[("random-0.3", BENCH, s)].test
        assert sum(r["set"] == s and r["winner"] == "full" for r in rows) == test.base_only
        assert sum(r["set"] == s and r["winner"] == "random-0.3" for r in rows) == test.other_only
    # full passes i % 10 < 7 (base) and < 6 (plus), random < 5 and < 4
    assert sorted({r["task"] for r in rows if r["set"] == "plus"},
                  key=lambda t: int(t[2:]))[:4] == ["T/4", "T/5", "T/14", "T/15"]
    html = body(c)
    block = html.split('id=flip-random-0-3-humaneval_plus-T-5>', 1)[1].split("</details>")[0]
    assert "<span class=by-base>passed by the baseline only</span> (base and plus tests)" \
        in block
    assert "# random-0.3 T/5" in block and "# full T/5" in block  # both runs' code
    assert "T/5: assertion failed" in block  # the failing run's verdict detail
    assert '"href": "#flip-random-0-3-humaneval_plus-T-5"' in html  # the chart cell links


def test_selection_shows_label_and_cluster_mix_beside_scores(c):
    spec = selection_chart(c)
    labels, clusters, scored = spec["hconcat"]
    assert {(r["experiment"], r["label"], r["share"]) for r in labels["data"]["values"]} == {
        ("pool", "good", 0.6), ("pool", "flawed", 0.4), ("cdas-0.3", "good", 0.8),
        ("cdas-0.3", "flawed", 0.2)}
    assert [r["share"] for r in clusters["data"]["values"]
            if r["experiment"] == "cdas-0.3"] == [0.1, 0.2, 0.3, 0.4]
    assert scored["data"]["values"][1] == {
        "experiment": "cdas-0.3", "text": "HumanEval+ 50.0\nvalid_loss 1.300\nflawed 20%"}
    bare = replace(c, experiments=[replace(e, facts={}) for e in c.experiments])
    assert selection_chart(bare).startswith("No experiment reports what its subset is made of")


def test_bad_input_is_said_in_words(c):
    mbpp = Experiment("mbpp-run", verdicts={"mbpp_plus": c.experiments[0].verdicts[BENCH]})
    apart = compare([c.experiments[2], mbpp], "full", n_resamples=100)
    said = problems(apart)
    assert said == [
        "the baseline full has no verdicts on mbpp_plus: no paired test and no task flips there",
        "mbpp-run shares no benchmark with the baseline full (mbpp_plus vs humaneval_plus): "
        "nothing to test it against"]
    html = body(apart)
    assert all(s in html for s in said)
    assert "mbpp-run on humaneval_plus: mbpp-run has no verdicts there" in html
    blind = compare(c.experiments, "old", n_resamples=100)  # a baseline with no verdicts
    assert problems(blind) == ["the baseline old has no verdicts on humaneval_plus: no paired "
                               "test and no task flips there"]
    assert "old has no verdicts there, so no task can be compared" in body(blind)
    rows = c.experiments[2].verdicts[BENCH]
    same = Experiment("same", verdicts={BENCH: rows})
    other = Experiment("other", verdicts={BENCH: [{**r, "task_id": "U" + r["task_id"]}
                                                  for r in rows]})
    html = body(compare([c.experiments[2], same, other], "full", n_resamples=100))
    assert "same on humaneval_plus: no task flipped." in html
    assert "other on humaneval_plus: no task in common with full." in html
    empty = compare([Experiment("a"), Experiment("b")], n_resamples=100)
    assert problems(empty) == ["no experiment has results on any benchmark: nothing to compare"]
    assert "nothing to compare" in body(empty)


def test_cli_prints_what_the_page_cannot_show(c, tmp_path, monkeypatch, capsys):
    from codesift.compare import __main__ as cli

    blind = [e for e in c.experiments]
    monkeypatch.setattr(cli, "experiments", lambda args: blind)
    cli.main(["--baseline", "old", "--bootstrap", "100", "--out", str(tmp_path)])
    err = capsys.readouterr().err.splitlines()
    assert err[0] == ("note: the baseline old has no verdicts on humaneval_plus: no paired test "
                      "and no task flips there")
    assert "no verdicts on humaneval_plus" in (tmp_path / "compare.html").read_text()


def test_page_is_one_offline_file(c, tmp_path):
    _, path = write_report(c, tmp_path, TEMPLATE)
    html = path.read_text()
    assert html == page(c, TEMPLATE)
    tags = parse(html)
    assert [a for t, a in tags.tags if t == "script" and "src" in a] == []
    assert [t for t, _ in tags.tags if t in ("link", "iframe", "object", "embed", "base")] == []
    assert not re.search(r"(src|href)\s*=\s*['\"]?\s*(\w+:)?//", html, re.I)
    specs = [json.loads(s) for a, s in tags.scripts if a.get("type") == "application/json"]
    charts = [a for t, a in tags.tags if t == "div" and a.get("class") == "chart"]
    assert len(specs) == len(charts) == 11  # 2 forests, 2 losses, 2 flips, selection, 4 sizes
    head_end = html.rindex("</head>", 0, html.index("<main>"))  # the bundle has one too
    assert html.index("<style>\nbody {") < head_end


@pytest.mark.parametrize("width", [1400, 800])
def test_every_chart_draws_in_chromium_with_a_silent_console(c, tmp_path, width):
    if browser.chromium() is None:
        pytest.skip("no chromium on PATH (make system installs it)")
    arms = as_arm(c, "cdas-0.3", seeds=3, sd=0.012, within=True)
    _, path = write_report(arms, tmp_path, TEMPLATE)
    shown = browser.render(path, width=width)
    assert shown.console == []
    drawn = browser.charts(shown.dom)
    assert len(drawn) == 11
    for name, chart in drawn.items():
        assert chart.svgs == 1 and chart.marks > 0, (name, chart)
    assert shown.dom.count('data-drawn="yes"') == 11


def test_bad_input_page_renders_its_words(c, tmp_path):
    if browser.chromium() is None:
        pytest.skip("no chromium on PATH (make system installs it)")
    _, path = write_report(compare(c.experiments, "old", n_resamples=100), tmp_path, TEMPLATE)
    shown = browser.render(path)
    assert shown.console == []
    assert all(ch.marks > 0 for ch in browser.charts(shown.dom).values())
    assert "old has no verdicts there, so no task can be compared" in shown.dom


def test_tables_sort_and_flip_links_open_in_chromium(c, tmp_path):
    """Clicks a column header of the pass@1 table (twice: descending) and follows a flip
    link, by a script appended to the page, then reads the rows and the opened task."""
    if browser.chromium() is None:
        pytest.skip("no chromium on PATH (make system installs it)")
    _, path = write_report(c, tmp_path, TEMPLATE)
    clicks = ("<script>var th = document.querySelector('table.sortable').tHead.rows[0]"
              ".cells[3]; th.click(); th.click();"
              "location.hash = '#flip-random-0-3-humaneval_plus-T-5';</script></body>")
    text = path.read_text()
    end = text.rindex("</body>")  # the page's own: the inlined bundle holds the string too
    path.write_text(text[:end] + clicks + text[end + len("</body>"):])
    shown = browser.render(path)
    assert shown.console == []
    table = shown.dom.split("<table class=\"sortable\">", 1)[1].split("</table>")[0]
    names = re.findall(r"<tr><td>([^<]+)</td>", table)
    assert names == ["full", "cdas-0.3", "random-0.3", "old"]  # plus: 60, 50, 40, 25
    assert re.search(r'<th aria-sort="descending">humaneval_plus plus</th>', table)
    assert re.search(r'<details id="flip-random-0-3-humaneval_plus-T-5" open="">', shown.dom)
    assert '<details id="flip-random-0-3-humaneval_plus-T-4">' in shown.dom  # still closed
