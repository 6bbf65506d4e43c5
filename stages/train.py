"""train: fine-tune the base model on the selected subset (full, LoRA or QLoRA).

Checkpoints go to .codesift/checkpoints/<fingerprint of model, data and params>/, so a run
killed with `kill -9` resumes there on the next `dvc repro`; they are removed on success.
Distributed: set train.launcher (e.g. `accelerate launch --config_file
configs/accelerate/ddp.yaml`); the stage re-runs itself under it.

in:  models/base, data/selected/train.jsonl   params: train, template, model.attn_implementation
out: models/finetuned/ (standalone; LoRA adapter in adapter/), metrics/train.json,
     dvclive/train/ (loss, learning rate, tokens/s per step for `dvc plots`)
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from pathlib import Path

from stages._run import run

BASE = "models/base"
SELECTED = "data/selected/train.jsonl"
OUT = "models/finetuned"
METRICS = "metrics/train.json"
LIVE = "dvclive/train"
CHECKPOINTS = ".codesift/checkpoints"


def relaunch(launcher: str) -> None:
    """Re-run this stage under `train.launcher` (accelerate launch / torchrun), after checking
    what would otherwise fail deep inside the launcher: DeepSpeed without CUDA."""
    import shlex

    import torch
    import yaml

    from codesift import CodesiftError

    if launcher == "python" or os.environ.get("CODESIFT_LAUNCHED"):
        return
    argv = shlex.split(launcher)
    config = argv[argv.index("--config_file") + 1] if "--config_file" in argv else None
    kind = yaml.safe_load(open(config)).get("distributed_type", "") if config else ""
    if ("deepspeed" in launcher or kind == "DEEPSPEED") and not torch.cuda.is_available():
        raise CodesiftError(f"train.launcher ({launcher}) uses DeepSpeed, which needs CUDA "
                            "GPUs; on CPU use `torchrun --standalone --nproc_per_node 2` or python")
    os.environ["CODESIFT_LAUNCHED"] = "1"
    os.execvp(argv[0], [*argv, "-m", "stages.train", *sys.argv[1:]])


def main(args) -> None:
    from codesift import CodesiftError
    from codesift.config import section
    from codesift.io import atomic_path, fingerprint, read_jsonl, write_json
    from codesift.models import load_tokenizer
    from codesift.training import build_examples, train

    cfg, template = section("train", args.params), section("template", args.params)
    relaunch(cfg.launcher)
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
