"""prepare: read data.source (or data.hub), validate, dedupe, decontaminate.

in:  --source (data.source: a local file or directory)   params: data
out: --out (JSONL {id, instruction, response, source[, chat_rounds]}), --metrics
"""

from __future__ import annotations

import time

from stages._run import run


def main(args, p) -> None:
    from codesift import CodesiftError
    from codesift.data.prepare import prepare
    from codesift.data.sources import read_source
    from codesift.evaluation.benchmarks import decontamination_texts
    from codesift.io import write_json, write_jsonl

    start = time.perf_counter()
    cfg = p.data
    texts = {name: decontamination_texts(name, p.eval) for name in cfg.decontaminate}
    records, report = prepare(read_source(args.source, cfg.hub, cfg.split, cfg.revision), cfg,
                              texts)
    if not records:
        raise CodesiftError(f"{cfg.hub or args.source}: no usable records remain (the pipeline "
                            f"needs at least 1 to select and train on): {report.summary()}")
    write_jsonl(args.out, records)
    write_json(args.metrics, {**report.as_dict(), "seconds": time.perf_counter() - start})
    print(f"prepare: {report.summary()}")


def _args(p) -> None:
    p.add_argument("--source", required=True, help="data.source (ignored when data.hub is set)")
    p.add_argument("--out", required=True, help="prepared records (JSONL)")
    p.add_argument("--metrics", required=True, help="metrics JSON")


if __name__ == "__main__":
    run(main, __doc__, _args)
