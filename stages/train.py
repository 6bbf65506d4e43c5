"""train: fine-tune the base model on the selected subset (full, LoRA or QLoRA).

Checkpoints go to --checkpoints/<fingerprint of model, data and params>/, so a run killed
with `kill -9` resumes there on the next `dvc repro`; they are removed on success. The
metrics and the loss curve then cover the whole run, as if it had never stopped.
Distributed: set train.launcher (e.g. `accelerate launch --config_file
configs/accelerate/ddp.yaml`); the stage re-runs itself under it.

in:  --model (base), --data (selected JSONL), --valid (validation JSONL), --templates
     params: train (but launcher, logging_steps, save_steps), template, model.attn_implementation
out: --out (standalone model; LoRA adapter in adapter/), --metrics, --live (dvclive curve)
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
from pathlib import Path

from stages._run import run


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


def main(args, p) -> None:
    from codesift import CodesiftError
    from codesift.io import atomic_path, fingerprint, read_jsonl, write_json
    from codesift.models import load_tokenizer
    from codesift.templates import load_template
    from codesift.training import train, training_data

    cfg, attn = p.train, p.model.attn_implementation
    relaunch(cfg.launcher)
    start = time.perf_counter()
    tok = load_tokenizer(args.model)
    template = load_template(args.templates, p.template.name, p.template.system) \
        if cfg.objective == "sft" else None
    valid = read_jsonl(args.valid) if cfg.eval_steps else []
    data = training_data(read_jsonl(args.data), valid, tok, template, cfg)
    if not data.examples:
        raise CodesiftError(f"{args.data}: none of its records fits train.max_seq_len "
                            f"{cfg.max_seq_len} or has an answer to train on (skipped: "
                            f"{', '.join(f'{n} {r}' for r, n in sorted(data.skipped.items()))})")
    settings = {**dataclasses.asdict(cfg), "launcher": None, "logging_steps": None,
                "template": dataclasses.asdict(p.template), "attn": attn,
                "world_size": os.environ.get("WORLD_SIZE", "1")}
    ckpt = Path(args.checkpoints) / fingerprint([args.model, args.data, args.valid,
                                                 args.templates], settings)[:16]
    kwargs = dict(attn=attn, tasks=data.tasks, valid=data.valid or None,
                  new_tokens=data.new_tokens)
    if int(os.environ.get("RANK", 0)) != 0:  # other ranks train in lockstep; rank 0 writes
        train(args.model, data.examples, tok, cfg, None, ckpt, **kwargs)
        return
    with atomic_path(args.out, is_dir=True) as tmp:
        result = train(args.model, data.examples, tok, cfg, Path(tmp), ckpt, **kwargs)
    write_json(args.metrics, {**result.metrics, "n_skipped": sum(data.skipped.values()),
                              "skipped": data.skipped, "seconds": time.perf_counter() - start})
    write_curve(args.live, result.history)
    shutil.rmtree(ckpt, ignore_errors=True)


def write_curve(live_dir: str, history: list[dict]) -> None:
    """The training curve for `dvc plots`, from the whole run's log history (a resumed run
    keeps the part before the kill: checkpoints carry the history)."""
    from dvclive import Live

    live = Live(dir=live_dir, dvcyaml=None, save_dvc_exp=False, resume=False)
    for entry in history:
        live.step = entry["step"]
        for key, value in entry.items():
            if key in ("loss", "learning_rate", "grad_norm", "epoch", "tokens_per_second") \
                    or key.startswith(("loss_", "eval_")):
                live.log_metric(f"train/{key}", value)
    live.make_summary()
    live.end()


PATHS = {  # every path comes from dvc.yaml's cmd
    "--model": "base model directory",
    "--data": "selected records (JSONL)",
    "--valid": "the validation split (JSONL)",
    "--templates": "folder of prompt templates",
    "--out": "fine-tuned model directory",
    "--metrics": "metrics JSON",
    "--live": "dvclive directory (training curve)",
    "--checkpoints": "where checkpoints of unfinished runs live",
}


if __name__ == "__main__":
    run(main, __doc__, PATHS)
