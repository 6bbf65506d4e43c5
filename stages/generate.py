"""generate: sample completions for each benchmark, and the held-out NLL.

in:  --model, --templates   params: eval, template
out: --samples/<benchmark>.jsonl {task_id, solution} (solution: a full program, raw;
     evaluate sanitises it), --heldout {"heldout_nll", "n_tasks"}
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from stages._run import run

if TYPE_CHECKING:
    from codesift.config import Params


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="the fine-tuned model dir")
    p.add_argument("--templates", required=True, help="the prompt templates folder")
    p.add_argument("--samples", required=True, help="output dir: <benchmark>.jsonl each")
    p.add_argument("--heldout", required=True, help="output JSON: the held-out NLL")


def main(args: argparse.Namespace, params: Params) -> None:
    from pathlib import Path

    from codesift.evaluation.benchmarks import load_benchmark
    from codesift.evaluation.generation import generate_hf, generate_vllm, heldout_prompt
    from codesift.io import write_json, write_jsonl
    from codesift.models import load_model, load_tokenizer
    from codesift.scoring import mean_nll
    from codesift.templates import load_template

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
    pairs = [(heldout_prompt(t, cfg.prompt_mode, template, tok), t["canonical_solution"])
             for t in heldout]
    write_json(args.heldout, {"heldout_nll": mean_nll(model, tok, pairs, 2048, 16384),
                              "n_tasks": len(heldout)})


if __name__ == "__main__":
    run(main, __doc__, add_args)
