"""evalplus's ground truth: the canonical solutions' outputs and run times, cached on disk.

The whole dataset's is cached as `<cache_dir>/<md5>.pkl` (evalplus's own key and format, so
either tool can reuse the other's file) and serves any subset; a subset alone (`--limit`,
tests) is computed and cached on its own. Files are written to a temp name and renamed, so a
concurrent reader never sees half a pickle.

Why not `evalplus.evaluate.get_groundtruth`: it reads and writes only its module-level
CACHE_DIR (~/.cache/evalplus), which we would have to reassign process-wide. Its body is a
loop over evalplus's own `trusted_exec`, which this module runs the same way (the canonical
solutions are trusted code, run in this process as evalplus runs them).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

from codesift.evaluation.evalplus_data import EvalplusFile


def expected_outputs(spec: EvalplusFile, problems: dict[str, dict], digest: str,
                     task_ids: list[str], cache_dir: str | Path) -> dict[str, dict]:
    """{task_id: {"base", "base_time", "plus", "plus_time"}} of `task_ids`, cached."""
    cache = Path(cache_dir)
    full = cache / f"{digest}.pkl"
    if full.exists():
        expected = _read(full)
    elif set(task_ids) < problems.keys():
        ids_key = hashlib.md5("\n".join(sorted(task_ids)).encode()).hexdigest()[:12]
        part = {t: problems[t] for t in task_ids}
        return _cached(spec, part, cache / f"{digest}-{ids_key}.pkl")
    else:
        expected = _cached(spec, problems, full)
    return {t: expected[t] for t in task_ids}


def _read(path: Path) -> dict:
    with open(path, "rb") as f:
        return pickle.load(f)  # our own cache file, written by _cached


def _cached(spec: EvalplusFile, problems: dict[str, dict], path: Path) -> dict:
    if path.exists():
        return _read(path)
    expected = compute(spec, problems)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(expected, f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return expected


def compute(spec: EvalplusFile, problems: dict[str, dict]) -> dict[str, dict]:
    """get_groundtruth's loop (evalplus 0.3.1), statement for statement."""
    from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS
    from evalplus.gen.util import trusted_exec

    not_none = MBPP_OUTPUT_NOT_NONE_TASKS if spec.dataset == "mbpp" else []
    expected = {}
    for task_id, problem in problems.items():
        oracle = {}
        code = problem["prompt"] + problem["canonical_solution"]
        for name in ("base", "plus"):
            oracle[name], oracle[f"{name}_time"] = trusted_exec(
                code, problem[f"{name}_input"], problem["entry_point"], record_time=True,
                output_not_none=problem["entry_point"] in not_none)
        expected[task_id] = oracle
    return expected
