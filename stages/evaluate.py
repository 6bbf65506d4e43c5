"""evaluate: test each benchmark's samples, every one in the sandbox; pass@k.

in:  results/samples/, results/heldout.json   params: eval
out: results/eval/<benchmark>.jsonl (verdict per sample: task_id, passed, base_status,
     plus_status, detail), metrics/eval.json ({"<benchmark>": {"pass@k", "n_tasks"}; plus
     benchmarks also "base" and "plus"}, "heldout_nll")
"""

from __future__ import annotations

from stages._run import run

SAMPLES = "results/samples"
HELDOUT = "results/heldout.json"
OUT = "results/eval"
METRICS = "metrics/eval.json"


def main(args) -> None:
    from codesift.config import section
    from codesift.evaluation.benchmarks import load_benchmark
    from codesift.evaluation.evalplus_exec import Settings
    from codesift.evaluation.execution import evaluate
    from codesift.evaluation.sandbox import Limits
    from codesift.io import read_json, read_jsonl, write_json, write_jsonl

    cfg = section("eval", args.params)
    limits = Limits(timeout_s=cfg.timeout_s, cpu_s=int(cfg.timeout_s) + 1,
                    memory_mb=cfg.memory_mb)
    settings = Settings(cfg.min_time_limit, cfg.gt_time_limit_factor, cfg.memory_mb)
    metrics: dict = {}
    for name in cfg.benchmarks:
        bench = load_benchmark(name, cfg.humaneval_plus_path, cfg.mbpp_plus_path).head(cfg.limit)
        samples = read_jsonl(f"{SAMPLES}/{name}.jsonl")
        verdicts, summary = evaluate(bench, samples, cfg.k, limits, cfg.workers, cfg.sanitize,
                                     settings, cfg.cache_dir)
        write_jsonl(f"{OUT}/{name}.jsonl", verdicts)
        metrics[name] = summary
        print(f"evaluate: {name} " + " ".join(f"{k}={v:.3f}" for k, v in summary.items()
                                              if k.startswith("pass@")))
    metrics["heldout_nll"] = read_json(HELDOUT)["heldout_nll"]
    write_json(METRICS, metrics)


if __name__ == "__main__":
    run(main, __doc__)
