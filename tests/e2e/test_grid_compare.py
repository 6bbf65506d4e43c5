"""End to end on the session's CI run (configs/ci.yaml reproduced once): a two-experiment grid
queued and run by `python -m codesift.grid --run`, which writes the comparison; then
`python -m codesift.compare` on chosen experiments."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.dvc import commit_all, copy_project, copy_run, ran, sh
from tests.helpers.html import parse

pytestmark = pytest.mark.slow
GRID = """
matrix:
  select.method: [cdas, random]
  select.ratio: [0.3]
"""
CI = r"\d+\.\d \[\d+\.\d, \d+\.\d\]"  # pass@1 [95% interval]


@pytest.fixture(scope="module")
def repo(ci_run, tmp_path_factory) -> Path:
    repo = copy_run(ci_run, tmp_path_factory.mktemp("compare") / "repo")
    (repo / "grid.yaml").write_text(GRID)
    commit_all(repo, "grid")
    return repo


@pytest.fixture(scope="module")
def grid_log(repo) -> str:
    return sh("python", "-m", "codesift.grid", "grid.yaml", "--run", "--jobs", "1",
              "--bootstrap", "2000", cwd=repo)


def rows(md: str) -> dict[str, list[str]]:
    """experiment -> cells of its row in the pass@1 table."""
    table = md.split("## pass@1", 1)[1]
    return {cells[0]: cells[1:] for line in table.splitlines() if line.startswith("| ")
            and (cells := [c.strip() for c in line.strip("|").split("|")])[0] != "experiment"
            and not cells[0].startswith("---")}


def test_grid_run_writes_the_report_over_its_experiments(repo, grid_log):
    md = (repo / "reports/compare.md").read_text()
    assert md in grid_log  # also printed
    got = rows(md)
    assert sorted(got) == ["cdas-0.3", "random-0.3"]
    runs = md.split("## Runs", 1)[1].split("## pass@1")[0]
    size = {name: int(n) for name, n in
            re.findall(r"\| (\w+-0\.3) \| \w+ \| 0\.3 \|  \| (\d+) \| \d+\.\d% \|", runs)}
    assert sorted(size) == ["cdas-0.3", "random-0.3"]
    base = re.search(r"Baseline: \*\*(\S+)\*\*", md)[1]  # the most training data
    assert size[base] == max(size.values())
    other = next(n for n in got if n != base)
    assert re.fullmatch(CI, got[base][0]) and re.fullmatch(CI, got[other][0])
    assert got[base][1] == "baseline"
    assert re.fullmatch(r"[+-]\d+\.\d, p=[\d.e-]+( \*)?", got[other][1])
    html = (repo / "reports/compare.html").read_text()
    assert [a for t, a in parse(html).tags if t == "script" and "src" in a] == []
    assert "cdn." not in html and "id=chart1 data-spec=spec1" in html


def test_compare_cli_on_chosen_experiments(repo, grid_log):
    out = sh("python", "-m", "codesift.compare", "--exp", "workspace", "cdas-0.3", "main",
             "--baseline", "main", "--bootstrap", "500", "--out", "other", cwd=repo)
    got = rows(out)
    assert list(got) == ["workspace", "cdas-0.3", "main"]
    assert got["main"][1] == "baseline" and "p=" in got["cdas-0.3"][1]
    assert (repo / "other/compare.html").is_file()
    bad = sh("python", "-m", "codesift.compare", "--exp", "nosuch", cwd=repo, check=False)
    assert bad.startswith("error: nosuch: no such experiment, branch or commit")


SEED_GRID = """
seeds: [0, 1]
matrix:
  select.method: [random]
  select.ratio: [0.3]
"""


UPSTREAM = {"check", "prepare", "base", "scorer", "ifd@0", "ifd_merge", "embed", "deita_score"}


def test_a_grid_of_seeds_from_an_empty_cache(tmp_path_factory):
    """A fresh clone (no dvc.lock, empty cache): the first experiment runs in the workspace,
    the shared stages with it; the queued one runs only what its seed changes. Reported as
    one arm."""
    from codesift.compare.experiments import read_experiments

    repo = copy_project(tmp_path_factory.mktemp("seeds") / "repo")
    (repo / "grid.yaml").write_text(SEED_GRID)
    commit_all(repo, "grid of seeds")
    log = sh("python", "-m", "codesift.grid", "grid.yaml", "--run", "--bootstrap", "500",
             cwd=repo)
    assert "running random-0.3-s0 in the workspace first" in log
    assert "queued 1: random-0.3-s1" in log
    assert UPSTREAM <= ran(log)  # the first experiment, in the workspace
    second = sh("dvc", "queue", "logs", "random-0.3-s1", cwd=repo)
    assert {"select", "train", "generate", "evaluate"} <= ran(second), second
    assert not ran(second) & (UPSTREAM - {"check"}), second  # check: params.yaml changed
    md = (repo / "reports/compare.md").read_text()
    got = rows(md)
    assert list(got) == ["random-0.3"] and got["random-0.3"][1] == "baseline"
    assert re.fullmatch(CI + r" \(2 seeds, sd \d+\.\d\)", got["random-0.3"][0])
    assert re.search(r"\| random-0\.3 \| 2 \| random \| 0\.3 \|", md)
    runs = read_experiments(repo, ["random-0.3-s0", "random-0.3-s1"])
    assert [(e.params["select"]["seed"], e.params["train"]["seed"]) for e in runs] == [
        (0, 0), (1, 1)]
