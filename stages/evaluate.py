"""evaluate: test each benchmark's samples, every one in the sandbox; pass@k.

in:  --samples/<benchmark>.jsonl, --heldout   params: eval
out: --out/<benchmark>.jsonl (verdict per sample: task_id, passed, base_status, plus_status,
     detail; byte-stable), --metrics ({"<benchmark>": {"pass@k", "n_tasks"}; plus
     benchmarks also "base" and "plus"}, "heldout_nll", "valid_loss", "seconds")
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from stages._run import run

if TYPE_CHECKING:
    from codesift.config import Params


PATHS = {  # every path comes from dvc.yaml's cmd
    "--samples": "dir of <benchmark>.jsonl samples",
    "--heldout": "generate's held-out NLL JSON",
    "--out": "output dir: <benchmark>.jsonl verdicts",
    "--metrics": "output metrics JSON",
}


def main(args: argparse.Namespace, params: Params) -> None:
    import time
    from pathlib import Path

    from codesift import CodesiftError
    from codesift.evaluation.benchmarks import load_benchmark
    from codesift.evaluation.execution import evaluate_samples, read_samples
    from codesift.evaluation.settings import JudgeSettings
    from codesift.io import read_json, write_json, write_jsonl

    start = time.perf_counter()
    cfg = params.eval
    judge = JudgeSettings.of(cfg)  # the one place params meet the evaluation library
    benches = [load_benchmark(name, cfg.datasets).head(cfg.limit) for name in cfg.benchmarks]
    metrics: dict = {}
    for bench in benches:
        path = Path(args.samples) / f"{bench.name}.jsonl"
        if not path.is_file():
            raise CodesiftError(f"{path}: no samples of {bench.name} (generate makes them)")
        samples = read_samples(path)
        verdicts, summary = evaluate_samples(bench, samples, judge)
        write_jsonl(Path(args.out) / f"{bench.name}.jsonl", verdicts)
        metrics[bench.name] = summary
        print(f"evaluate: {bench.name} " + " ".join(
            f"{k}={v:.3f}" for k, v in summary.items() if k.startswith("pass@")))
    heldout = read_json(args.heldout)
    metrics["heldout_nll"], metrics["valid_loss"] = heldout["heldout_nll"], heldout["valid_loss"]
    metrics["seconds"] = round(time.perf_counter() - start, 1)
    write_json(args.metrics, metrics)


if __name__ == "__main__":
    run(main, __doc__, PATHS)
