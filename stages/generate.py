"""generate: sample completions for each benchmark, and the held-out NLL.

in:  models/finetuned   params: eval, template
out: results/samples/<benchmark>.jsonl {task_id, solution} (solution: a full program, raw;
     evaluate sanitises it), results/heldout.json
"""

from __future__ import annotations

from stages._run import run

MODEL = "models/finetuned"
SAMPLES = "results/samples"
HELDOUT = "results/heldout.json"


def main(args) -> None:
    from codesift.config import section
    from codesift.evaluation.benchmarks import load, load_benchmark
    from codesift.evaluation.generation import (
        build_prompt,
        generate_hf,
        generate_vllm,
        heldout_prompt,
        solution,
        stop_strings,
    )
    from codesift.io import write_json, write_jsonl
    from codesift.models import load_model, load_tokenizer
    from codesift.scoring import mean_nll

    cfg, template = section("eval", args.params), section("template", args.params)
    tok = load_tokenizer(MODEL)
    model = load_model(MODEL) if cfg.backend == "hf" else None
    for name in cfg.benchmarks:
        bench = load_benchmark(name, cfg.humaneval_plus_path, cfg.mbpp_plus_path).head(cfg.limit)
        prompts = [build_prompt(t, cfg.prompt_mode, template.prompt) for t in bench.tasks]
        opts = dict(max_new_tokens=cfg.max_new_tokens, n_samples=cfg.n_samples,
                    temperature=cfg.temperature, top_p=cfg.top_p, seed=cfg.seed,
                    stop=stop_strings(cfg.prompt_mode, bench.dataset or "humaneval"))
        if cfg.backend == "vllm":
            completions = generate_vllm(MODEL, tok, prompts, **opts)
        else:
            completions = generate_hf(model, tok, prompts, batch_size=cfg.batch_size, **opts)
        write_jsonl(f"{SAMPLES}/{name}.jsonl", (
            {"task_id": t["task_id"], "solution": solution(t, cfg.prompt_mode, c)}
            for t, cs in zip(bench.tasks, completions, strict=True) for c in cs))
    if model is None:
        model = load_model(MODEL)
    heldout = load("humaneval")
    pairs = [(heldout_prompt(t, cfg.prompt_mode, template.prompt), t["canonical_solution"])
             for t in heldout]
    write_json(HELDOUT, {"heldout_nll": mean_nll(model, tok, pairs, 2048, 16384),
                         "n_tasks": len(heldout)})


if __name__ == "__main__":
    run(main, __doc__)
