"""generate: sample completions for each benchmark, and the held-out losses.

in:  --model, --valid (the validation split), --templates   params: eval, template
out: --samples/<benchmark>.jsonl {task_id, solution} (solution: a full program, raw;
     evaluate sanitises it), --heldout {"heldout_nll", "n_tasks", "valid_loss", "n_valid"}
     (valid_loss of raw-code records: their plain next-token loss),
     --metrics {"seconds"}
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from stages._run import run

if TYPE_CHECKING:
    from codesift.config import Params


PATHS = {  # every path comes from dvc.yaml's cmd
    "--model": "the fine-tuned model dir",
    "--valid": "the validation split (JSONL)",
    "--templates": "the prompt templates folder",
    "--samples": "output dir: <benchmark>.jsonl each",
    "--heldout": "output JSON: the held-out losses",
    "--metrics": "output metrics JSON (timings)",
}


def main(args: argparse.Namespace, params: Params) -> None:
    import time
    from pathlib import Path

    from codesift.evaluation.benchmarks import load_benchmark
    from codesift.evaluation.generation import generate_hf, generate_vllm, heldout_prompt
    from codesift.io import read_jsonl, write_json, write_jsonl
    from codesift.models import load_model, load_tokenizer
    from codesift.scoring import LOSS_BATCH_TOKENS, LOSS_MAX_LEN, mean_nll, validation_loss
    from codesift.templates import load_template

    start = time.perf_counter()
    cfg = params.eval
    # every benchmark (name, files) up front: a typo fails before anything is generated
    benches = [load_benchmark(name, cfg.datasets).head(cfg.limit) for name in cfg.benchmarks]
    heldout = load_benchmark("humaneval", cfg.datasets).tasks
    template = load_template(args.templates, params.template.name, params.template.system)
    tok = load_tokenizer(args.model)
    model = load_model(args.model) if cfg.backend == "hf" else None
    for bench in benches:
        prompts = [bench.prompt(t, cfg.prompt_mode, template, tok) for t in bench.tasks]
        opts = dict(max_new_tokens=cfg.max_new_tokens, n_samples=cfg.n_samples,
                    temperature=cfg.temperature, top_p=cfg.top_p, seed=cfg.seed,
                    stop=bench.stop_strings(cfg.prompt_mode))
        if model is None:
            completions = generate_vllm(args.model, tok, prompts, **opts)
        else:
            completions = generate_hf(model, tok, prompts, batch_size=cfg.batch_size, **opts)
        write_jsonl(Path(args.samples) / f"{bench.name}.jsonl", (
            {"task_id": t["task_id"], "solution": bench.solution(t, cfg.prompt_mode, c)}
            for t, cs in zip(bench.tasks, completions, strict=True) for c in cs))
    if model is None:
        model = load_model(args.model)
    eos = tok.eos_token or ""  # the metric's answer: the canonical solution, then EOS
    pairs = [(heldout_prompt(t, cfg.prompt_mode, template, tok), t["canonical_solution"] + eos)
             for t in heldout]
    valid = read_jsonl(args.valid)
    write_json(args.heldout, {
        "heldout_nll": mean_nll(model, tok, pairs, LOSS_MAX_LEN, LOSS_BATCH_TOKENS),
        "n_tasks": len(heldout),
        "valid_loss": validation_loss(model, tok, template, valid, LOSS_MAX_LEN,
                                      LOSS_BATCH_TOKENS),
        "n_valid": len(valid)})
    write_json(args.metrics, {"seconds": time.perf_counter() - start})


if __name__ == "__main__":
    run(main, __doc__, PATHS)
