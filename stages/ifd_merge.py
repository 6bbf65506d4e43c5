"""ifd_merge: join the IFD shards in prepared order; summary metrics and the histogram.

in:  data/scores/shards/, data/prepared/train.jsonl   params: ifd.num_shards
out: data/scores/ifd.jsonl, metrics/ifd.json, metrics/ifd_hist.json (dvc plots)
"""

from __future__ import annotations

import statistics

from stages._run import run

PREPARED = "data/prepared/train.jsonl"
SHARDS = "data/scores/shards"
OUT = "data/scores/ifd.jsonl"
METRICS = "metrics/ifd.json"
HIST = "metrics/ifd_hist.json"


def histogram(values: list[float], lo: float = 0.0, hi: float = 1.5, bins: int = 30) -> list:
    """Fixed bins so histograms of different runs line up; the last bin holds >= hi."""
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int((v - lo) / width)))] += 1
    return [{"ifd": round(lo + (i + 0.5) * width, 4), "count": c} for i, c in enumerate(counts)]


def main(args) -> None:
    from codesift import CodesiftError
    from codesift.config import section
    from codesift.io import read_json, read_jsonl, write_json, write_jsonl

    cfg = section("ifd", args.params)
    rows, stats = [], []
    for k in range(cfg.num_shards):
        rows += read_jsonl(f"{SHARDS}/{k}/scores.jsonl")
        stats.append(read_json(f"{SHARDS}/{k}/stats.json"))
    if [r["id"] for r in rows] != [r["id"] for r in read_jsonl(PREPARED)]:
        raise CodesiftError(f"{SHARDS}: shards do not cover {PREPARED} in order; rerun ifd")
    write_jsonl(OUT, rows)
    ifds = [r["ifd"] for r in rows if r["ifd"] is not None]
    seconds, tokens = sum(s["seconds"] for s in stats), sum(s["tokens"] for s in stats)
    write_json(METRICS, {
        **{k: sum(s[k] for s in stats) for k in ("n_scored", "n_failed", "n_truncated",
                                                  "n_resumed", "tokens")},
        "seconds": seconds, "tokens_per_second": tokens / seconds if seconds else None,
        "num_shards": cfg.num_shards,
        "mean_ifd": statistics.fmean(ifds) if ifds else None,
        "median_ifd": statistics.median(ifds) if ifds else None,
        "frac_ifd_ge_1": sum(v >= 1 for v in ifds) / len(ifds) if ifds else None,
    })
    write_json(HIST, histogram(ifds))


if __name__ == "__main__":
    run(main, __doc__)
