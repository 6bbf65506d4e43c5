"""Evaluating samples: each one judged by its benchmark (in the sandbox), then pass@k.

Samples are evalplus's format: rows with `task_id` and `solution` (a full program) or
`completion` (appended to the task prompt), optionally through evalplus's sanitizer. Every
task needs at least one sample. The verdict rows are byte-stable: same samples, same bytes.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed

import numpy as np
from tqdm import tqdm

from codesift import CodesiftError
from codesift.config import EvalConfig
from codesift.evaluation.benchmarks import Benchmark, Judge
from codesift.evaluation.judging import PASS


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of the Codex paper: 1 - C(n-c, k) / C(n, k), computed stably."""
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def prepare_samples(bench: Benchmark, samples: list[dict], sanitize: bool) -> list[dict]:
    """{task_id, solution} per sample, in order: `solution`, or `completion` appended to the
    prompt; optionally through evalplus's sanitizer."""
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


def evaluate_samples(bench: Benchmark, samples: list[dict], cfg: EvalConfig,
                     judge: Judge | None = None) -> tuple[list[dict], dict]:
    """Verdict rows ({task_id, passed, base_status, plus_status, detail}) in sample order,
    and the summary (see `summarize`). `judge`: one made already (else `bench.judge(cfg)`)."""
    prepared = prepare_samples(bench, samples, cfg.sanitize)
    judge = judge or bench.judge(cfg)
    by_id = {t["task_id"]: t for t in bench.tasks}
    rows: list[dict] = [{}] * len(prepared)
    with ThreadPoolExecutor(max_workers=cfg.workers) as pool, \
            tqdm(total=len(prepared), desc=f"evaluate {bench.name}", unit="sample") as bar:
        futures = {pool.submit(judge, by_id[s["task_id"]], s["solution"]): i
                   for i, s in enumerate(prepared)}
        for future in as_completed(futures):
            i, v = futures[future], future.result()
            rows[i] = {"task_id": prepared[i]["task_id"], "passed": v.passed,
                       "base_status": v.base_status, "plus_status": v.plus_status,
                       "detail": v.detail}
            bar.update(1)
    return rows, summarize(bench, rows, cfg.k)


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
