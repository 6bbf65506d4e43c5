"""prepare: read data.source (or data.hub), validate, dedupe, decontaminate, and set aside a
seeded validation split that no selector ever sees.

in:  --source (data.source: a local file or directory)   params: data, eval.datasets
out: --out (JSONL {id, instruction, response, source[, chat_rounds]}), --valid (same), --metrics
"""

from __future__ import annotations

import time

from stages._run import run


def main(args, p) -> None:
    from codesift import CodesiftError
    from codesift.data.prepare import prepare, split_valid
    from codesift.data.sources import read_source, skipped_files
    from codesift.evaluation.benchmarks import decontamination_texts
    from codesift.io import write_json, write_jsonl

    start = time.perf_counter()
    cfg = p.data
    texts = {name: decontamination_texts(name, p.eval.datasets) for name in cfg.decontaminate}
    records, report = prepare(read_source(args.source, cfg.hub, cfg.split, cfg.revision), cfg,
                              texts)
    report.skipped_files = skipped_files(args.source, cfg.hub)
    if len(records) <= cfg.valid_size:
        raise CodesiftError(
            f"{cfg.hub or args.source}: {len(records)} usable records remain, but the pipeline "
            f"needs at least {cfg.valid_size + 1} (data.valid_size {cfg.valid_size} for the "
            f"validation split, and one to select and train on): {report.summary()}")
    train, valid = split_valid(records, cfg.valid_size, cfg.seed)
    write_jsonl(args.out, train)
    write_jsonl(args.valid, valid)
    write_json(args.metrics, {**report.as_dict(), "n_train": len(train), "n_valid": len(valid),
                              "seconds": time.perf_counter() - start})
    print(f"prepare: {report.summary()}; {len(valid)} set aside for validation")


PATHS = {  # every path comes from dvc.yaml's cmd
    "--source": "data.source (ignored when data.hub is set)",
    "--out": "prepared records to select from (JSONL)",
    "--valid": "the validation split (JSONL)",
    "--metrics": "metrics JSON",
}


if __name__ == "__main__":
    run(main, __doc__, PATHS)
