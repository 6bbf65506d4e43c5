"""train: fine-tune the base model on the selected subset (full, LoRA or QLoRA).

in:  models/base, data/selected/train.jsonl   params: train, template
out: models/finetuned/ (standalone; LoRA adapter in adapter/), metrics/train.json,
     dvclive/train/ (loss, learning rate per step for `dvc plots`)
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from stages._run import run

BASE = "models/base"
SELECTED = "data/selected/train.jsonl"
OUT = "models/finetuned"
METRICS = "metrics/train.json"
LIVE = "dvclive/train"


def main(args) -> None:
    from dvclive import Live
    from transformers.integrations import DVCLiveCallback

    from codesift import CodesiftError
    from codesift.config import section
    from codesift.io import atomic_path, read_jsonl, write_json
    from codesift.models import load_tokenizer
    from codesift.training import build_examples, train

    cfg, template = section("train", args.params), section("template", args.params)
    tok = load_tokenizer(BASE)
    examples, skipped = build_examples(read_jsonl(SELECTED), tok, template.prompt, cfg.max_seq_len)
    if not examples:
        raise CodesiftError(f"{SELECTED}: no usable training examples ({skipped})")
    live = Live(dir=LIVE, dvcyaml=None, save_dvc_exp=False)
    work = Path(tempfile.mkdtemp(prefix="codesift-train-"))
    try:
        with atomic_path(OUT, is_dir=True) as tmp:
            metrics = train(BASE, examples, tok, cfg, Path(tmp), work,
                            callbacks=[DVCLiveCallback(live=live)])
    finally:
        shutil.rmtree(work, ignore_errors=True)
        live.end()
    write_json(METRICS, {**metrics, "n_skipped": sum(skipped.values()), "skipped": skipped})


if __name__ == "__main__":
    run(main, __doc__)
