"""less_grads: LESS gradient features of the prepared records and of the query set, from the
scorer model (codesift/less.py): a LoRA warm-up on `select.less.warmup_share` of the pool,
then per checkpoint each record's Adam-aware LoRA gradient and each query example's plain
gradient, randomly projected and normalised. Resumable: the warm-up and every finished
chunk of features are kept under --resume (fingerprinted by model, token ids and params).
With select.method other than less it writes empty outputs and loads nothing.

in:  --model (the scorer), --data (prepared JSONL), --templates, select.less.query
     params: select.method, select.less, template, model.dtype
out: --out/{grads.npy, ids.json, query.npy, query_ids.json} (float32; per checkpoint the unit
     features x sqrt(its weight), side by side), --metrics
"""

from __future__ import annotations

import time
from pathlib import Path

from stages._run import run


def samples_of(tok, template, records: list[dict], max_len: int):
    """(ids, labels) of each record as training sees it; None where it cannot be encoded."""
    from codesift.data.record import turns
    from codesift.templates import encode_turns

    out = []
    for r in records:
        if "instruction" not in r and "chat_rounds" not in r:  # raw code: plain LM loss
            ids = tok(r["text"], add_special_tokens=True)["input_ids"][:max_len]
            out.append((ids, list(ids)) if len(ids) > 1 else None)
            continue
        enc = encode_turns(tok, template, turns(r), max_len)
        out.append(None if enc.error else (enc.input_ids, enc.labels()))
    return out


def warmed_up(args, p, samples, store):
    """The peft model and its warm-up checkpoints, from the store when a killed run saved
    them."""
    import numpy as np
    import torch
    from peft import LoraConfig, get_peft_model

    from codesift.io import atomic_path
    from codesift.less import warmup
    from codesift.models import load_model, scorer_dtype
    from codesift.selection.less import LessOptions

    cfg = p.select.options("less", LessOptions)
    torch.manual_seed(cfg.seed)
    model = get_peft_model(load_model(args.model, scorer_dtype(p.ifd.dtype)), LoraConfig(
        r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
        target_modules=cfg.target_modules))
    saved = store.folder / "warmup.pt"
    if saved.is_file():
        return model, torch.load(saved, weights_only=False)
    usable = [i for i, s in enumerate(samples) if s is not None]
    rng = np.random.default_rng(cfg.seed)
    share = rng.choice(usable, size=max(1, round(cfg.warmup_share * len(samples))),
                       replace=False)
    ckpts = warmup(model, [samples[i] for i in np.sort(share)], cfg.epochs, cfg.lr,
                   cfg.grad_accum, cfg.seed)
    with atomic_path(saved) as tmp:
        torch.save(ckpts, tmp)
    return model, ckpts


def compute(args, p):
    """(grads, query grads, ids, query ids, n_failed, store) for select.method less, the
    inputs checked before anything heavy is loaded."""
    import numpy as np

    from codesift import CodesiftError
    from codesift.data.query import read_query
    from codesift.io import ArrayChunks, fingerprint, read_jsonl
    from codesift.selection.less import LessOptions

    cfg = p.select.options("less", LessOptions)
    records = read_jsonl(args.data)
    ids = [r["id"] for r in records]
    query = read_query(cfg.query, set(ids), "select.less.query")
    if not (Path(args.model) / "config.json").is_file():
        raise CodesiftError(f"{args.model}: no model there; select.method less needs the "
                            "scorer model (the scorer stage writes it)")
    from codesift.less import Projector, checkpoint_scales, features, load_checkpoint
    from codesift.models import load_tokenizer, scorer_dtype
    from codesift.templates import load_template

    tok = load_tokenizer(args.model)
    template = load_template(args.templates, p.ifd.template or p.template.name,
                             p.template.system)  # the scorer's format
    samples = samples_of(tok, template, records, cfg.max_len)
    queries = samples_of(tok, template, query, cfg.max_len)
    if None in queries:
        bad = query[queries.index(None)]["id"]
        raise CodesiftError(f"select.less.query: {cfg.query}: record {bad} cannot be encoded "
                            "(an empty field, or its prompt fills select.less.max_len)")
    store = ArrayChunks(f"{args.resume}/less", fingerprint([args.model], {
        "dtype": scorer_dtype(p.ifd.dtype), "less": vars(cfg), "samples": samples,
        "queries": queries}))
    model, ckpts = warmed_up(args, p, samples, store)
    n_params = sum(x.numel() for x in model.parameters() if x.requires_grad)
    proj = Projector(n_params, cfg.proj_dim, cfg.seed)
    ok = [i for i, s in enumerate(samples) if s is not None]
    grads = np.zeros((len(samples), len(ckpts) * cfg.proj_dim), dtype=np.float32)
    query_grads = np.zeros((len(queries), len(ckpts) * cfg.proj_dim), dtype=np.float32)
    for c, (ckpt, scale) in enumerate(zip(ckpts, checkpoint_scales(ckpts), strict=True)):
        load_checkpoint(model, ckpt)
        cols = slice(c * cfg.proj_dim, (c + 1) * cfg.proj_dim)
        for k, lo in enumerate(range(0, len(ok), cfg.chunk_size)):
            part = store.get(f"ckpt{c}-{k:06d}")
            if part is None:
                part = features(model, [samples[i] for i in ok[lo:lo + cfg.chunk_size]], proj,
                                ckpt)
                store.put(f"ckpt{c}-{k:06d}", part)
            grads[ok[lo:lo + cfg.chunk_size], cols] = scale * part
        query_grads[:, cols] = scale * features(model, queries, proj, None)
    return grads, query_grads, ids, [r["id"] for r in query], len(samples) - len(ok), store


def main(args, p) -> None:
    import numpy as np

    from codesift.data.query import write_matched
    from codesift.io import write_json

    start = time.perf_counter()
    empty = np.zeros((0, 0), dtype=np.float32)
    grads, query_grads, ids, query_ids, n_failed, store = empty, empty, [], [], 0, None
    if p.select.method == "less":
        grads, query_grads, ids, query_ids, n_failed, store = compute(args, p)
    write_matched(args.out, "grads", grads, query_grads, ids, query_ids)
    write_json(args.metrics, {"n": len(ids), "n_query": len(query_ids), "n_failed": n_failed,
                              "dim": int(grads.shape[1]), "seconds": time.perf_counter() - start})
    if n_failed:
        print(f"less_grads: {n_failed} records could not be encoded (features 0, score 0)")
    if store is not None:
        store.clear()


PATHS = {  # every path comes from dvc.yaml's cmd
    "--model": "the scorer model directory",
    "--data": "prepared records (JSONL)",
    "--templates": "folder of prompt templates",
    "--out": "LESS features directory",
    "--metrics": "metrics JSON",
    "--resume": "where a killed run's warm-up and finished chunks are kept",
}


if __name__ == "__main__":
    run(main, __doc__, PATHS)
