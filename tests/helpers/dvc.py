"""Helpers for tests that drive a real copy of the pipeline through generic DVC commands.

Everything here is stage-agnostic: output paths come from dvc.lock, never from a list of
stage names, so a rewritten dvc.yaml needs no change here beyond `copy_project`'s rules.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CI_PROFILE = ROOT / "configs" / "ci.yaml"
GIT_ID = ("-c", "user.name=t", "-c", "user.email=t@t")

# What DVC 3.67 prints per stage (dvc/stage/__init__.py, dvc/stage/cache.py).
RUNNING = re.compile(r"Running stage '([^']+)'")
FROM_RUN_CACHE = re.compile(r"Stage '([^']+)' is cached - skipping run, checking out outputs")
UNCHANGED = re.compile(r"Stage '([^']+)' didn't change, skipping")
PULLED = re.compile(r"Pulling data for stage: '([^']+)'")


def env(**extra: str) -> dict[str, str]:
    """The test's environment for DVC: this venv first, offline, no Studio, no analytics,
    no AWS settings of the machine (remotes get theirs from .dvc/config[.local])."""
    e = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_STUDIO", "AWS_"))}
    e.update(PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", HF_HUB_OFFLINE="1",
             DVC_NO_ANALYTICS="1", DVC_STUDIO_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return {**e, **extra}


def sh(*cmd: str | Path, cwd: Path, check: bool = True, **extra_env: str) -> str:
    """Run a command, return stdout+stderr; fail the test with its tail if it fails."""
    out = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env(**extra_env),
                         capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check:
        assert out.returncode == 0, \
            f"{cmd} failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout + out.stderr


def timed(*cmd: str | Path, cwd: Path) -> tuple[str, float]:
    t = time.perf_counter()
    log = sh(*cmd, cwd=cwd)
    return log, time.perf_counter() - t


def git(*args: str, cwd: Path) -> str:
    return sh("git", *GIT_ID, *args, cwd=cwd)


def commit_all(repo: Path, message: str) -> None:
    git("add", "-A", cwd=repo)
    git("commit", "-qm", message, "--allow-empty", cwd=repo)


def ran(log: str) -> set[str]:
    return set(RUNNING.findall(log))


def from_run_cache(log: str) -> set[str]:
    return set(FROM_RUN_CACHE.findall(log))


def copy_project(dst: Path, profile: Path | None = CI_PROFILE) -> Path:
    """A fresh git repo (branch main, one commit) holding the project's tracked and new files,
    without pipeline results (dvc.lock, metrics/, dvclive/), with `profile` merged into
    params.yaml."""
    from codesift.check import check
    from codesift.profiles import apply_profile

    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file() and not f.startswith(("dvclive/", "metrics/")) \
                and f != "dvc.lock":
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dst / f)
    if profile is not None:
        check(dst / "params.yaml", profile)
        apply_profile(dst / "params.yaml", profile)
    sh("git", "init", "-q", "-b", "main", cwd=dst)
    sh("git", "config", "user.name", "t", cwd=dst)
    sh("git", "config", "user.email", "t@t", cwd=dst)
    commit_all(dst, "init")
    return dst


# Loaded by every Python process while CODESIFT_TRACE is set (on PYTHONPATH): records which
# modules of the project a stage's process imported, to compare with the stage's deps.
SITECUSTOMIZE = """
import atexit, json, os, sys
def _dump():
    mods = sorted(m for m in sys.modules if m.split(".")[0] in ("codesift", "stages"))
    with open(os.path.join(os.environ["CODESIFT_TRACE"], f"{os.getpid()}.json"), "w") as f:
        json.dump({"argv": sys.argv, "modules": mods}, f)
atexit.register(_dump)
"""


@dataclass(frozen=True)
class Run:
    """The CI profile reproduced once, committed: tests copy it instead of running it again."""

    repo: Path
    trace: Path  # one JSON per Python process of the repro: its argv and project modules
    log: str


def first_run(root: Path) -> Run:
    repo, trace = root / "repo", root / "trace"
    repo.mkdir()
    trace.mkdir()
    copy_project(repo)
    (trace / "sitecustomize.py").write_text(SITECUSTOMIZE)
    log = sh("dvc", "repro", cwd=repo, PYTHONPATH=str(trace), CODESIFT_TRACE=str(trace))
    commit_all(repo, "baseline run")
    return Run(repo, trace, log)


def copy_run(run: Run, dst: Path) -> Path:
    """A private copy of the run (git history, workspace, DVC cache and run cache)."""
    shutil.copytree(run.repo, dst, symlinks=True)
    return dst


def bare_origin(path: Path) -> Path:
    """`git init --bare` whose HEAD is main, so clones check main out."""
    sh("git", "init", "-q", "--bare", str(path), cwd=path.parent)
    sh("git", "symbolic-ref", "HEAD", "refs/heads/main", cwd=path)
    return path


def clone(src: Path | str, dst: Path) -> Path:
    sh("git", "clone", "-q", str(src), str(dst), cwd=dst.parent)
    sh("git", "config", "user.name", "t", cwd=dst)
    sh("git", "config", "user.email", "t@t", cwd=dst)
    return dst


def lock_outs(repo: Path) -> dict[str, str]:
    """Every stage output in dvc.lock: path -> md5 (dirs end in .dir)."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {o["path"]: o["md5"] for st in lock["stages"].values() for o in st.get("outs", [])}


def artifacts(repo: Path) -> dict[str, dict]:
    return yaml.safe_load((repo / "dvc.yaml").read_text()).get("artifacts", {}) or {}


def same_tree(a: Path, b: Path) -> bool:
    """Byte-identical file or directory trees."""
    if a.is_file() or b.is_file():
        return a.is_file() and b.is_file() and filecmp.cmp(a, b, shallow=False)
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(same_tree(a / d, b / d) for d in cmp.common_dirs)


def assert_restored(clone_dir: Path, reference: Path) -> None:
    """Every output in the clone's dvc.lock is there, byte-identical to the reference
    workspace's, and `dvc status` reports nothing to do."""
    outs = lock_outs(clone_dir)
    assert outs, "dvc.lock lists no outputs"
    differ = [p for p in outs if not same_tree(clone_dir / p, reference / p)]
    assert not differ, f"outputs missing or different after pull: {differ}"
    status = sh("dvc", "status", cwd=clone_dir)
    assert "up to date" in status, status


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")
