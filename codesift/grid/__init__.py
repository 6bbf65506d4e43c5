"""Grids of experiments: a YAML file that names experiments and their param overrides.

    description: cdas vs random at two sizes, and the full data   # optional
    profile: configs/ci.yaml     # optional: overrides for every experiment (--profile replaces)
    baseline: full               # optional: the report's baseline (default: the most data)
    common: {train.seed: 0}      # optional: overrides for every experiment
    matrix:                      # optional: every combination, in the order written
      select.method: [cdas, random]
      select.ratio: [0.1, 0.4]
    name: "{select.method}-{select.ratio}"   # optional; default: the values joined by '-'
    experiments:                 # optional: more experiments, each named
      - {name: full, set: {select.method: random, select.ratio: 1.0}}
    seeds: [0, 1, 2]             # optional: each experiment once per seed, as an arm

With `seeds`, every experiment above is an arm run once per seed, named `<arm>-s<seed>` (e.g.
cdas-0.4-s1), with select.seed and train.seed both set to the seed; no arm may set either
itself (nor may `common` or the profile), and `baseline` names an arm.

An experiment's params are the committed params.yaml plus, in this order, the profile, `common`
and its own overrides; nothing else (see `queue.py` for what DVC would otherwise carry over).
Every problem of the file is reported at once, and every experiment's params are checked with
params.yaml's schema before anything is queued.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codesift import CodesiftError
from codesift.check import full_build
from codesift.config import SEED_KEYS, flatten
from codesift.io import read_yaml
from codesift.profiles import override

KEYS = {"description", "profile", "baseline", "common", "matrix", "name", "experiments", "seeds"}
# git ref component rules DVC enforces on -n, kept simple: no "..", no leading "." or "-"
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
FIELD = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True)
class Experiment:
    name: str
    overrides: dict[str, Any]  # dotted key -> value, profile and common included
    arm: str = ""  # the arm it is one seed of (with `seeds:`); "": the experiment is the arm
    from_profile: frozenset[str] = frozenset()  # the keys whose value is the profile's

    def set_params(self) -> list[str]:
        """The `-S` arguments of `dvc exp run`."""
        return [override(k, v) for k, v in self.overrides.items()]


@dataclass
class Grid:
    path: Path
    experiments: list[Experiment] = field(default_factory=list)
    baseline: str | None = None
    profile: str | None = None
    description: str = ""
    seeds: list[int] = field(default_factory=list)  # [] : no seed axis


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _problems(raw: Any) -> list[str]:
    """Shape problems of a grid mapping (one message each)."""
    if not isinstance(raw, dict):
        return ["expected a mapping with matrix and/or experiments"]
    out = [f"{k}: unknown key (known: {', '.join(sorted(KEYS))})" for k in raw if k not in KEYS]
    for key in ("description", "profile", "baseline", "name"):
        if key in raw and not isinstance(raw[key], str):
            out.append(f"{key}: expected a string, got {raw[key]!r}")
    if not isinstance(raw.get("common", {}), dict):
        out.append(f"common: expected a mapping of overrides, got {raw['common']!r}")
    matrix = raw.get("matrix", {})
    if not isinstance(matrix, dict):
        out.append(f"matrix: expected a mapping of key: [values], got {matrix!r}")
    else:
        out += [f"matrix.{k}: expected a non-empty list of values, got {v!r}"
                for k, v in matrix.items() if not isinstance(v, list) or not v]
    exps = raw.get("experiments", [])
    if not isinstance(exps, list):
        out.append(f"experiments: expected a list, got {exps!r}")
    else:
        for i, e in enumerate(exps):
            if not isinstance(e, dict) or set(e) - {"name", "set"} or \
                    not isinstance(e.get("name"), str) or not isinstance(e.get("set", {}), dict):
                out.append(f"experiments[{i}]: expected {{name: str, set: {{key: value}}}}, "
                           f"got {e!r}")
    if not out and not matrix and not exps:
        out.append("no experiments: give a matrix and/or experiments")
    return out + _seed_problems(raw)


def _seed_problems(raw: dict) -> list[str]:
    """The `seeds` list: non-empty, integers only (bools are not), each once."""
    if "seeds" not in raw:
        return []
    seeds = raw["seeds"]
    if not isinstance(seeds, list) or not seeds:
        return [f"seeds: expected a non-empty list of integers, got {seeds!r}"]
    out = [f"seeds: {s!r} is not an integer" for s in seeds
           if not isinstance(s, int) or isinstance(s, bool)]
    ints = [s for s in seeds if isinstance(s, int) and not isinstance(s, bool)]
    return out + [f"seeds: {s} is listed {ints.count(s)} times"
                  for s in dict.fromkeys(ints) if ints.count(s) > 1]


def _seed_setters(raw: dict, profile: str | None, base: dict[str, Any]) -> list[str]:
    """With `seeds`, every place that sets select.seed or train.seed itself (one line each):
    the grid sets both from the seed, so an own value would be silently replaced."""
    if "seeds" not in raw:
        return []
    sources: list[tuple[str, dict]] = [(f"the profile {profile}", base),
                                       ("common", flatten(raw.get("common") or {}))]
    sources += [(f"matrix.{k}", flatten({k: v})) for k, vs in (raw.get("matrix") or {}).items()
                for v in vs]
    sources += [(f"experiment {e['name']}", flatten(e.get("set") or {}))
                for e in raw.get("experiments") or []]
    lines = [f"seeds: {where} sets {key}; with seeds the grid sets {' and '.join(SEED_KEYS)} "
             "of every experiment to its seed" for where, flat in sources for key in SEED_KEYS
             if key in flat]
    return list(dict.fromkeys(lines))  # a matrix key's values: one line, not one per value


def _expand(raw: dict) -> list[tuple[str, dict[str, Any]]]:
    """(name, own overrides) of every experiment: the matrix's combinations, then the list."""
    matrix: dict[str, list] = raw.get("matrix") or {}
    template = raw.get("name")
    out = []
    for combo in itertools.product(*matrix.values()) if matrix else []:
        values = dict(zip(matrix, combo, strict=True))
        if template:
            unknown = [f for f in FIELD.findall(template) if f not in values]
            if unknown:
                raise CodesiftError(f"name: {{{unknown[0]}}} is not a matrix key "
                                    f"({', '.join(matrix)})")
            name = FIELD.sub(lambda m, v=values: _text(v[m.group(1)]), template)
        else:
            name = "-".join(_text(v) for v in combo)
        out.append((name, values))
    return out + [(e["name"], dict(e.get("set") or {})) for e in raw.get("experiments") or []]


def load_grid(path: str | Path, profile: str | Path | None = None) -> Grid:
    """The grid's experiments with their overrides (shape checked, names unique and valid);
    `profile` replaces the file's own."""
    path = Path(path)
    raw = read_yaml(path) if path.is_file() else None
    if raw is None:
        raise CodesiftError(f"{path}: grid file not found")
    problems = _problems(raw)
    if problems:
        raise CodesiftError("\n".join(f"{path}: {p}" for p in problems))
    try:
        named = _expand(raw)
    except CodesiftError as e:
        raise CodesiftError(f"{path}: {e}")
    names = [n for n, _ in named]
    _check_names(path, names)
    prof = str(profile) if profile else raw.get("profile")
    base = flatten(read_yaml(prof)) if prof else {}
    setters = _seed_setters(raw, prof, base)
    if setters:
        raise CodesiftError("\n".join(f"{path}: {line}" for line in setters))
    if raw.get("baseline") and raw["baseline"] not in names:
        raise CodesiftError(f"{path}: baseline {raw['baseline']!r} is not one of the grid's "
                            f"experiments ({', '.join(names)})")
    common = flatten(raw.get("common") or {})  # dotted keys, mapping values too
    arms = [Experiment(n, {**base, **common, **flatten(own)},
                       from_profile=frozenset(base) - set(common) - set(flatten(own)))
            for n, own in named]
    exps = _per_seed(arms, raw.get("seeds") or [])
    return Grid(path, exps, raw.get("baseline"), prof, raw.get("description", ""),
                list(raw.get("seeds") or []))


def _per_seed(arms: list[Experiment], seeds: list[int]) -> list[Experiment]:
    """Each arm once per seed (`<arm>-s<seed>`, select.seed and train.seed set), arm by arm;
    the arms themselves without seeds."""
    if not seeds:
        return arms
    return [Experiment(f"{a.name}-s{s}", {**a.overrides, **dict.fromkeys(SEED_KEYS, s)},
                       a.name, a.from_profile) for a in arms for s in seeds]


def _check_names(path: Path, names: list[str]) -> None:
    """Valid DVC experiment names, each used once (with seeds, the arms': `-s<seed>` keeps
    a valid name valid and distinct names distinct)."""
    bad = [n for n in names if not NAME.match(n) or ".." in n or n.endswith(".lock")]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if bad or dupes:
        raise CodesiftError("\n".join([f"{path}: experiment name {n!r} is not a valid DVC "
                                       "experiment name" for n in bad] +
                                      [f"{path}: experiment name {n!r} is used twice"
                                       for n in dupes]))


def check_params(grid: Grid, committed: dict[str, Any], where: str = "params.yaml",
                 root: Path | None = None) -> None:
    """Every experiment's params (the committed ones plus its overrides) through params.yaml's
    full schema (with `root`, the repository, also what a stage would refuse there); all
    problems at once, each naming its experiment and the file that set the bad value."""
    errors = []
    for e in grid.experiments:
        merged = _nest({**flatten(committed), **e.overrides})
        try:
            full_build(merged, where, lambda key, e=e: _origin(grid, e, key, where), root)
        except CodesiftError as err:
            errors.append(str(err))
    if errors:
        raise CodesiftError("\n".join(errors))


def _origin(grid: Grid, e: Experiment, key: str, where: str) -> str:
    mine = [k for k in e.overrides
            if key == k or key.startswith((k + ".", k + "[")) or k.startswith(key + ".")]
    if mine and all(k in e.from_profile for k in mine):
        return f"{grid.profile} (profile of experiment {e.name})"
    return f"{grid.path} (experiment {e.name})" if mine else where


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out
