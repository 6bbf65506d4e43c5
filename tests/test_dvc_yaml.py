"""dvc.yaml is the one source of paths and lists exactly the params each stage's outputs
depend on (the modules each stage loads are checked against its deps in test_pipeline.py)."""

from __future__ import annotations

import ast
import re
import shlex

import pytest
import yaml

from codesift.check import defaults, run_only_keys
from codesift.config import flatten
from tests.conftest import ROOT

SPEC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
KNOBS = set(flatten(defaults()))
PATHS = re.compile(r"^(data|models|results|metrics|dvclive|templates|reports|\.codesift)/")


def _declared(stage: dict) -> list[str]:
    out = list(stage.get("deps", []))
    for kind in ("outs", "metrics", "plots"):
        out += [next(iter(o)) if isinstance(o, dict) else o for o in stage.get(kind, [])]
    return [p.rstrip("/") for p in out]


def _params(stage: dict) -> list[str]:
    return [p for p in stage.get("params", []) if isinstance(p, str)]


@pytest.mark.parametrize("name", sorted(SPEC))
def test_every_path_in_a_cmd_is_a_declared_dep_or_out(name):
    stage = SPEC[name]
    declared = _declared(stage)
    args = shlex.split(stage["cmd"])
    paths = [v for k, v in zip(args, args[1:], strict=False) if k.startswith("--")
             and ("/" in v or v in declared) and not v.startswith("$")]
    for path in paths:
        path = path.replace("${item.shard}", "0")
        ok = any(path == d or path.startswith(d + "/") or d.startswith(path + "/")
                 for d in (d.replace("${item.shard}", "0") for d in declared)) \
            or path.startswith(".codesift/") or path == "params.yaml"
        assert ok, f"{name}: {path} in cmd is neither a dep nor an out"


@pytest.mark.parametrize("name", sorted(SPEC))
def test_params_exist_and_none_only_changes_how_a_stage_runs(name):
    for key in _params(SPEC[name]):
        assert key in KNOBS or any(k.startswith(key + ".") for k in KNOBS), f"{name}: {key}"
        covered = {k for k in run_only_keys() if k == key or k.startswith(key + ".")}
        assert not covered, f"{name} lists {key}, which covers run-only {covered}"


# What each stage reads of the params (a stage taking a section but its run-only knobs lists
# every other knob of it). Update this with the stage's code.
READS = {
    "prepare": {"data", "eval.datasets"},
    "base": {"model.name", "model.revision", "model.dtype", "model.bootstrap"},
    "scorer": {"ifd.model", "ifd.revision"},
    "ifd": {"ifd.template", "ifd.dtype", "ifd.alignment", "ifd.variant", "ifd.max_len",
            "ifd.batch_tokens", "ifd.pack", "ifd.num_shards", "ifd.chunk_size", "template"},
    "ifd_merge": {"ifd.num_shards"},
    "deita_score": {"select.deita.scorer_complexity", "select.deita.scorer_quality",
                    "select.deita.scorer_max_len", "select.deita.scorer_batch_tokens",
                    "model.dtype"},
    "embed": {"embed"},
    "rds_embed": {"select.method", "select.rds", "template", "ifd.template", "ifd.dtype"},
    "less_grads": {"select.method", "select.less", "template", "ifd.template", "ifd.dtype"},
    "select": {"select"},
    "train": {"train", "template", "model.attn_implementation"},
}


@pytest.mark.parametrize("name", sorted(READS))
def test_each_stage_lists_what_it_reads_but_run_only_knobs(name):
    want = {k for r in READS[name] for k in KNOBS if k == r or k.startswith(r + ".")}
    want -= run_only_keys()
    listed = {k for p in _params(SPEC[name]) for k in KNOBS if k == p or k.startswith(p + ".")}
    assert listed == want


def test_stage_modules_hold_no_paths():
    for path in sorted((ROOT / "stages").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not PATHS.match(node.value), f"{path.name}: {node.value!r}"
