"""Padding and throughput of the pad modes, and loss equality of dynamic_pad vs dynamic_pack.

Data: the CodeAlpaca sets in ../shared/data/instruct/ (else the sample data); tokenizer and
model: the pipeline's base model (models/base; run `dvc repro base` first), trained as the
pipeline trains it by default (LoRA; `--method full` for full fine-tuning). All modes run in
this one process on the same samples, with the same seed.

Last stdout line: {"pad_fraction": {mode: f}, "speedup_pack_vs_dynamic_pad": x,
"speedup_pack_vs_pad": y, "max_loss_rel_diff": z, ...}.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the repo's codesift

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402

import torch  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from codesift.config import DataConfig, LoraConfig, TrainConfig  # noqa: E402
from codesift.data.prepare import prepare  # noqa: E402
from codesift.data.sources import read_source  # noqa: E402
from codesift.models import load_tokenizer  # noqa: E402
from codesift.packing import PAD_MODES  # noqa: E402
from codesift.templates import load_template  # noqa: E402
from codesift.training import (  # noqa: E402
    Collator,
    build_examples,
    dataset_items,
    pad_fraction,
    train,
)

INSTRUCT = ROOT.parent / "shared/data/instruct"
MODES = tuple(PAD_MODES)


def load_records() -> tuple[list[dict], str]:
    """CodeAlpaca (both sets, deduplicated) if present, else the committed sample."""
    files = sorted(INSTRUCT.glob("*.json"))
    if not files:
        return prepare(read_source(str(ROOT / "data/sample/train.jsonl")), DataConfig(), {})[0], \
            "data/sample"
    cfg = DataConfig(response_column="output", input_column="input", on_invalid="skip")
    records = [r for f in files for r in prepare(read_source(str(f)), cfg, {})[0]]
    return records, "codealpaca"


def epoch_pad_fraction(examples: list[dict], mode: str, pad_id: int, max_len: int,
                       batch: int) -> float:
    """Padding over one epoch of batches in a seeded random order (as the Trainer draws)."""
    items = dataset_items(examples, mode, max_len)
    order = torch.randperm(len(items), generator=torch.Generator().manual_seed(0)).tolist()
    col = Collator(mode, pad_id, max_len)
    pads = total = 0
    for start in range(0, len(order), batch):
        b = col([items[i] for i in order[start:start + batch]])
        pads += pad_fraction(b) * b["input_ids"].numel()
        total += b["input_ids"].numel()
    return pads / total


class StepLosses(TrainerCallback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        if logs and "loss" in logs:
            self.losses.append(logs["loss"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "models/base"))
    p.add_argument("--max-seq-len", type=int, default=1024)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--method", default="lora", choices=["full", "lora"])
    args = p.parse_args()
    torch.set_num_threads(2)
    tok = load_tokenizer(args.model)
    records, source = load_records()
    template = load_template(ROOT / "templates", "alpaca")
    examples, skipped = build_examples(records, tok, template, args.max_seq_len)
    fractions = {m: epoch_pad_fraction(examples, m, tok.pad_token_id, args.max_seq_len,
                                       args.batch) for m in MODES}
    print(f"{source}: {len(examples)} examples; pad fractions {fractions}", file=sys.stderr)
    runs = {}
    for mode in ("dynamic_pack", "dynamic_pad", "pad"):
        # LoRA dropout 0: its masks are drawn per position, so they depend on the layout.
        cfg = TrainConfig(method=args.method, pad_mode=mode, max_seq_len=args.max_seq_len,
                          batch_size=args.batch, max_steps=args.steps, logging_steps=1,
                          save_steps=0, warmup_steps=0, lr=1e-4, lora=LoraConfig(dropout=0.0))
        cb = StepLosses()
        with tempfile.TemporaryDirectory() as tmp:
            m = train(args.model, examples, tok, cfg, None, Path(tmp), callbacks=[cb]).metrics
        runs[mode] = {"supervised_tokens_per_s": m["supervised_tokens"] / m["train_seconds"],
                      "seconds": m["train_seconds"], "losses": cb.losses}
        print(f"{mode}: {runs[mode]['seconds']:.1f} s", file=sys.stderr)
    pad, pack = runs["dynamic_pad"]["losses"], runs["dynamic_pack"]["losses"]
    rel = max(abs(a - b) / abs(a) for a, b in zip(pad, pack, strict=True))
    tps = {m: r["supervised_tokens_per_s"] for m, r in runs.items()}
    print(json.dumps({
        "pad_fraction": fractions,
        "speedup_pack_vs_dynamic_pad": tps["dynamic_pack"] / tps["dynamic_pad"],
        "speedup_pack_vs_pad": tps["dynamic_pack"] / tps["pad"],
        "max_loss_rel_diff": rel, "supervised_tokens_per_s": tps, "data": source,
        "n_examples": len(examples), "n_skipped": sum(skipped.values()), "steps": args.steps}))


if __name__ == "__main__":
    from codesift.cli import user_errors

    with user_errors():
        main()
