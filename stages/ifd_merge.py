"""ifd_merge: join the IFD shards in prepared order; summary metrics and the histogram.

in:  --shards (ifd@k outputs), --shard-metrics (their timings), --data (prepared JSONL)
     params: ifd.num_shards
out: --out (one score row per prepared record, prepared order), --metrics, --hist (dvc plots)
"""

from __future__ import annotations

import statistics
import time

from stages._run import run


def histogram(values: list[float], lo: float = 0.0, hi: float = 1.5, bins: int = 30) -> list:
    """Fixed bins so histograms of different runs line up; the last bin holds >= hi."""
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int((v - lo) / width)))] += 1
    return [{"ifd": round(lo + (i + 0.5) * width, 4), "count": c} for i, c in enumerate(counts)]


def main(args, p) -> None:
    from codesift import CodesiftError
    from codesift.data.record import scorable
    from codesift.io import read_json, read_jsonl, write_json, write_jsonl

    start = time.perf_counter()
    n = p.ifd.num_shards
    rows, stats, timing = [], [], []
    for k in range(n):
        rows += read_jsonl(f"{args.shards}/{k}/scores.jsonl")
        stats.append(read_json(f"{args.shards}/{k}/stats.json"))
        timing.append(read_json(f"{args.shard_metrics}/{k}.json"))
    prepared = read_jsonl(args.data)
    if [r["id"] for r in rows] != [r["id"] for r in prepared]:
        raise CodesiftError(f"{args.shards}: shards do not cover {args.data} in order; "
                            "rerun the ifd stages")
    if not any(r["ifd"] is not None for r in rows) and any(map(scorable, prepared)):
        raise CodesiftError(f"no sample could be scored: {_reasons(rows)} (ifd.max_len is "
                            f"{p.ifd.max_len})")
    write_jsonl(args.out, rows)
    ifds = [r["ifd"] for r in rows if r["ifd"] is not None]
    seconds, tokens = sum(t["seconds"] for t in timing), sum(s["tokens"] for s in stats)
    write_json(args.metrics, {
        **{k: sum(s[k] for s in stats) for k in ("n_scored", "n_failed", "n_truncated",
                                                  "tokens")},
        "n_resumed": sum(t["n_resumed"] for t in timing), "num_shards": n,
        "seconds": seconds, "tokens_per_second": tokens / seconds if seconds else None,
        "merge_seconds": time.perf_counter() - start,
        "mean_ifd": statistics.fmean(ifds) if ifds else None,
        "median_ifd": statistics.median(ifds) if ifds else None,
        "frac_ifd_ge_1": sum(v >= 1 for v in ifds) / len(ifds) if ifds else None,
    })
    write_json(args.hist, histogram(ifds))


def _reasons(rows: list[dict]) -> str:
    """The most common failure reasons, e.g. `1940 x prompt alone has 12 tokens, ...`."""
    from collections import Counter

    top = Counter(r["error"].split(",")[0] for r in rows if r["error"]).most_common(3)
    return "; ".join(f"{c} x {e}" for e, c in top)


PATHS = {  # every path comes from dvc.yaml's cmd
    "--shards": "directory of ifd@k output dirs 0..N-1",
    "--shard-metrics": "directory of ifd@k timings k.json",
    "--data": "prepared records (JSONL)",
    "--out": "merged scores (JSONL)",
    "--metrics": "metrics JSON",
    "--hist": "IFD histogram (dvc plots JSON)",
}


if __name__ == "__main__":
    run(main, __doc__, PATHS)
