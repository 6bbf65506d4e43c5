"""rds_embed: RDS+ representations of the prepared records and of the query set, from the
scorer model: position-weighted mean-pooled final hidden states of each record's training
text (codesift/representations.py). One forward pass over the pool, resumable by chunk
(--resume, fingerprinted by model, token ids and params). With select.method other than rds
it writes empty outputs and loads nothing: only select.method rds reads them.

in:  --model (the scorer), --data (prepared JSONL), --templates, select.rds.query (prepared
     JSONL whose ids are not in --data)   params: select.method, select.rds, template,
     model.dtype
out: --out/{reps.npy, ids.json, query.npy, query_ids.json} (float32, L2-normalised, in file
     order), --metrics
"""

from __future__ import annotations

import time
from pathlib import Path

from stages._run import run


def compute(args, p):
    """(reps, query_reps, ids, query_ids, n_resumed, chunk store) for select.method rds,
    checking the query set and the model before loading anything heavy."""
    from codesift import CodesiftError
    from codesift.data.query import read_query
    from codesift.io import ArrayChunks, fingerprint, read_jsonl
    from codesift.selection.rds import RdsOptions

    cfg = p.select.options("rds", RdsOptions)
    records = read_jsonl(args.data)
    ids = [r["id"] for r in records]
    query = read_query(cfg.query, set(ids), "select.rds.query")
    if not (Path(args.model) / "config.json").is_file():
        raise CodesiftError(f"{args.model}: no model there; select.method rds needs the "
                            "scorer model (the scorer stage writes it)")
    # torch: only once the inputs are fine
    from codesift.models import load_model, load_tokenizer, scorer_dtype
    from codesift.representations import record_ids, representations
    from codesift.representations import representations_resumable as resumable
    from codesift.templates import load_template

    tok = load_tokenizer(args.model)
    template = load_template(args.templates, p.ifd.template or p.template.name,
                             p.template.system)  # the scorer's format
    seqs = [record_ids(tok, template, r, cfg.max_len) for r in records]
    query_seqs = [record_ids(tok, template, r, cfg.max_len) for r in query]
    dtype = scorer_dtype(p.ifd.dtype)
    store = ArrayChunks(f"{args.resume}/rds", fingerprint([args.model], {
        "dtype": dtype, "batch_tokens": cfg.batch_tokens, "chunk_size": cfg.chunk_size,
        "seqs": seqs}))
    model = load_model(args.model, dtype)
    reps, n_resumed = resumable(model, tok, seqs, cfg.batch_tokens, store, cfg.chunk_size)
    query_reps = representations(model, tok, query_seqs, cfg.batch_tokens)
    return reps, query_reps, ids, [r["id"] for r in query], n_resumed, store


def main(args, p) -> None:
    import numpy as np

    from codesift.data.query import write_matched
    from codesift.io import write_json

    start = time.perf_counter()
    empty = np.zeros((0, 0), dtype=np.float32)
    reps, query_reps, ids, query_ids, n_resumed, store = empty, empty, [], [], 0, None
    if p.select.method == "rds":
        reps, query_reps, ids, query_ids, n_resumed, store = compute(args, p)
    write_matched(args.out, "reps", reps, query_reps, ids, query_ids)
    write_json(args.metrics, {"n": len(ids), "n_query": len(query_ids),
                              "dim": int(reps.shape[1]), "n_resumed": n_resumed,
                              "seconds": time.perf_counter() - start})
    if store is not None:
        store.clear()  # written out: the finished chunks are no longer needed


PATHS = {  # every path comes from dvc.yaml's cmd
    "--model": "the scorer model directory",
    "--data": "prepared records (JSONL)",
    "--templates": "folder of prompt templates",
    "--out": "representations directory",
    "--metrics": "metrics JSON",
    "--resume": "where a killed run's finished chunks are kept",
}


if __name__ == "__main__":
    run(main, __doc__, PATHS)
