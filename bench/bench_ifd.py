"""IFD engine vs the published reference loop, same model and samples, one process.

The reference (`calculate_ifd.py` of the published repos) scores one sample at a time with
two forward passes (conditioned, unconditioned) at batch size 1. For a fair accuracy check
it is given our token ids (our definition); only the loop structure is theirs.

The engine runs in the pipeline's default layout (`ifd.pack: false`: one length-sorted
sequence per row, plain causal attention) and, for comparison, packed (`ifd.pack: true`).
Each of the three is timed `--repeats` times, interleaved, and its best time counts, since
other jobs on a shared machine only ever add time.

Last stdout line: {"speedup", "max_abs_diff_ifd", "ref_samples_per_s", "ours_samples_per_s",
"packed": {"speedup", "max_abs_diff_ifd", "samples_per_s"}, ...}.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the repo's codesift

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

from codesift.config import IfdConfig  # noqa: E402
from codesift.io import read_jsonl  # noqa: E402
from codesift.models import load_model, load_tokenizer  # noqa: E402
from codesift.scoring import reference_ifd, score  # noqa: E402
from codesift.templates import load_template  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "models/base"),
                   help="base model dir (run `dvc repro base` first)")
    p.add_argument("--data", default=str(ROOT / "data/sample/train.jsonl"))
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--max-len", type=int, default=512)
    p.add_argument("--batch-tokens", type=int, default=IfdConfig().batch_tokens)
    p.add_argument("--template", default="alpaca", help="a templates/ name (default: alpaca)")
    p.add_argument("--repeats", type=int, default=2,
                   help="timed runs of each method, interleaved; the best counts")
    args = p.parse_args()
    torch.set_num_threads(2)
    model, tok = load_model(args.model, "float32"), load_tokenizer(args.model)
    recs = read_jsonl(args.data)[:args.n]
    template = load_template(ROOT / "templates", args.template)
    pairs = [template.pair(tok, r["instruction"], r["response"]) for r in recs]
    runs = {
        "reference": lambda: [reference_ifd(model, tok, pr, an, args.max_len) for pr, an in pairs],
        "rows": lambda: [r.ifd for r in score(model, tok, pairs, args.max_len, args.batch_tokens,
                                              progress=False, pack=False)[0]],
        "packed": lambda: [r.ifd for r in score(model, tok, pairs, args.max_len,
                                                args.batch_tokens, progress=False, pack=True)[0]],
    }
    best, ifds = {name: math.inf for name in runs}, {}
    for _ in range(args.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            ifds[name] = run()
            best[name] = min(best[name], time.perf_counter() - start)
            print(f"{name}: {best[name]:.1f} s (best so far)", file=sys.stderr)
    ref = ifds["reference"]

    def diff(name: str) -> float:
        assert all((a is None) == (b is None) for a, b in zip(ref, ifds[name], strict=True))
        return max(abs(a - b) for a, b in zip(ref, ifds[name], strict=True) if a is not None)

    print(json.dumps({"speedup": best["reference"] / best["rows"],
                      "max_abs_diff_ifd": diff("rows"),
                      "ref_samples_per_s": len(pairs) / best["reference"],
                      "ours_samples_per_s": len(pairs) / best["rows"],
                      "packed": {"speedup": best["reference"] / best["packed"],
                                 "max_abs_diff_ifd": diff("packed"),
                                 "samples_per_s": len(pairs) / best["packed"]},
                      "n": len(pairs), "batch_tokens": args.batch_tokens}))

if __name__ == "__main__":
    from codesift.cli import user_errors

    with user_errors():
        main()
