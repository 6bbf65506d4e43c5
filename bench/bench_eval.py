"""Throughput of the sandboxed evalplus evaluation: HumanEval+ canonical solutions, all tests.

The ground truth is computed (or loaded from the cache) first and timed on its own; then all
164 canonical solutions run against the base and plus tests, each in its own sandbox, with
`--workers` sandboxes at a time (2 cores here). Goal: <= 60 s.

Last stdout line: {"benchmark", "n_tasks", "workers", "isolation", "ground_truth_seconds",
"ground_truth_cached", "seconds", "tasks_per_second", "base_pass@1", "plus_pass@1",
"failed": [task ids]} (HumanEval/32 fails by design: evalplus 0.3.1 never passes it).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not bench/: bench/select.py would shadow the stdlib's select

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

from codesift.evaluation.benchmarks import load_benchmark  # noqa: E402
from codesift.evaluation.execution import evaluate_samples  # noqa: E402
from codesift.evaluation.sandbox import isolation_mode  # noqa: E402
from codesift.evaluation.settings import JudgeSettings  # noqa: E402

HE_FILE = ROOT.parent / "shared/data/evalplus/HumanEvalPlus-v0.1.10.jsonl.gz"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset-path", default=str(HE_FILE) if HE_FILE.exists() else "",
                   help="HumanEvalPlus-v0.1.10.jsonl[.gz] (default: ../shared/data's, "
                        "else $HUMANEVAL_OVERRIDE_PATH)")
    p.add_argument("--workers", type=int, default=JudgeSettings.workers,
                   help="parallel sandboxes (default: %(default)s)")
    p.add_argument("--cache-dir", default=str(ROOT / JudgeSettings.cache_dir),
                   help="ground-truth cache (default: the pipeline's)")
    args = p.parse_args()

    path = args.dataset_path or os.environ.get("HUMANEVAL_OVERRIDE_PATH", "")
    bench = load_benchmark("humaneval_plus", {"humaneval_plus": path})
    cfg = JudgeSettings(workers=args.workers, cache_dir=args.cache_dir, sanitize=False)
    cached = (Path(cfg.cache_dir) / f"{bench.digest}.pkl").exists()
    start = time.perf_counter()
    expected = bench.ground_truth(cfg.cache_dir)
    gt_seconds = time.perf_counter() - start
    samples = [{"task_id": t["task_id"], "solution": t["prompt"] + t["canonical_solution"]}
               for t in bench.tasks]
    isolation = isolation_mode()  # probe the sandbox before the clock starts
    start = time.perf_counter()
    verdicts, summary = evaluate_samples(bench, samples, cfg, bench.judge(cfg, expected))
    seconds = time.perf_counter() - start
    print(json.dumps({
        "benchmark": bench.name, "n_tasks": len(bench.tasks), "workers": args.workers,
        "isolation": isolation, "ground_truth_seconds": round(gt_seconds, 1),
        "ground_truth_cached": cached, "seconds": round(seconds, 1),
        "tasks_per_second": round(len(samples) / seconds, 2),
        "base_pass@1": summary["base"]["pass@1"], "plus_pass@1": summary["plus"]["pass@1"],
        "failed": [v["task_id"] for v in verdicts if not v["passed"]]}))


if __name__ == "__main__":
    from codesift.cli import user_errors

    with user_errors():
        main()
