"""scorer: materialise the model that computes IFD/PPL (`ifd.model`) in HF format.

A small real model can score for a bigger trained one (Superfiltering's weak-to-strong idea);
`ifd.model: base` scores with the trained base model itself (a copy of --base). Changing
`ifd.model` reruns scoring and selection only.

in:  --base (the base model; read only when ifd.model is `base`)   params: ifd.model,
     ifd.revision
out: --out (weights + tokenizer), --metrics
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from stages._run import run


def main(args, p) -> None:
    from codesift.io import atomic_path, write_json
    from codesift.models import materialise

    start = time.perf_counter()
    name = p.ifd.model
    with atomic_path(args.out, is_dir=True) as tmp:
        if name == "base":
            shutil.copytree(args.base, tmp, dirs_exist_ok=True)
        else:
            materialise(name, Path(tmp), p.ifd.revision, dtype="float32")
    write_json(args.metrics, {"name": name, "seconds": time.perf_counter() - start})


PATHS = {  # every path comes from dvc.yaml's cmd
    "--base": "base model directory (copied when ifd.model is base)",
    "--out": "scorer model directory",
    "--metrics": "metrics JSON",
}


if __name__ == "__main__":
    run(main, __doc__, PATHS)
