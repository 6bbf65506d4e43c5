"""base: materialise the base model (or build the bootstrap tiny model) in HF format.

in:  model.name (bootstrap | hub id | local path), model.bootstrap.corpus   params: model
out: models/base/ (weights + tokenizer), metrics/base.json
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from stages._run import run

OUT = "models/base"
METRICS = "metrics/base.json"


def main(args) -> None:
    from codesift.config import section
    from codesift.io import atomic_path, write_json
    from codesift.models import bootstrap, materialise

    start = time.perf_counter()
    cfg = section("model", args.params)
    stats: dict = {"name": cfg.name}
    with atomic_path(OUT, is_dir=True) as tmp:
        if cfg.name == "bootstrap":
            stats.update(bootstrap(cfg.bootstrap, Path(tmp), seed=cfg.bootstrap.seed))
            shutil.rmtree(Path(tmp) / "_trainer", ignore_errors=True)
        else:
            materialise(cfg.name, Path(tmp), cfg.revision, cfg.dtype)
    write_json(METRICS, {**stats, "seconds": time.perf_counter() - start})


if __name__ == "__main__":
    run(main, __doc__)
