"""A grid into DVC's queue, each experiment from the committed params plus its own overrides.

What DVC does (dvc 3.67, `dvc/repo/experiments/queue/base.py`, `_stash_exp`): `dvc exp run
--queue` stashes the workspace's changes to tracked files, applies them on HEAD, applies the
`-S` overrides on top and stores that as the queued experiment. So whatever a previous
`dvc exp run -S a=1` left in params.yaml rides along into every experiment queued after it.
Here params.yaml is set aside (`git stash push -- params.yaml`) while queueing and put back
afterwards. dvc.lock rides along on purpose: it is only a record (DVC reruns any stage whose
params or deps differ from it), and it is the record of what this machine's cache holds; the
committed one may name outputs made elsewhere (metrics with other timings), and then DVC runs
every upstream stage again in every experiment instead of checking it out. Any other
uncommitted change to a tracked file is refused, since queued experiments would run it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from codesift import CodesiftError
from codesift.grid import Grid

LEFTOVERS = ("params.yaml", "dvc.lock")  # the tracked files `dvc exp run` leaves changed
SET_ASIDE = ("params.yaml",)  # of those, what must not reach a queued experiment
STASH_MESSAGE = "codesift.grid: workspace params set aside while queueing"
DONE = {"success", "failed"}


def _run(root: Path, *cmd: str) -> str:
    from codesift.compare.experiments import run_tool

    return run_tool(root, *cmd)


def committed_params(root: Path) -> dict:
    """params.yaml as committed at HEAD (what every queued experiment starts from)."""
    return yaml.safe_load(_run(root, "git", "show", "HEAD:params.yaml")) or {}


def tracked_changes(root: Path) -> list[str]:
    """Tracked files that differ from HEAD (staged or not)."""
    return _run(root, "git", "diff", "--name-only", "HEAD").split()


@contextmanager
def committed_workspace(root: Path) -> Iterator[list[str]]:
    """The committed params while the block runs: a `dvc exp run` leftover params.yaml is
    stashed and restored after; yields the files set aside."""
    changed = tracked_changes(root)
    other = [f for f in changed if f not in LEFTOVERS]
    if other:
        raise CodesiftError(f"uncommitted changes to {', '.join(other)}: queued experiments "
                            "would run them; commit or stash them first")
    stash = [f for f in changed if f in SET_ASIDE]
    if not stash:
        yield []
        return
    _run(root, "git", "stash", "push", "--quiet", "-m", STASH_MESSAGE, "--", *stash)
    try:
        yield stash
    finally:
        try:
            _run(root, "git", "stash", "pop", "--quiet")
        except CodesiftError as e:
            raise CodesiftError(f"{e}\nyour {', '.join(stash)} are in `git stash list` "
                                f"({STASH_MESSAGE!r}): restore with `git stash pop`")


def _refuse_taken(root: Path, names: list[str]) -> None:
    from codesift.compare.experiments import experiment_states

    taken = sorted(set(experiment_states(root)) & set(names))
    if taken:
        raise CodesiftError(f"experiments {', '.join(taken)} exist already (or are queued) "
                            f"at HEAD: `dvc exp remove {' '.join(taken)}` or `dvc queue "
                            f"remove {' '.join(taken)}` first")


def queue(root: Path, grid: Grid, skip: int = 0) -> list[str]:
    """Queue the grid's experiments after the first `skip` (all checked first: params,
    names); returns the files that were set aside while queueing."""
    from codesift.grid import check_params

    check_params(grid, committed_params(root), "params.yaml (HEAD)")
    with committed_workspace(root) as set_aside:
        _refuse_taken(root, [e.name for e in grid.experiments[skip:]])
        for e in grid.experiments[skip:]:
            args = [a for s in e.set_params() for a in ("-S", s)]
            _run(root, "dvc", "exp", "run", "--queue", "-n", e.name, *args)
    return set_aside


def run_first(root: Path, grid: Grid) -> str:
    """Run the grid's first experiment in the workspace (`dvc exp run`, not queued); returns
    success | failed.

    Why: a queued experiment starts from the workspace's dvc.lock, and in a clone whose cache
    is empty (or holds other timings' metrics) that lock names outputs the cache never had, so
    every queued experiment would run prepare, base, ifd and embed again. Run here once, they
    land in this cache and in dvc.lock (params.yaml goes back to HEAD, dvc.lock stays), and
    the queued experiments check them out, or restore them from the run cache where their
    params differ from HEAD's, instead."""
    import subprocess

    from codesift.compare.experiments import tool_env
    from codesift.grid import check_params

    check_params(grid, committed_params(root), "params.yaml (HEAD)")
    first = grid.experiments[0]
    with committed_workspace(root):
        _refuse_taken(root, [e.name for e in grid.experiments])
        args = [a for s in first.set_params() for a in ("-S", s)]
        rc = subprocess.run(["dvc", "exp", "run", "-n", first.name, *args], cwd=root,
                            env=tool_env()).returncode
        _run(root, "git", "checkout", "HEAD", "--", "params.yaml")
    return "success" if rc == 0 else "failed"


def run_queue(root: Path, names: list[str], jobs: int, poll_s: float = 30.0
              ) -> dict[str, str]:
    """`dvc queue start -j jobs`, then wait until every named experiment has finished;
    returns name -> success | failed."""
    from codesift.compare.experiments import experiment_states

    if not names:
        return {}
    _run(root, "dvc", "queue", "start", "-j", str(jobs))
    while True:
        states = experiment_states(root)
        missing = [n for n in names if n not in states]
        if missing:
            raise CodesiftError(f"experiments {', '.join(missing)} left the queue unfinished "
                                "(removed or killed?): see `dvc queue status`")
        if all(states[n] in DONE for n in names):
            return {n: states[n] for n in names}
        time.sleep(poll_s)
