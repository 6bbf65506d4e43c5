"""Arms: experiments that differ only by seed, pooled into one row of the report.

Two experiments are seeds of one arm when their params.yaml are equal once select.seed and
train.seed are taken out (what a grid's `seeds:` sets) and their seeds differ. Experiments
without params (sample files) are arms of their own, and so are runs that repeat a seed (a
rerun is not a second draw of the seed: pooling it would count one seed twice).
"""

from __future__ import annotations

import json
import logging
import re
import statistics
from collections.abc import Sequence
from typing import Any

from codesift.compare.experiment import Experiment
from codesift.config import SEED_KEYS, flatten

log = logging.getLogger(__name__)
SEED_SUFFIX = re.compile(r"^(.+)-s-?\d+$")  # the grid's `<arm>-s<seed>`


def arm_key(e: Experiment) -> str | None:
    """The experiment's params without its seeds (None without params: never pooled)."""
    if not e.params:
        return None
    rest = {k: v for k, v in flatten(e.params).items() if k not in SEED_KEYS}
    return json.dumps(rest, sort_keys=True, default=str)


def seeds_of(e: Experiment) -> tuple[Any, ...]:
    flat = flatten(e.params)
    return tuple(flat.get(k) for k in SEED_KEYS)


def group_arms(experiments: Sequence[Experiment]) -> list[list[Experiment]]:
    """The experiments in arms (lists of runs), in the order their first run comes."""
    position = {id(e): i for i, e in enumerate(experiments)}
    buckets: dict[Any, list[Experiment]] = {}
    for i, e in enumerate(experiments):
        buckets.setdefault(arm_key(e) or i, []).append(e)
    arms = []
    for runs in buckets.values():
        seeds = [seeds_of(e) for e in runs]
        if len(set(seeds)) < len(seeds):
            if len(set(seeds)) > 1:  # seeds and a rerun; one seed only: runs of one config
                log.warning("not pooled as seeds (a seed repeats): %s",
                            ", ".join(e.name for e in runs))
            arms += [[e] for e in runs]
        else:
            arms.append(runs)
    return sorted(arms, key=lambda runs: position[id(runs[0])])


def arm_name(runs: Sequence[Experiment], taken: set[str]) -> str:
    """The grid's arm name when every run is `<arm>-s<seed>` of one arm not otherwise taken,
    else the runs' names joined by '+'."""
    if len(runs) == 1:
        return runs[0].name
    stems = {m.group(1) if (m := SEED_SUFFIX.match(e.name)) else None for e in runs}
    stem = stems.pop() if len(stems) == 1 else None
    return stem if stem and stem not in taken else "+".join(e.name for e in runs)


def pooled(runs: list[Experiment], name: str) -> Experiment:
    """One row for an arm: the runs' facts pooled, the runs kept (a single run as it is)."""
    if len(runs) == 1:
        return runs[0]
    return Experiment(name, pooled_facts(runs), params=runs[0].params, runs=runs)


def pooled_facts(runs: Sequence[Experiment]) -> dict[str, Any]:
    """Each fact the runs agree on as it is; a number they differ on as their mean, with its
    standard deviation as `<key>_sd`; blanks (older runs) are left out of both."""
    out: dict[str, Any] = {"seeds": len(runs)}
    for key in dict.fromkeys(k for e in runs for k in e.facts):
        known = [v for e in runs if (v := e.facts.get(key)) is not None]
        if all(v == known[0] for v in known):
            out[key] = known[0] if known else None
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in known):
            out[key] = statistics.fmean(known)
            out[f"{key}_sd"] = statistics.stdev(known)
        else:
            out[key] = "/".join(dict.fromkeys(map(str, known)))
    return out


def arms(experiments: Sequence[Experiment]) -> list[Experiment]:
    """The report's rows: one per arm, a pooled row for an arm of several seeds."""
    taken = {e.name for e in experiments}
    rows = []
    for runs in group_arms(experiments):
        rows.append(pooled(runs, arm_name(runs, taken)))
        taken.add(rows[-1].name)  # two arms of one stem: the second is named by its runs
    return rows
