"""IFD engine vs the published reference loop, same model and samples, one process.

The reference (`calculate_ifd.py` of the published repos) scores one sample at a time with
two forward passes (conditioned, unconditioned) at batch size 1. For a fair accuracy check
it is given our token ids (our definition); only the loop structure is theirs.

Last stdout line: {"speedup", "max_abs_diff_ifd", "ref_samples_per_s", "ours_samples_per_s"}.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not bench/: bench/select.py would shadow the stdlib's select

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

from codesift.io import read_jsonl  # noqa: E402
from codesift.models import load_model, load_tokenizer  # noqa: E402
from codesift.scoring import score  # noqa: E402
from codesift.templates import encode, prompt_text  # noqa: E402


@torch.no_grad()
def reference_ifd(model, tok, prompt: str, answer: str, max_len: int) -> float | None:
    """Batch 1, two forward passes, as the published loop does (with our token ids)."""
    enc = encode(tok, prompt, answer, max_len)
    if enc.error:
        return None
    ids = torch.tensor([enc.input_ids])
    labels = ids.clone()
    labels[0, :enc.n_prompt] = -100
    ce_cond = model(input_ids=ids, labels=labels).loss.item()
    answer_ids = torch.tensor([[tok.bos_token_id, *enc.answer_ids]])
    labels = answer_ids.clone()
    labels[0, 0] = -100
    ce_uncond = model(input_ids=answer_ids, labels=labels).loss.item()
    return math.exp(ce_cond - ce_uncond)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "models/base"),
                   help="base model dir (run `dvc repro base` first)")
    p.add_argument("--data", default=str(ROOT / "data/sample/train.jsonl"))
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--max-len", type=int, default=512)
    p.add_argument("--batch-tokens", type=int, default=8192)
    p.add_argument("--template", default="### Instruction:\n{instruction}\n\n### Response:\n")
    args = p.parse_args()
    torch.set_num_threads(2)
    model, tok = load_model(args.model, "float32"), load_tokenizer(args.model)
    recs = read_jsonl(args.data)[:args.n]
    pairs = [(prompt_text(args.template, r["instruction"]), r["response"]) for r in recs]

    start = time.perf_counter()
    ref = [reference_ifd(model, tok, pr, an, args.max_len) for pr, an in pairs]
    ref_s = time.perf_counter() - start
    print(f"reference: {ref_s:.1f} s", file=sys.stderr)
    start = time.perf_counter()
    ours, _ = score(model, tok, pairs, args.max_len, args.batch_tokens, progress=False)
    ours_s = time.perf_counter() - start
    print(f"engine: {ours_s:.1f} s", file=sys.stderr)
    diffs = [abs(a - b.ifd) for a, b in zip(ref, ours, strict=True) if a is not None]
    assert all((a is None) == (b.ifd is None) for a, b in zip(ref, ours, strict=True))
    print(json.dumps({"speedup": ref_s / ours_s, "max_abs_diff_ifd": max(diffs),
                      "ref_samples_per_s": len(pairs) / ref_s,
                      "ours_samples_per_s": len(pairs) / ours_s, "n": len(pairs)}))


if __name__ == "__main__":
    main()
