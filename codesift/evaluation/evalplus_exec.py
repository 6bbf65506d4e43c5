"""evalplus's evaluation (HumanEval+ / MBPP+), every sample run in our sandbox, judged here.

Why not `evalplus.evaluate`: it runs samples in its own process tree under `reliability_guard`
(which is not a sandbox), waits on stdin, silently reuses an old `*_eval_results.json` and
caches ground truth under ~/.cache. What is evalplus's own code here: the datasets, the
ground truth (`get_groundtruth`, in a cache dir we choose), the per-test time limits, the
driver's `time_limit` / `swallow_io` / `reliability_guard` / `create_tempdir`, `is_floats` and
the special oracles. Hand-written: the driver's reporting (`_checker.py`), the pickle whitelist
and `_judge`, a port of the comparison loop of evalplus's `unsafe_execute`, which there is fused
with the execution of the sample; here it runs in this process on outputs unpickled as plain
builtins, so nothing the sample defines takes part in a comparison.
"""

from __future__ import annotations

import ast
import base64
import builtins
import collections
import contextlib
import functools
import hashlib
import io
import json
import math
import os
import pickle
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesift.evaluation.sandbox import Limits, Outcome, run_program

PASS, FAIL, TIMEOUT = "pass", "fail", "timeout"  # evalplus's status strings
MAGIC = b"CSR1"  # frame marker, as in _checker.py
CHANNEL_MB = 512  # the biggest honest output set (HumanEval/15's) pickles to ~150 MB
STARTUP_S = 10.0  # sandbox wall clock beyond evalplus's per-set deadlines (start, transfer)
FORK_WAIT_S = 10.0  # per set: how long the driver waits for a process slot (see _checker.fork)
EVALPLUS_TASK_TIMEOUT_S = 60.0  # evalplus's EVALPLUS_TIMEOUT_PER_TASK default
CHECKER = Path(__file__).with_name("_checker.py").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Settings:
    """evalplus's knobs (defaults as in evalplus 0.3.1)."""

    min_time_limit: float = 1.0  # DEFAULT_MIN_TIME_LIMIT
    gt_time_limit_factor: float = 4.0  # DEFAULT_GT_TIME_LIMIT_FACTOR
    memory_mb: int = 4096  # EVALPLUS_MAX_MEMORY_BYTES default: AS, DATA and STACK cap


class Opaque:
    """An output that could not cross as builtins; equal to nothing but itself."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


def ground_truth(dataset: str, path: str, digest: str, task_ids: list[str],
                 cache_dir: str | Path) -> dict:
    """evalplus's expected outputs and reference times of `task_ids`, cached in `cache_dir`.

    The whole dataset is cached as `<md5>.pkl` (evalplus's key) and serves any subset; a
    subset alone (`--limit`, tests) is computed and cached on its own. evalplus's
    `get_groundtruth` runs the canonical solutions in this process (trusted code) and writes
    to its module-level CACHE_DIR: we point that at a fresh temp dir and move the file into
    place, so a concurrent reader never sees half a pickle.
    """
    from codesift.evaluation.benchmarks import evalplus_problems

    cache = Path(cache_dir)
    full = cache / f"{digest}.pkl"
    if full.exists():
        with open(full, "rb") as f:
            expected = pickle.load(f)
    else:
        problems = evalplus_problems(dataset, path)
        if set(task_ids) < problems.keys():
            ids_key = hashlib.md5("\n".join(sorted(task_ids)).encode()).hexdigest()[:12]
            part = {t: problems[t] for t in task_ids}
            return _cached_ground_truth(dataset, part, f"{digest}-{ids_key}", cache)
        expected = _cached_ground_truth(dataset, problems, digest, cache)
    return {t: expected[t] for t in task_ids}


def _cached_ground_truth(dataset: str, problems: dict, key: str, cache: Path) -> dict:
    """evalplus's get_groundtruth, cached atomically as `<cache>/<key>.pkl`."""
    final = cache / f"{key}.pkl"
    if final.exists():
        with open(final, "rb") as f:
            return pickle.load(f)
    import evalplus.evaluate as ev
    from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS

    cache.mkdir(parents=True, exist_ok=True)
    not_none = MBPP_OUTPUT_NOT_NONE_TASKS if dataset == "mbpp" else []
    saved = ev.CACHE_DIR
    with tempfile.TemporaryDirectory(dir=cache) as tmp, \
            contextlib.redirect_stdout(sys.stderr):
        ev.CACHE_DIR = tmp
        try:
            expected = ev.get_groundtruth(problems, key, not_none)
        finally:
            ev.CACHE_DIR = saved
        os.replace(Path(tmp) / f"{key}.pkl", final)
    return expected


def time_limits(ref_times: list[float], s: Settings) -> list[float]:
    """evalplus's per-test limits: max(min_time_limit, factor * reference time)."""
    return [max(s.min_time_limit, s.gt_time_limit_factor * t) for t in ref_times]


def set_deadline(limits: list[float]) -> float:
    """When evalplus kills a test set's process: join(timeout + 1), timeout = min(60, sum) + 1."""
    return min(EVALPLUS_TASK_TIMEOUT_S, sum(limits)) + 2.0


def extras(dataset: str, entry_point: str) -> dict[str, bool]:
    """Which extra views of an output the special oracles of this task need."""
    from evalplus.eval._special_oracle import MBPP_OUTPUT_SET_EQ_TASKS

    if dataset == "humaneval":
        return {"inp": entry_point == "find_zero"}
    return {"inp": entry_point in ("surface_Area", "digit_distance_nums"),
            "set": entry_point in MBPP_OUTPUT_SET_EQ_TASKS}


@functools.cache
def evalplus_modules() -> frozenset[str]:
    """Modules already loaded in evalplus's test processes when its reliability_guard runs:
    they fork from an evaluator that imported `evalplus.evaluate` (numpy, pandas, ...), so
    importing one of them there is a no-op, while a fresh import under the guard can fail
    (numpy's does). Asked of a fresh interpreter, once per process."""
    code = "import sys, evalplus.evaluate, fire; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    return frozenset(out.stdout.split())


def preloads(solution: str) -> list[str]:
    """The modules the solution imports that evalplus would have had loaded already."""
    try:
        tree = ast.parse(solution)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    loaded, found = evalplus_modules(), set()
    for name in names:
        parts = name.split(".")
        prefixes = (".".join(parts[:i]) for i in range(len(parts), 0, -1))
        found.update(p for p in prefixes if p in loaded)
    return sorted(found, key=lambda m: (m.count("."), m))


def program(solution: str, task: dict, dataset: str, sets: list[dict], s: Settings) -> str:
    """The sandboxed program: the driver, then `main` on the pickled task (no expected outputs)."""
    import evalplus.eval.utils

    cfg = {"code": solution, "entry_point": task["entry_point"], "sets": sets,
           "memory_bytes": s.memory_mb << 20, "utils_path": evalplus.eval.utils.__file__,
           "extras": extras(dataset, task["entry_point"]), "fork_wait_s": FORK_WAIT_S,
           "preload": preloads(solution)}
    blob = base64.b85encode(pickle.dumps(cfg, protocol=5))
    return f"{CHECKER}\n\nPAYLOAD = {blob!r}\nmain(PAYLOAD)\n"


# --- unpickling what the sandbox sent: builtins only ---------------------------------------

def _np_scalar(dtype: str, value: object) -> object:
    return np.dtype(_numeric_dtype(dtype)).type(value)


def _np_array(dtype: str, shape: tuple, data: list) -> np.ndarray:
    return np.array(data, dtype=_numeric_dtype(dtype)).reshape(shape)


def _numeric_dtype(dtype: str) -> str:
    if not isinstance(dtype, str) or np.dtype(dtype).kind not in "biufcUS":
        raise pickle.UnpicklingError(f"numpy dtype {dtype!r} not accepted")
    return dtype


_SAFE = {("builtins", n): getattr(builtins, n) for n in
         ("complex", "set", "frozenset", "int", "float", "str", "bool", "list", "tuple", "dict")}
_SAFE.update({
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "Counter"): collections.Counter,
    ("__main__", "_DefaultDict"): lambda d: collections.defaultdict(None, d),
    ("__main__", "_NpScalar"): _np_scalar,
    ("__main__", "_NpArray"): _np_array,
    ("__main__", "_Opaque"): lambda name: Opaque(str(name)),
})


class _SafeUnpickler(pickle.Unpickler):
    """Only the callables above; no byte/bytearray constructors (size bombs), no classes of
    the sample: what comes out is plain data, whatever the sandbox wrote."""

    def find_class(self, module: str, name: str) -> object:
        try:
            return _SAFE[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{module}.{name}")


def _loads(data: bytes) -> object:
    """Unpickle sandbox data; a value of a type we do not accept becomes an Opaque."""
    try:
        return _SafeUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as e:
        return Opaque(str(e))


def _fields(raw: bytes) -> dict:
    fields = _SafeUnpickler(io.BytesIO(raw)).load()
    if not isinstance(fields, dict) or not all(isinstance(v, bytes) for v in fields.values()):
        raise ValueError("malformed output frame")
    out = {k: _loads(v) for k, v in fields.items() if k in ("out", "inp", "set")}
    if "out" not in out:
        raise ValueError("malformed output frame")
    return out


def parse_frames(data: bytes) -> dict[str, dict]:
    """{set name: {"outputs": [raw, ...], "end": header | None}}; ValueError if tampered with.

    The driver writes outputs in order and one end frame per set; anything else on the
    channel came from the sample and voids all its results.
    """
    sets: dict[str, dict] = {}
    pos, view = 0, memoryview(data)
    while pos < len(data):
        if data[pos:pos + 4] != MAGIC or pos + 12 > len(data):
            raise ValueError("malformed result channel")
        n_head, n_body = struct.unpack_from("<II", data, pos + 4)
        head = json.loads(bytes(view[pos + 12:pos + 12 + n_head]))
        body = view[pos + 12 + n_head:pos + 12 + n_head + n_body]
        pos += 12 + n_head + n_body
        if pos > len(data) or not isinstance(head, dict) or not isinstance(head.get("set"), str):
            raise ValueError("malformed result channel")
        entry = sets.setdefault(head["set"], {"outputs": [], "end": None})
        if entry["end"] is not None:
            raise ValueError("result channel: frames after the end of a set")
        if "end" in head:
            entry["end"] = head
        elif head.get("i") == len(entry["outputs"]):
            entry["outputs"].append(body)
        else:
            raise ValueError("result channel: outputs out of order")
    return sets


# --- judging: evalplus's comparison, in this process ---------------------------------------

def _judge(dataset: str, task: dict, inputs: list, expected: list, frames: dict | None
           ) -> tuple[str, int | None, str]:
    """(status, failing test index, why), as evalplus's untrusted_check with fast_check.

    A port of unsafe_execute's loop (evalplus 0.3.1), statement for statement, including
    the `atol` that stays raised once a float output was seen and find_zero's `continue`
    that skips the bookkeeping (so HumanEval/32 never passes, as in evalplus).
    """
    from evalplus.eval import is_floats
    from evalplus.eval._special_oracle import (
        MBPP_OUTPUT_NOT_NONE_TASKS,
        MBPP_OUTPUT_SET_EQ_TASKS,
        _digit_distance_nums,
        _poly,
        _surface_Area,
    )

    frames = frames or {"outputs": [], "end": None}
    entry_point, atol = task["entry_point"], task["atol"]
    details, progress = [False] * len(inputs), 0
    for i, raw in enumerate(frames["outputs"][:len(inputs)]):
        out = None
        try:
            view = _fields(bytes(raw))
            out, inp, exp = view["out"], view.get("inp", inputs[i]), expected[i]
            exact_match = out == exp
            if dataset == "mbpp":
                if "are_equivalent" == entry_point:  # Mbpp/164 special oracle
                    exact_match = exact_match or True
                elif "sum_div" == entry_point:  # Mbpp/295 special oracle
                    exact_match = exact_match or out == 0
                elif "surface_Area" == entry_point:  # Mbpp/581 special oracle
                    exact_match = exact_match or abs(out - _surface_Area(*inp)) <= atol
                elif "digit_distance_nums" == entry_point:  # Mbpp/558 special oracle
                    exact_match = exact_match or out == _digit_distance_nums(*inp)
                elif entry_point in MBPP_OUTPUT_SET_EQ_TASKS:
                    exact_match = view["set"] == set(exp)  # set(out), taken in the sandbox
                elif entry_point in MBPP_OUTPUT_NOT_NONE_TASKS:
                    if isinstance(out, bool):
                        exact_match = out == exp
                    else:
                        exact_match = exp == (out is not None)
            if dataset == "humaneval":
                if "find_zero" == entry_point:
                    assert abs(_poly(*inp, out)) <= atol
                    continue
            if atol == 0 and is_floats(exp):
                atol = 1e-6  # enforce atol for float comparison
            if not exact_match and atol != 0:
                assert type(out) is type(exp)
                if isinstance(exp, (list, tuple)):
                    assert len(out) == len(exp)
                assert np.allclose(out, exp, rtol=1e-07, atol=atol)
            else:
                assert exact_match
        except Exception as e:
            why = f"{out.type_name} is not plain data" if isinstance(out, Opaque) else repr(e)
            return FAIL, i, f"test {i}: wrong output ({why[:200]})"
        details[i] = True
        progress += 1
    return _final_status(frames, inputs, details, progress)


def _final_status(frames: dict, inputs: list, details: list[bool], progress: int
                  ) -> tuple[str, int | None, str]:
    """The rest of untrusted_check: what ended the run, then 'all tests ran and passed'."""
    end = frames["end"]
    if end is None:  # killed at the deadline, or died: evalplus's status stays unknown
        return TIMEOUT, len(frames["outputs"]), "no result (time limit or crash)"
    error = str(end.get("error", ""))[:300]
    if end["end"] == "exec_error":
        return FAIL, None, f"solution did not load: {error}"
    if end["end"] == "raised":
        i = end.get("i")
        return FAIL, i if isinstance(i, int) else None, f"test {i}: {error}"
    if end["end"] != "done" or len(frames["outputs"]) != len(inputs):
        return FAIL, None, "malformed result channel"
    if progress != len(inputs) or not all(details):
        return FAIL, progress, "not every test was counted (evalplus bookkeeping)"
    return PASS, None, ""


@dataclass(frozen=True)
class SetResult:
    """One sample's verdict on one test set."""

    status: str  # pass | fail | timeout
    fail_index: int | None
    why: str


def check_sample(solution: str, task: dict, dataset: str, expected: dict, names: list[str],
                 s: Settings) -> tuple[dict[str, SetResult], Outcome]:
    """Run one solution on the named test sets (base, plus) in one sandbox; judge each set."""
    sets = []
    for name in names:
        limits = time_limits(expected[f"{name}_time"], s)
        sets.append({"name": name, "inputs": task[f"{name}_input"], "time_limits": limits,
                     "deadline_s": set_deadline(limits)})
    budget = sum(t["deadline_s"] + FORK_WAIT_S for t in sets) + STARTUP_S
    box = Limits(timeout_s=budget, cpu_s=math.ceil(budget) + 1, memory_mb=s.memory_mb)
    outcome = run_program(program(solution, task, dataset, sets, s), box, CHANNEL_MB)
    try:
        frames = parse_frames(outcome.channel)
    except Exception as e:  # anything but the driver's frames: the sample wrote there
        bad = SetResult(FAIL, None, f"{type(e).__name__}: {e}"[:300])
        return {name: bad for name in names}, outcome
    results = {}
    for t in sets:
        status, index, why = _judge(dataset, task, t["inputs"], expected[t["name"]],
                                    frames.get(t["name"]))
        results[t["name"]] = SetResult(status, index, why)
    return results, outcome
