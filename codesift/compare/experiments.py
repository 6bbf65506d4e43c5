"""Experiments DVC knows, read into `Experiment`s: which ones (`dvc exp show --json`), then each
one's params.yaml, metrics/*.json and results/eval/*.jsonl through `dvc.api.DVCFileSystem` at
its revision (outputs are served from the DVC cache; nothing is checked out).

Files are read as written, never through `dvc.api.exp_show`, which turns numbers into floats
and lists into strings. Keys missing from older runs are left blank.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from codesift import CodesiftError
from codesift.compare.results import Experiment

log = logging.getLogger(__name__)
WORKSPACE = "workspace"
METRICS, VERDICTS, SAMPLES = "metrics", "results/eval", "results/samples"
CLUSTER_SHARES = "metrics/select/cluster_shares.json"  # the select stage's plot data


@dataclass(frozen=True)
class Ref:
    """An experiment to read: its row name and git revision (None: the workspace)."""

    name: str
    rev: str | None


def list_refs(root: Path, names: Sequence[str] = (), all_branches: bool = False
              ) -> list[Ref]:
    """`names` as given (experiment, branch, tag, commit or "workspace"), else the workspace,
    HEAD (all branches' tips with `all_branches`) and their finished experiments."""
    if names:
        return [Ref(n, None if n == WORKSPACE else n) for n in names]
    refs: list[Ref] = []
    for state in exp_show(root, all_branches):
        rev = state["rev"]
        refs.append(Ref(WORKSPACE, None) if rev == WORKSPACE
                    else Ref(state.get("name") or rev[:7], rev))
        refs += [Ref(name, tip) for name, status, tip in _experiments(state)
                 if status == "success"]  # queued, running or failed: nothing to read yet
    return refs


def exp_show(root: Path, all_branches: bool = False) -> list[dict]:
    """`dvc exp show --json`: the workspace and baselines, each with its experiments."""
    out = _dvc(root, "exp", "show", "--json", *(["--all-branches"] if all_branches else []))
    return json.loads(out[out.index("["):]) if "[" in out else []


def _experiments(state: dict) -> list[tuple[str, str, str]]:
    """(name, status, tip rev) of a baseline's experiments; status is the queue's (queued,
    running, failed) or success."""
    out = []
    for group in state.get("experiments") or []:
        tip = group["revs"][0]
        status = (group.get("executor") or {}).get("state") or "success"
        out.append((group.get("name") or tip.get("name") or tip["rev"][:7], status, tip["rev"]))
    return out


def experiment_states(root: Path) -> dict[str, str]:
    """name -> status of HEAD's experiments, queued and failed ones included."""
    return {name: status for state in exp_show(root) if state["rev"] != WORKSPACE
            for name, status, _ in _experiments(state)}


def _dvc(root: Path, *args: str) -> str:
    return run_tool(root, "dvc", *args)


def tool_env() -> dict[str, str]:
    """The environment with this interpreter's bin first on PATH."""
    return {**os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def run_tool(root: Path, *cmd: str) -> str:
    """stdout of a command run in `root`, this interpreter's bin first on PATH (so `dvc` and
    the queue workers it spawns are this environment's, activated or not)."""
    proc = subprocess.run(list(cmd), cwd=root, capture_output=True, text=True, env=tool_env())
    if proc.returncode:
        raise CodesiftError(f"{' '.join(cmd[:4])} ... failed in {root}: "
                            f"{(proc.stderr or proc.stdout).strip()[-800:]}")
    return proc.stdout


def read_experiment(root: Path, ref: Ref) -> Experiment:
    """The experiment's params, metrics and verdicts at its revision."""
    from dvc.api import DVCFileSystem
    from dvc.scm import RevError

    fs = DVCFileSystem(str(root), rev=ref.rev)
    try:
        params = _read(fs, "params.yaml", yaml.safe_load) or {}
        metrics = {Path(p).stem: m for p in _files(fs, METRICS, ".json")
                   if isinstance(m := _read(fs, p, json.loads), dict)}
        verdicts = {Path(p).stem: _read(fs, p, _jsonl) or []
                    for p in _files(fs, VERDICTS, ".jsonl")}
        for bench, rows in verdicts.items():
            with_code(rows, _read(fs, f"{SAMPLES}/{bench}.jsonl", _jsonl))
        shares = _read(fs, CLUSTER_SHARES, json.loads)
    except RevError as e:
        raise CodesiftError(f"{ref.name}: no such experiment, branch or commit ({e})")
    finally:
        fs.close()
    reported = {k: v for k, v in metrics.get("eval", {}).items()
                if isinstance(v, dict) and "pass@1" in v}
    return Experiment(ref.name, {**facts(params, metrics), "cluster_shares": shares},
                      verdicts, reported, params)


def with_code(rows: list[dict], samples: list[dict] | None) -> None:
    """Each verdict row gets its sample's code (`solution`, else the `completion` generated),
    which the report shows for the tasks two runs disagree on. The evaluate stage writes one
    row per sample in sample order; rows that do not line up stay without code."""
    if not samples or len(samples) != len(rows):
        return
    for row, s in zip(rows, samples, strict=True):
        code = s.get("solution", s.get("completion"))
        if s.get("task_id") == row.get("task_id") and isinstance(code, str):
            row.setdefault("solution", code)


def _files(fs: Any, folder: str, suffix: str) -> list[str]:
    try:
        return sorted(p for p in fs.ls(folder, detail=False) if p.endswith(suffix))
    except FileNotFoundError:
        return []


def _read(fs: Any, path: str, parse: Any) -> Any:
    """Parsed content; None when the revision lacks the file (older runs) or its data is not
    in the DVC cache (said on stderr: `dvc pull` brings it)."""
    try:
        return parse(fs.read_text(path))
    except FileNotFoundError:
        if fs.exists(path):
            log.warning("%s: in the revision but not in the DVC cache (dvc pull)", path)
        return None
    except (ValueError, yaml.YAMLError) as e:
        log.warning("%s: unreadable (%s)", path, e)
        return None


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def facts(params: dict, metrics: dict[str, dict]) -> dict[str, Any]:
    """The run columns: what was asked for, what was selected and trained, what it cost."""
    sel, train, ev = (metrics.get(k, {}) for k in ("select", "train", "eval"))
    p_sel = params.get("select", {}) or {}
    sample_num = p_sel.get("sample_num") or None  # > 0: an exact count, the ratio unused
    n_sel, n_total = sel.get("n_selected"), sel.get("n_total")
    share = sel.get("share_selected")
    if share is None and n_sel is not None and n_total:
        share = n_sel / n_total
    seconds = [m["seconds"] for m in metrics.values()
               if isinstance(m.get("seconds"), int | float)]
    return {
        "method": sel.get("method", p_sel.get("method")),
        "ratio": None if sample_num else sel.get("ratio_requested", p_sel.get("ratio")),
        "sample_num": sample_num,
        "n_selected": n_sel, "share": share,
        "epochs": train.get("epochs_trained"),
        "supervised_tokens": train.get("supervised_tokens"),
        "train_seconds": train.get("train_seconds"),
        "pad_fraction": train.get("pad_fraction"),
        "peak_memory_mb": train.get("peak_memory_mb"),
        "total_seconds": sum(seconds) if seconds else None,
        "heldout_nll": ev.get("heldout_nll"),
        "valid_loss": ev.get("valid_loss"),
        # what the subset is made of: {"column", "pool": {label: share}, "selected": {...}}
        "labels": sel.get("labels") if isinstance(sel.get("labels"), dict) else None,
        "flawed_share": sel.get("flawed_share"),
        "flawed_share_pool": sel.get("flawed_share_pool"),
    }


def read_experiments(root: Path, names: Sequence[str] = (), all_branches: bool = False
                     ) -> list[Experiment]:
    """Every listed experiment once. By default the workspace row is dropped when it holds
    exactly the results of a listed revision (after `dvc exp run` it is the last one)."""
    refs = list(dict.fromkeys(list_refs(root, names, all_branches)))
    repeated = {r.name for r in refs if [x.name for x in refs].count(r.name) > 1}
    refs = [Ref(f"{r.name}@{r.rev[:7]}", r.rev) if r.name in repeated and r.rev else r
            for r in refs]  # e.g. experiments of the same name on two branches
    exps = [read_experiment(root, ref) for ref in refs]
    if names:
        return exps
    return [e for e in exps if e.name != WORKSPACE or not any(
        o is not e and (o.facts, o.verdicts) == (e.facts, e.verdicts) for o in exps)]
