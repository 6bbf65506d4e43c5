"""Sample files as experiments: evalplus-format generations (a published run's or ours),
evaluated with the project's evaluator, one experiment per file name.

A spec is `[BENCHMARK=]PATH`: a `.jsonl` file, a folder (its `*.jsonl`, recursively) or a
glob; without a prefix the files belong to the default benchmark. Files with the same name
under several benchmarks are one experiment (a run's HumanEval+ and MBPP+ samples).
"""

from __future__ import annotations

import glob
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from codesift import CodesiftError
from codesift.compare.results import Experiment
from codesift.evaluation.settings import JudgeSettings


def sample_files(specs: Sequence[str], default: str | None, known: Sequence[str]
                 ) -> dict[str, list[Path]]:
    """benchmark -> sample files, in the order given."""
    out: dict[str, list[Path]] = defaultdict(list)
    for spec in specs:
        bench, sep, pattern = spec.partition("=")
        if not sep:
            bench, pattern = default or "", spec
        if bench not in known:
            raise CodesiftError(f"--samples {spec}: name its benchmark (BENCHMARK=PATH or "
                                f"--benchmark), one of {', '.join(known)}")
        files = _expand(pattern)
        if not files:
            raise CodesiftError(f"--samples {spec}: no .jsonl sample file there")
        out[bench].extend(f for f in files if f not in out[bench])
    return dict(out)


def _expand(pattern: str) -> list[Path]:
    path = Path(pattern)
    if path.is_dir():
        return sorted(path.rglob("*.jsonl"))
    if path.is_file():
        return [path]
    return sorted(Path(p) for p in glob.glob(pattern) if p.endswith(".jsonl"))


def evaluate_files(files: dict[str, list[Path]], cfg: JudgeSettings,
                   datasets: dict[str, str], limit: int = 0) -> list[Experiment]:
    """Every file through its benchmark's judge (made once per benchmark, its files from
    `datasets`); with `limit`, the first tasks only. Each verdict row keeps the code judged
    (`solution`, after the sanitizer when asked), which the report shows for the tasks two
    runs disagree on."""
    from codesift.evaluation.benchmarks import load_benchmark
    from codesift.evaluation.execution import (
        check_task_ids,
        judge_prepared,
        prepare_samples,
        read_samples,
    )

    exps: dict[str, Experiment] = {}
    for name, paths in files.items():
        full = load_benchmark(name, datasets)
        bench = full.head(limit)
        keep = {t["task_id"] for t in bench.tasks}
        judge = bench.judge(cfg)
        for path in paths:
            samples = read_samples(path)
            try:  # prepared once here, so the rows can carry the very code judged
                check_task_ids(full, samples)
                samples = [s for s in samples if s["task_id"] in keep]
                prepared = prepare_samples(bench, samples, cfg)
                verdicts, _ = judge_prepared(bench, prepared, cfg, judge)
            except CodesiftError as e:
                raise CodesiftError(f"{path}: {e}")
            for row, sample in zip(verdicts, prepared, strict=True):
                row["solution"] = sample["solution"]
            exp = exps.setdefault(path.stem, Experiment(path.stem))
            if name in exp.verdicts:
                raise CodesiftError(f"{path}: a second {name} file named {path.stem}; an "
                                    "experiment is named after its file, so rename one")
            exp.verdicts[name] = verdicts
    return list(exps.values())
