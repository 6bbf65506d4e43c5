"""embed: L2-normalised sentence embeddings of the prepared records.

in:  data/prepared/train.jsonl   params: embed
out: data/embeddings/embeddings.npy (float32, prepared order), data/embeddings/ids.json
"""

from __future__ import annotations

import time

from stages._run import run

PREPARED = "data/prepared/train.jsonl"
OUT = "data/embeddings"


def main(args) -> None:
    import numpy as np

    from codesift.config import section
    from codesift.embedding import embed, text_of
    from codesift.io import atomic_path, read_jsonl, write_json

    start = time.perf_counter()
    cfg = section("embed", args.params)
    records = read_jsonl(PREPARED)
    vecs = embed([text_of(r, cfg.text) for r in records], cfg.model, cfg.batch_size,
                 cfg.max_seq_length)
    with atomic_path(OUT, is_dir=True) as tmp:
        np.save(tmp / "embeddings.npy", vecs)
        write_json(tmp / "ids.json", [r["id"] for r in records])
    write_json("metrics/embed.json", {"n": len(records), "dim": int(vecs.shape[1]),
                                      "seconds": time.perf_counter() - start})


if __name__ == "__main__":
    run(main, __doc__)
