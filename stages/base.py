"""base: materialise the base model (or build the bootstrap tiny model) in HF format.

in:  model.name (bootstrap | hub id | local dir), model.bootstrap.corpus   params: model
out: --out (weights + tokenizer), --metrics
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from stages._run import run


def main(args, p) -> None:
    from codesift.io import atomic_path, write_json
    from codesift.models import bootstrap, materialise

    start = time.perf_counter()
    cfg = p.model
    stats: dict = {"name": cfg.name}
    with atomic_path(args.out, is_dir=True) as tmp:
        if cfg.name == "bootstrap":
            stats.update(bootstrap(cfg.bootstrap, Path(tmp), seed=cfg.bootstrap.seed))
            shutil.rmtree(Path(tmp) / "_trainer", ignore_errors=True)
        else:
            materialise(cfg.name, Path(tmp), cfg.revision, cfg.dtype)
    write_json(args.metrics, {**stats, "seconds": time.perf_counter() - start})


PATHS = {  # every path comes from dvc.yaml's cmd
    "--out": "model directory",
    "--metrics": "metrics JSON",
}


if __name__ == "__main__":
    run(main, __doc__, PATHS)
