"""deita_score: DEITA's complexity and quality scores of the prepared records, from the scorer
LMs in select.deita (cached here, so a sweep over select params scores once). With no scorers
set, it writes an empty file: only select.method deita reads these scores.

in:  --data (prepared JSONL)   params: select.deita.scorer_* (hub ids or local dirs)
out: --out (JSONL {id, complexity, quality, score}, prepared order), --metrics
"""

from __future__ import annotations

import time

from stages._run import run


def main(args, p) -> None:
    from codesift import CodesiftError
    from codesift.deita_scores import complexity_prompt, expected_ratings, quality_prompt
    from codesift.io import read_jsonl, write_json, write_jsonl
    from codesift.models import load_model, load_tokenizer
    from codesift.selection.deita import DeitaOptions

    start = time.perf_counter()
    cfg = p.select.options("deita", DeitaOptions)
    if bool(cfg.scorer_complexity) != bool(cfg.scorer_quality):
        raise CodesiftError("select.deita: set both scorer_complexity and scorer_quality, or "
                            "neither")
    records = read_jsonl(args.data) if cfg.scorer_complexity else []
    scores = {}
    for name, path, prompts in (
            ("complexity", cfg.scorer_complexity,
             [complexity_prompt(r["instruction"]) for r in records]),
            ("quality", cfg.scorer_quality,
             [quality_prompt(r["instruction"], r["response"]) for r in records])):
        if records:
            model, tok = load_model(path, p.model.dtype), load_tokenizer(path)
            scores[name] = expected_ratings(model, tok, prompts, cfg.scorer_max_len,
                                            cfg.scorer_batch_tokens, desc=f"deita {name}")
    write_jsonl(args.out, ({"id": r["id"], "complexity": c, "quality": q, "score": c * q}
                           for r, c, q in zip(records, scores.get("complexity", []),
                                              scores.get("quality", []), strict=True)))
    write_json(args.metrics, {"n_scored": len(records), "seconds": time.perf_counter() - start})


PATHS = {  # every path comes from dvc.yaml's cmd
    "--data": "prepared records (JSONL)",
    "--out": "DEITA scores (JSONL)",
    "--metrics": "metrics JSON",
}


if __name__ == "__main__":
    run(main, __doc__, PATHS)
