"""Evaluating samples: each one judged by its benchmark (in the sandbox), then pass@k.

Samples are evalplus's format: rows with `task_id` and `solution` (a full program) or
`completion` (appended to the task prompt), optionally through evalplus's sanitizer (in the
sandbox, with a time limit: `sanitizing.py`). Every task needs at least one sample. A sample
over `MAX_SOLUTION_BYTES`, or one the sanitizer cannot finish, fails with that reason. The
verdict rows are byte-stable: same samples, same bytes.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from tqdm import tqdm

from codesift import CodesiftError
from codesift.evaluation.benchmarks import Benchmark, Judge
from codesift.evaluation.judging import FAIL, PASS
from codesift.evaluation.settings import JudgeSettings
from codesift.io import iter_jsonl

# Far above any generated sample (eval.max_new_tokens 1024 is ~5 KB); past it a sample is
# judged failed unread: evalplus's sanitizer alone would take hours on it.
MAX_SOLUTION_BYTES = 64 << 10


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of the Codex paper: 1 - C(n-c, k) / C(n, k), computed stably."""
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def read_samples(path: str | Path) -> list[dict]:
    """A samples file, each row checked (a string task_id, a string solution or completion);
    a bad row names its file and line."""
    rows = []
    for lineno, s in iter_jsonl(path):
        where = f"{path}:{lineno}"
        if not isinstance(s, dict):
            raise CodesiftError(f"{where}: expected a JSON object, got {type(s).__name__}")
        if not isinstance(s.get("task_id"), str):
            raise CodesiftError(f"{where}: task_id must be a string, got "
                                f"{s.get('task_id')!r:.60}")
        if not isinstance(s.get("solution"), str) and not isinstance(s.get("completion"), str):
            raise CodesiftError(f"{where}: {s['task_id']}: no string solution or completion")
        rows.append(s)
    return rows


def check_task_ids(bench: Benchmark, samples: list[dict]) -> None:
    """Every sample names a task of the benchmark (checked before `head`/`--limit` keeps
    some, so samples of another benchmark are named as such)."""
    known = {t["task_id"] for t in bench.tasks}
    unknown = sorted({str(s.get("task_id")) for s in samples} - known)
    if unknown:
        raise CodesiftError(f"samples name tasks not in {bench.name}, e.g. {unknown[:3]} "
                            "(samples of another benchmark?)")


def prepare_samples(bench: Benchmark, samples: list[dict], cfg: JudgeSettings) -> list[dict]:
    """{task_id, solution} per sample, in order: `solution`, or `completion` appended to the
    prompt; with `cfg.sanitize`, through evalplus's sanitizer. A sample that cannot be judged
    (too big, or the sanitizer gave up) gets an `error` instead."""
    by_id = {t["task_id"]: t for t in bench.tasks}
    check_task_ids(bench, samples)
    missing = sorted(by_id.keys() - {s["task_id"] for s in samples})
    if missing:
        raise CodesiftError(f"{len(missing)} tasks have no sample, e.g. {missing[:3]}")
    out = []
    for i, s in enumerate(samples):
        task = by_id[s["task_id"]]
        if isinstance(s.get("solution"), str):
            code = s["solution"]
        elif isinstance(s.get("completion"), str):  # the sanitizer script adds a newline
            code = task["prompt"] + ("\n" if cfg.sanitize else "") + s["completion"]
        else:
            raise CodesiftError(f"sample {i} ({s['task_id']}): no string solution/completion")
        row = {"task_id": s["task_id"], "solution": code}
        if len(code.encode("utf-8", "replace")) > MAX_SOLUTION_BYTES:
            row["error"] = (f"the sample has {len(code.encode('utf-8', 'replace'))} bytes, over "
                            f"the evaluator's limit of {MAX_SOLUTION_BYTES} (not run)")
        out.append(row)
    if cfg.sanitize:
        _sanitize(out, by_id, cfg)
    return out


def _sanitize(rows: list[dict], by_id: dict[str, dict], cfg: JudgeSettings) -> None:
    from codesift.evaluation.sanitizing import sanitize_all

    todo = [r for r in rows if "error" not in r]
    results = sanitize_all([(r["solution"], by_id[r["task_id"]]["entry_point"]) for r in todo],
                           cfg.workers, cfg.memory_mb)
    for row, (code, error) in zip(todo, results, strict=True):
        if error:
            row["error"] = error
        else:
            row["solution"] = code


def evaluate_samples(bench: Benchmark, samples: list[dict], cfg: JudgeSettings,
                     judge: Judge | None = None) -> tuple[list[dict], dict]:
    """Verdict rows ({task_id, passed, base_status, plus_status, detail}) in sample order,
    and the summary (see `summarize`). `judge`: one made already (else `bench.judge(cfg)`)."""
    return judge_prepared(bench, prepare_samples(bench, samples, cfg), cfg, judge)


def judge_prepared(bench: Benchmark, prepared: list[dict], cfg: JudgeSettings,
                   judge: Judge | None = None) -> tuple[list[dict], dict]:
    """`evaluate_samples` on samples `prepare_samples` gave (a caller that shows the code
    judged keeps them)."""
    judge = judge or bench.judge(cfg)
    by_id = {t["task_id"]: t for t in bench.tasks}
    rows: list[dict] = [{}] * len(prepared)
    for i, s in enumerate(prepared):
        if "error" in s:
            rows[i] = {"task_id": s["task_id"], "passed": False, "base_status": FAIL,
                       "plus_status": FAIL if bench.plus else None, "detail": s["error"]}
    prepared_ok = [(i, s) for i, s in enumerate(prepared) if "error" not in s]
    with ThreadPoolExecutor(max_workers=cfg.workers) as pool, \
            tqdm(total=len(prepared_ok), desc=f"evaluate {bench.name}", unit="sample") as bar:
        futures = {pool.submit(judge, by_id[s["task_id"]], s["solution"]): i
                   for i, s in prepared_ok}
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
