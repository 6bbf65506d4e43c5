"""prepare: load data.source, validate, dedupe, decontaminate.

in:  data.source (sample | .jsonl/.json/.parquet | hub id)   params: data
out: data/prepared/train.jsonl {id, instruction, response, source}, metrics/prepare.json
"""

from __future__ import annotations

import time

from stages._run import run

SAMPLE = "data/sample/train.jsonl"
OUT = "data/prepared/train.jsonl"
METRICS = "metrics/prepare.json"


def main(args) -> None:
    from codesift.config import section
    from codesift.data.prepare import prepare
    from codesift.data.sources import read_source
    from codesift.evaluation.benchmarks import load
    from codesift.io import write_json, write_jsonl

    start = time.perf_counter()
    cfg = section("data", args.params)
    source = SAMPLE if cfg.source == "sample" else cfg.source
    texts = {name: [t["prompt"] + t.get("canonical_solution", "") for t in load(name)]
             for name in cfg.decontaminate}
    records, report = prepare(read_source(source, cfg.split), cfg, texts)
    write_jsonl(OUT, records)
    write_json(METRICS, {**report.as_dict(), "seconds": time.perf_counter() - start})
    print(f"prepare: kept {report.n_kept} of {report.n_read} "
          f"({report.n_duplicates} duplicates, {report.n_contaminated} contaminated, "
          f"{report.n_invalid} invalid skipped)")


if __name__ == "__main__":
    run(main, __doc__)
