"""Queueing a grid leaks nothing from the workspace. DVC's `dvc exp run --queue` stores the
workspace's uncommitted changes with each queued experiment; after a real stray
`dvc exp run -S select.seed=7` (left in params.yaml), a plain queued run inherits seed 7 while
the grid's experiments hold exactly the committed params plus their own overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from codesift.config import flatten
from tests.helpers.dvc import commit_all, copy_project, git, sh

STASH = "refs/exps/celery/stash"  # DVC's queue (dvc/repo/experiments/refs.py CELERY_STASH)
GRID = """
matrix:
  select.method: [cdas, random]
  select.ratio: [0.2]
"""


def queued_revs(repo: Path) -> dict[str, str]:
    """name -> the commit DVC's queue stash holds for each queued experiment."""
    out = {}
    for line in git("log", "-g", "--format=%H %gs", STASH, cwd=repo).splitlines():
        rev, message = line.split(" ", 1)
        out[message.rsplit(":", 1)[-1]] = rev  # "commit: dvc-exp:<rev>:<baseline>:<name>"
    return out


def queued(repo: Path) -> dict[str, dict]:
    """name -> params.yaml of each queued experiment, read from DVC's queue stash commits."""
    return {name: yaml.safe_load(git("show", f"{rev}:params.yaml", cwd=repo))
            for name, rev in queued_revs(repo).items()}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = copy_project(tmp_path_factory.mktemp("grid") / "repo", profile=None)
    (repo / "grid.yaml").write_text(GRID)
    sh("dvc", "repro", "check", cwd=repo)
    commit_all(repo, "grid, and the check stage's dvc.lock")
    # a real stray override: DVC runs the check stage and leaves select.seed=7 in params.yaml
    sh("dvc", "exp", "run", "-S", "select.seed=7", "check", cwd=repo)
    assert "seed: 7" in (repo / "params.yaml").read_text()
    return repo


def test_grid_queues_committed_params_plus_own_overrides_only(repo):
    committed = flatten(yaml.safe_load(git("show", "HEAD:params.yaml", cwd=repo)))
    stray = (repo / "params.yaml").read_text()
    log = sh("python", "-m", "codesift.grid", "grid.yaml", cwd=repo)
    assert "set aside while queueing, then restored: params.yaml" in log
    assert (repo / "params.yaml").read_text() == stray  # the workspace is as it was
    got = queued(repo)
    assert sorted(got) == ["cdas-0.2", "random-0.2"]
    for name, method in (("cdas-0.2", "cdas"), ("random-0.2", "random")):
        expected = {**committed, "select.method": method, "select.ratio": 0.2}
        assert flatten(got[name]) == expected, name
    # dvc.lock rides along: the record of what this machine's cache holds
    lock = (repo / "dvc.lock").read_text()
    assert lock != git("show", "HEAD:dvc.lock", cwd=repo)  # the stray run changed it
    for name in got:
        assert git("show", f"{queued_revs(repo)[name]}:dvc.lock", cwd=repo) == lock, name
    # queueing the same names again is refused before anything is queued
    again = sh("python", "-m", "codesift.grid", "grid.yaml", cwd=repo, check=False)
    assert "cdas-0.2, random-0.2 exist already" in again
    assert len(queued(repo)) == 2


def test_plain_dvc_queue_carries_the_stray_override(repo):
    """The leak the grid avoids, shown on DVC itself."""
    sh("dvc", "exp", "run", "--queue", "-n", "plain", "-S", "select.ratio=0.2", cwd=repo)
    params = flatten(queued(repo)["plain"])
    assert params["select.seed"] == 7 and params["select.ratio"] == 0.2


def test_other_uncommitted_changes_are_refused(repo, tmp_path):
    readme = repo / "README.md"
    readme.write_text(readme.read_text() + "\nedited\n")
    try:
        out = sh("python", "-m", "codesift.grid", "grid.yaml", cwd=repo, check=False)
    finally:
        git("checkout", "README.md", cwd=repo)
    assert "error: uncommitted changes to README.md: queued experiments would run them" in out
