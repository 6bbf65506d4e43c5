"""Two scorers on the same records, in one process: do they rank IFD alike, and how fast is
each? Spearman of their IFD, the overlap of their top 40% (what a top-IFD selection at ratio
0.4 would share), and each one's tokens/s. Default: the bootstrap base and SmolLM2 in fp32.
Add `smollm2-bf16=smollm2-135m-instruct:chat:bfloat16` to time bf16: 3.0x faster than fp32
on a CPU with AVX512-BF16/AMX, emulated and ~6x slower without them (keep --n small there).
models/scorer (the materialised SmolLM2 after make run) times what the ifd stage runs.
bench_select_quality.py gives the same agreement over the whole pool.

    .venv/bin/python bench/bench_scorers.py --n 150      # after make run (models/base)

Scorers are `NAME=MODEL:TEMPLATE:DTYPE` (MODEL: a directory, .gguf or packaged name).
Records: the first --n of data/prepared/train.jsonl. Last stdout line: {"<scorer>":
{"tokens_per_second": x, "seconds": s, "median_ifd": m}, "agreement": {"<a> vs <b>":
{"spearman": r, "top40_overlap": f}}}.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the repo's codesift

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402

DEFAULT = ["bootstrap=models/base:alpaca:float32",
           "smollm2-fp32=smollm2-135m-instruct:chat:float32"]


def ifd_of(spec: str, records: list[dict], max_len: int, batch_tokens: int) -> tuple:
    import numpy as np

    from codesift.models import load_model, load_tokenizer
    from codesift.scoring import score
    from codesift.templates import load_template

    model_name, template_name, dtype = spec.split(":")
    tok, model = load_tokenizer(model_name), load_model(model_name, dtype)
    template = load_template(ROOT / "templates", template_name)
    pairs = [template.pair(tok, r["instruction"], r["response"]) for r in records]
    res, stats = score(model, tok, pairs, max_len, batch_tokens, progress=True)
    return np.array([np.nan if r.ifd is None else r.ifd for r in res]), stats


def agreement(a, b) -> dict:
    import numpy as np
    from scipy.stats import spearmanr

    ok = np.isfinite(a) & np.isfinite(b)
    k = int(0.4 * ok.sum())
    top = [set(np.flatnonzero(ok)[np.argsort(-x[ok], kind="stable")[:k]]) for x in (a, b)]
    return {"spearman": round(float(spearmanr(a[ok], b[ok]).statistic), 4),
            "top40_overlap": round(len(top[0] & top[1]) / max(1, k), 4), "n": int(ok.sum())}


def main() -> None:
    import numpy as np
    import torch

    from codesift.io import read_jsonl

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scorer", nargs="+", default=DEFAULT, metavar="NAME=MODEL:TEMPLATE:DTYPE")
    ap.add_argument("--n", type=int, default=150, help="records (default: %(default)s)")
    ap.add_argument("--data", default="data/prepared/train.jsonl")
    ap.add_argument("--max-len", type=int, default=512)
    ap.add_argument("--batch-tokens", type=int, default=2048)
    args = ap.parse_args()
    torch.set_num_threads(2)
    records = [r for r in read_jsonl(args.data) if "instruction" in r][:args.n]
    result, ifds = {}, {}
    for name, spec in (s.split("=", 1) for s in args.scorer):
        ifds[name], st = ifd_of(spec, records, args.max_len, args.batch_tokens)
        result[name] = {"tokens_per_second": round(st.tokens / st.seconds, 1),
                        "seconds": round(st.seconds, 1), "tokens": st.tokens,
                        "median_ifd": round(float(np.nanmedian(ifds[name])), 4)}
        print(f"{name}: {result[name]}", file=sys.stderr, flush=True)
    result["agreement"] = {f"{a} vs {b}": agreement(ifds[a], ifds[b])
                           for a, b in itertools.combinations(ifds, 2)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
