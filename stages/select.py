"""select: choose the training subset.

in:  data/prepared/train.jsonl, data/scores/ifd.jsonl, data/embeddings/   params: select
out: data/selected/train.jsonl (prepared order), metrics/select.json (incl. the selection
     report: cluster JS divergence, coverage, diversity), metrics/select/*.json (plots)
"""

from __future__ import annotations

import dataclasses
import time

from stages._run import run

PREPARED = "data/prepared/train.jsonl"
SCORES = "data/scores/ifd.jsonl"
EMBEDDINGS = "data/embeddings"
OUT = "data/selected/train.jsonl"
METRICS = "metrics/select.json"
PLOTS = "metrics/select"


def load_pool(records: list[dict]):
    """Scores and embeddings aligned to the prepared records, checked by id."""
    import numpy as np

    from codesift import CodesiftError
    from codesift.io import read_json, read_jsonl
    from codesift.selection import Pool

    scores = read_jsonl(SCORES)
    ids = [r["id"] for r in records]
    if [s["id"] for s in scores] != ids:
        raise CodesiftError(f"{SCORES}: ids differ from {PREPARED}; rerun the ifd stage")
    if read_json(f"{EMBEDDINGS}/ids.json") != ids:
        raise CodesiftError(f"{EMBEDDINGS}/ids.json: ids differ from {PREPARED}; rerun embed")
    nan = float("nan")
    return Pool(embeddings=np.load(f"{EMBEDDINGS}/embeddings.npy"),
                ifd=np.array([s["ifd"] if s["ifd"] is not None else nan for s in scores]),
                ppl=np.array([s["ppl_cond"] if s["ppl_cond"] is not None else nan
                              for s in scores]))


def main(args) -> None:
    from codesift.config import section
    from codesift.io import read_jsonl, write_json, write_jsonl
    from codesift.selection import Request, n_to_select, select
    from codesift.selection.report import plot_data, report

    start = time.perf_counter()
    cfg = section("select", args.params)
    records = read_jsonl(PREPARED)
    pool = load_pool(records)
    shared = {f.name for f in dataclasses.fields(Request)} & set(vars(cfg))
    req = Request(n_select=n_to_select(len(records), cfg.ratio, cfg.sample_num),
                  **{name: getattr(cfg, name) for name in shared})
    picked = select(cfg.method, pool, req)
    write_jsonl(OUT, (records[i] for i in picked))
    write_json(METRICS, {"method": cfg.method, "n_total": len(records),
                         "n_selected": len(picked), "ratio": len(picked) / len(records),
                         "seconds": time.perf_counter() - start,
                         **report(pool, picked, n_clusters=cfg.n_clusters, seed=cfg.seed)})
    for name, rows in plot_data(pool, picked, n_clusters=cfg.n_clusters, seed=cfg.seed).items():
        write_json(f"{PLOTS}/{name}.json", rows)
    print(f"select: {cfg.method} kept {len(picked)} of {len(records)}")


if __name__ == "__main__":
    run(main, __doc__)
