"""ifd: IFD and conditional perplexity of one shard of the prepared samples.

Runs as DVC matrix stages ifd@0..ifd@N-1 (one per `ifd.shards` entry), so shards can run on
different GPUs or machines; `ifd_merge` joins them. A shard killed mid-way resumes from its
last flushed chunk (.codesift/resume/, fingerprinted by model, data and params).
On one multi-GPU machine, outside DVC: `accelerate launch --num_processes N -m stages.ifd
--shard auto` (N = ifd.num_shards), then `python -m stages.ifd_merge`.

in:  models/base, data/prepared/train.jsonl   params: ifd, template, model.dtype
out: data/scores/shards/<k>/{scores.jsonl, stats.json}
"""

from __future__ import annotations

import os

from stages._run import run

BASE = "models/base"
PREPARED = "data/prepared/train.jsonl"
SHARDS = "data/scores/shards"
RESUME = ".codesift/resume"


def shard_slice(n: int, num_shards: int, shard: int) -> range:
    """Contiguous, near-equal ranges, so merged shards are in prepared order."""
    return range(shard * n // num_shards, (shard + 1) * n // num_shards)


def resolve_shard(arg: str, num_shards: int) -> int:
    """`auto`: this process's rank under `accelerate launch` / `torchrun` (one shard each)."""
    from codesift import CodesiftError

    if arg != "auto":
        shard = int(arg)
    else:
        world = int(os.environ.get("WORLD_SIZE", 1))
        if world != num_shards:
            raise CodesiftError(f"--shard auto: {world} processes but ifd.num_shards is "
                                f"{num_shards}; launch one process per shard")
        shard = int(os.environ.get("RANK", 0))
    if not 0 <= shard < num_shards:
        raise CodesiftError(f"--shard {shard}: must be in 0..{num_shards - 1} (ifd.num_shards)")
    return shard


def main(args) -> None:
    from codesift.config import section
    from codesift.io import ChunkLog, atomic_path, fingerprint, read_jsonl, write_json, write_jsonl
    from codesift.models import load_model, load_tokenizer
    from codesift.scoring import score_resumable
    from codesift.templates import prompt_text

    cfg, template = section("ifd", args.params), section("template", args.params)
    dtype = section("model", args.params).dtype
    shard = resolve_shard(args.shard, cfg.num_shards)
    records = read_jsonl(PREPARED)
    records = [records[i] for i in shard_slice(len(records), cfg.num_shards, shard)]
    settings = {"max_len": cfg.max_len, "template": template.prompt, "dtype": dtype,
                "pack": cfg.pack,
                "records": [[r["id"], r["instruction"], r["response"]] for r in records]}
    log = ChunkLog(f"{RESUME}/ifd-{shard}-of-{cfg.num_shards}.jsonl",
                   fingerprint([BASE], settings))
    tok, model = load_tokenizer(BASE), load_model(BASE, dtype)
    pairs = [(prompt_text(template.prompt, r["instruction"]), r["response"]) for r in records]
    rows, stats = score_resumable(model, tok, [r["id"] for r in records], pairs, cfg.max_len,
                                  cfg.batch_tokens, log, cfg.chunk_size, pack=cfg.pack)
    with atomic_path(f"{SHARDS}/{shard}", is_dir=True) as tmp:
        write_jsonl(tmp / "scores.jsonl", rows)
        write_json(tmp / "stats.json", stats.__dict__)
    log.path.unlink(missing_ok=True)


def _args(p) -> None:
    p.add_argument("--shard", default="0", help="which of ifd.num_shards to score, or `auto` "
                   "for this process's rank under accelerate launch / torchrun")


if __name__ == "__main__":
    run(main, __doc__, _args)
