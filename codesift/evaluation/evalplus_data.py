"""evalplus's dataset files (HumanEval+ v0.1.10, MBPP+ v0.2.0): checked, then read by path.

A file comes from the `eval.datasets` mapping (`.jsonl` or `.jsonl.gz`) and must have the
md5 its release has, so a figure always names the exact dataset it was computed on.

Why not `get_human_eval_plus()` / `get_mbpp_plus()`: they take no path. They read evalplus's
override variables once, when `evalplus.data` is first imported, and otherwise download to
~/.cache. `read_problems` does what they do on an override path, with evalplus's own pieces:
`stream_jsonl`, `mbpp_deserialize_inputs` and `completeness_check`.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from codesift import CodesiftError


@dataclass(frozen=True)
class EvalplusFile:
    """What evalplus expects of one dataset file."""

    key: str  # its key in eval.datasets
    dataset: str  # evalplus's name: "humaneval" | "mbpp"
    title: str
    md5: str  # of the unzipped content, as evalplus hashes it
    env: str  # evalplus's variable naming the file (the CLIs read it; the library does not)


HUMANEVAL_PLUS = EvalplusFile("humaneval_plus", "humaneval", "HumanEval+ v0.1.10",
                              "fe585eb4df8c88d844eeb463ea4d0302", "HUMANEVAL_OVERRIDE_PATH")
MBPP_PLUS = EvalplusFile("mbpp_plus", "mbpp", "MBPP+ v0.2.0", "ee43ecabebf20deef4bb776a405ac5b1",
                         "MBPP_OVERRIDE_PATH")
FILES = (HUMANEVAL_PLUS, MBPP_PLUS)


def dataset_env() -> dict[str, str]:
    """eval.datasets key -> the environment variable evalplus reads for that file."""
    return {f.key: f.env for f in FILES}


def checked_file(spec: EvalplusFile, datasets: Mapping[str, str]) -> tuple[Path, str]:
    """The file `datasets[spec.key]` names, and its md5 (checked against the release's)."""
    where = f"eval.datasets.{spec.key}"
    raw = datasets.get(spec.key, "")
    if not raw:
        raise CodesiftError(f"{spec.title} needs its evalplus file: set {where} to a .jsonl "
                            "or .jsonl.gz")
    path = Path(raw)
    if not path.is_file():
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


def read_problems(spec: EvalplusFile, path: str | Path) -> dict[str, dict]:
    """Tasks by id, exactly as evalplus's get_human_eval_plus / get_mbpp_plus return them."""
    from evalplus.data.mbpp import mbpp_deserialize_inputs
    from evalplus.data.utils import completeness_check, stream_jsonl

    try:
        plus = {task["task_id"]: task for task in stream_jsonl(str(path))}
        if spec.dataset == "mbpp":
            for task_id, task in plus.items():
                task["base_input"] = mbpp_deserialize_inputs(task_id, task["base_input"])
                task["plus_input"] = mbpp_deserialize_inputs(task_id, task["plus_input"])
        completeness_check("MBPP+" if spec.dataset == "mbpp" else "HumanEval+", plus)
    except (AssertionError, ValueError, KeyError, TypeError) as e:
        raise CodesiftError(f"{path}: not a valid {spec.title} file: {e}")
    return plus
