"""ifd: IFD and conditional perplexity of every prepared sample under the base model.

in:  models/base, data/prepared/train.jsonl   params: ifd, template, model.dtype
out: data/scores/ifd.jsonl {id, ce_cond, ce_uncond, ifd, loss_ratio, ppl_cond,
     n_answer_tokens, truncated, error}, metrics/ifd.json
"""

from __future__ import annotations

import statistics

from stages._run import run

BASE = "models/base"
PREPARED = "data/prepared/train.jsonl"
OUT = "data/scores/ifd.jsonl"
METRICS = "metrics/ifd.json"


def main(args) -> None:
    from codesift.config import section
    from codesift.io import read_jsonl, write_json, write_jsonl
    from codesift.models import load_model, load_tokenizer
    from codesift.scoring import score
    from codesift.templates import prompt_text

    cfg, template = section("ifd", args.params), section("template", args.params)
    dtype = section("model", args.params).dtype
    records = read_jsonl(PREPARED)
    tok, model = load_tokenizer(BASE), load_model(BASE, dtype)
    pairs = [(prompt_text(template.prompt, r["instruction"]), r["response"]) for r in records]
    scores, stats = score(model, tok, pairs, cfg.max_len, cfg.batch_tokens)
    write_jsonl(OUT, ({"id": r["id"], **s.as_dict()} for r, s in zip(records, scores, strict=True)))
    ifds = [s.ifd for s in scores if s.ifd is not None]
    write_json(METRICS, {
        **stats.__dict__, "tokens_per_second": stats.tokens / stats.seconds,
        "mean_ifd": statistics.fmean(ifds) if ifds else None,
        "median_ifd": statistics.median(ifds) if ifds else None,
        "frac_ifd_ge_1": sum(v >= 1 for v in ifds) / len(ifds) if ifds else None,
    })


if __name__ == "__main__":
    run(main, __doc__)
