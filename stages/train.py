"""train: fine-tune the base model on the selected subset (full, LoRA or QLoRA).

Checkpoints go to .codesift/checkpoints/<fingerprint of model, data and params>/, so a run
killed with `kill -9` resumes there on the next `dvc repro`; they are removed on success.
Distributed: set train.launcher (e.g. `accelerate launch --config_file
configs/accelerate/ddp.yaml`); dvc.yaml runs `${train.launcher} -m stages.train`.

in:  models/base, data/selected/train.jsonl   params: train, template, model.attn_implementation
out: models/finetuned/ (standalone; LoRA adapter in adapter/), metrics/train.json,
     dvclive/train/ (loss, learning rate, tokens/s per step for `dvc plots`)
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

from stages._run import run

BASE = "models/base"
SELECTED = "data/selected/train.jsonl"
OUT = "models/finetuned"
METRICS = "metrics/train.json"
LIVE = "dvclive/train"
CHECKPOINTS = ".codesift/checkpoints"


def check_launch() -> None:
    """DeepSpeed needs CUDA; say so instead of failing deep inside accelerate."""
    import torch

    from codesift import CodesiftError

    if os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true" \
            and not torch.cuda.is_available():
        raise CodesiftError("train.launcher uses DeepSpeed, which needs CUDA GPUs; on CPU use "
                            "configs/accelerate/ddp.yaml or train.launcher: python")


def main(args) -> None:
    from codesift import CodesiftError
    from codesift.config import section
    from codesift.io import atomic_path, fingerprint, read_jsonl, write_json
    from codesift.models import load_tokenizer
    from codesift.training import build_examples, train

    check_launch()
    cfg, template = section("train", args.params), section("template", args.params)
    attn = section("model", args.params).attn_implementation
    tok = load_tokenizer(BASE)
    examples, skipped = build_examples(read_jsonl(SELECTED), tok, template.prompt, cfg.max_seq_len)
    if not examples:
        raise CodesiftError(f"{SELECTED}: no usable training examples ({skipped})")
    settings = {**dataclasses.asdict(cfg), "launcher": None, "template": template.prompt,
                "attn": attn, "world_size": os.environ.get("WORLD_SIZE", "1")}
    ckpt = Path(CHECKPOINTS) / fingerprint([BASE, SELECTED], settings)[:16]
    if int(os.environ.get("RANK", 0)) != 0:  # other ranks train in lockstep; rank 0 writes
        train(BASE, examples, tok, cfg, None, ckpt, attn=attn)
        return
    with atomic_path(OUT, is_dir=True) as tmp:
        metrics = train(BASE, examples, tok, cfg, Path(tmp), ckpt, attn=attn,
                        callbacks=_live(resume=ckpt.exists()))
    write_json(METRICS, {**metrics, "n_skipped": sum(skipped.values()), "skipped": skipped})
    shutil.rmtree(ckpt, ignore_errors=True)


def _live(resume: bool) -> list:
    """dvclive (rank 0); when resuming a killed run, its curve so far is kept."""
    from transformers.integrations import DVCLiveCallback

    from dvclive import Live

    return [DVCLiveCallback(live=Live(dir=LIVE, dvcyaml=None, save_dvc_exp=False,
                                      resume=resume))]


if __name__ == "__main__":
    run(main, __doc__)
