"""ifd: IFD and conditional perplexity of one shard of the prepared samples.

Runs as DVC matrix stages ifd@0..ifd@N-1 (one per `ifd.shards` entry), so shards can run on
different GPUs or machines; `ifd_merge` joins them. A shard killed mid-way resumes from its
last flushed chunk (--resume dir, fingerprinted by model, data and params).
On one multi-GPU machine, outside DVC: `accelerate launch --num_processes N -m stages.ifd
--shard auto --out 'data/scores/shards/{shard}' --metrics 'metrics/ifd_shards/{shard}.json'
...` (N = ifd.num_shards; `{shard}` becomes each process's shard), then
`python -m stages.ifd_merge ...`.

With `ifd.alignment` each row also gets `align`: the reverse IFD (how much the response helps
predict the instruction), which the `alignment` filter of `select` reads.

in:  --model (the scorer), --data (prepared JSONL), --templates   params: ifd (but shards),
     template
out: --out/scores.jsonl (one row per sample), --out/stats.json (counts), --metrics (timings)
"""

from __future__ import annotations

import os

from stages._run import run


def shard_slice(n: int, num_shards: int, shard: int) -> range:
    """Contiguous, near-equal ranges, so merged shards are in prepared order."""
    return range(shard * n // num_shards, (shard + 1) * n // num_shards)


def resolve_shard(arg: str, num_shards: int) -> int:
    """`auto`: this process's rank under `accelerate launch` / `torchrun` (one shard each)."""
    from codesift import CodesiftError

    if arg == "auto":
        world = int(os.environ.get("WORLD_SIZE", 1))
        if world != num_shards:
            raise CodesiftError(f"--shard auto: {world} processes but ifd.num_shards is "
                                f"{num_shards}; launch one process per shard")
        shard = int(os.environ.get("RANK", 0))
    elif arg.isdigit():
        shard = int(arg)
    else:
        raise CodesiftError(f"--shard {arg!r}: expected a shard number or `auto`")
    if not 0 <= shard < num_shards:
        raise CodesiftError(f"--shard {shard}: must be in 0..{num_shards - 1} (ifd.num_shards)")
    return shard


def main(args, p) -> None:
    from codesift.data.record import pair, scorable
    from codesift.io import atomic_path, read_jsonl, write_json, write_jsonl
    from codesift.models import load_model, load_tokenizer, scorer_dtype
    from codesift.scoring import VARIANTS, alignment_pair
    from codesift.templates import load_template

    cfg = p.ifd
    shard = resolve_shard(args.shard, cfg.num_shards)
    records = read_jsonl(args.data)
    records = [records[i] for i in shard_slice(len(records), cfg.num_shards, shard)]
    tok = load_tokenizer(args.model)
    template = load_template(args.templates, cfg.template or p.template.name, p.template.system)
    to_pair = VARIANTS[cfg.variant].pair
    pairs = [to_pair(template, tok, *pair(r)) if scorable(r) else ("", "")  # raw code: none
             for r in records]
    ids = [r["id"] for r in records]
    dtype = scorer_dtype(cfg.dtype)
    model = load_model(args.model, dtype)
    rows, stats, log = _scored(model, tok, ids, pairs, cfg, args, shard, "ifd")
    logs = [log]
    if cfg.alignment:
        reverse = [alignment_pair(*pair(r)) if scorable(r) else ("", "") for r in records]
        back, more, log = _scored(model, tok, ids, reverse, cfg, args, shard, "align")
        logs.append(log)
        for row, b in zip(rows, back, strict=True):
            row["align"] = b["ifd"]
        stats.tokens, stats.seconds = stats.tokens + more.tokens, stats.seconds + more.seconds
    out, metrics = (a.replace("{shard}", str(shard)) for a in (args.out, args.metrics))
    with atomic_path(out, is_dir=True) as tmp:
        write_jsonl(tmp / "scores.jsonl", rows)
        write_json(tmp / "stats.json", {k: getattr(stats, k) for k in
                                        ("n_scored", "n_failed", "n_truncated", "tokens")})
    write_json(metrics, {"shard": shard, "dtype": str(model.dtype).removeprefix("torch."),
                         "seconds": stats.seconds, "tokens": stats.tokens,
                         "n_resumed": stats.n_resumed,
                         "tokens_per_second": stats.tokens / max(stats.seconds, 1e-9)})
    for log in logs:
        log.path.unlink(missing_ok=True)


def _scored(model, tok, ids, pairs, cfg, args, shard: int, what: str):
    """One resumable scoring pass; its chunk log is fingerprinted by the model, the exact
    texts and every setting, so a killed shard resumes only what is still valid."""
    from codesift.io import ChunkLog, fingerprint
    from codesift.scoring import score_resumable

    settings = {"what": what, "variant": cfg.variant, "max_len": cfg.max_len,
                "dtype": str(model.dtype), "pack": cfg.pack, "batch_tokens": cfg.batch_tokens,
                "chunk_size": cfg.chunk_size,
                "records": [[i, *pr] for i, pr in zip(ids, pairs, strict=True)]}
    log = ChunkLog(f"{args.resume}/{what}-{shard}-of-{cfg.num_shards}.jsonl",
                   fingerprint([args.model], settings))
    rows, stats = score_resumable(model, tok, ids, pairs, cfg.max_len, cfg.batch_tokens, log,
                                  cfg.chunk_size, pack=cfg.pack, variant=cfg.variant, desc=what)
    return rows, stats, log


def _shard(p) -> None:
    p.add_argument("--shard", default="0", help="which of ifd.num_shards to score, or `auto` "
                   "for this process's rank under accelerate launch / torchrun")


PATHS = {  # every path comes from dvc.yaml's cmd
    "--model": "scorer model directory",
    "--data": "prepared records (JSONL)",
    "--templates": "folder of prompt templates",
    "--out": "this shard's output directory ({shard} is replaced by the shard number)",
    "--metrics": "this shard's timings (JSON; {shard} likewise)",
    "--resume": "where a killed shard's finished chunks are kept",
}


if __name__ == "__main__":
    run(main, __doc__, PATHS, _shard)
