"""End to end: `dvc repro` of the tiny CI profile in a temp copy of the repo, then the DVC
workflows a user relies on (no-op repro, experiments, push and pull)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from codesift.config import apply_profile
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

OUTPUTS = ["data/prepared/train.jsonl", "models/base/config.json",
           "data/scores/shards/0/scores.jsonl", "data/scores/ifd.jsonl", "metrics/ifd_hist.json",
           "data/embeddings/embeddings.npy", "data/selected/train.jsonl",
           "models/finetuned/config.json", "results/samples/humaneval.jsonl",
           "results/eval/humaneval.jsonl", "dvclive/train/plots/metrics/train/loss.tsv"]


def sh(*cmd: str, cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "HF_HUB_OFFLINE": "1", "DVC_NO_ANALYTICS": "1"}
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, f"{cmd} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout + out.stderr


def ran(log: str) -> set[str]:
    return set(re.findall(r"Running stage '([\w@-]+)'", log))


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A git clone-like copy of the working tree with the CI profile applied and committed."""
    dst = tmp_path_factory.mktemp("pipeline") / "repo"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file() and not f.startswith(("dvclive/", "metrics/")) \
                and f != "dvc.lock":
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dst / f)
    merged = apply_profile(dst / "params.yaml", ROOT / "configs/ci.yaml")
    (dst / "params.yaml").write_text(yaml.safe_dump(merged, sort_keys=False))
    sh("git", "init", "-q", "-b", "main", cwd=dst)
    sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A", cwd=dst)
    sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init", cwd=dst)
    sh("git", "config", "user.name", "t", cwd=dst)
    sh("git", "config", "user.email", "t@t", cwd=dst)
    return dst


def test_repro_writes_every_output_with_the_contract_keys(repo):
    log = sh("dvc", "repro", cwd=repo)
    assert ran(log) == {"prepare", "base", "ifd@0", "ifd_merge", "embed", "select", "train",
                        "generate", "evaluate"}
    for out in OUTPUTS:
        assert (repo / out).exists(), out
    m = {n: json.loads((repo / f"metrics/{n}.json").read_text())
         for n in ("prepare", "ifd", "select", "train", "eval")}
    assert {"n_scored", "n_failed", "n_truncated", "tokens_per_second", "seconds"} <= set(m["ifd"])
    assert {"method", "n_total", "n_selected", "ratio", "seconds"} <= set(m["select"])
    assert {"train_loss", "train_seconds", "tokens_per_second", "pad_fraction",
            "peak_memory_mb", "steps"} <= set(m["train"])
    assert m["eval"]["humaneval"]["n_tasks"] == 6 and 0 <= m["eval"]["humaneval"]["pass@1"] <= 1
    assert m["eval"]["heldout_nll"] > 0
    assert m["prepare"]["n_kept"] == 200
    score = json.loads((repo / "data/scores/ifd.jsonl").read_text().splitlines()[0])
    assert {"id", "ce_cond", "ce_uncond", "ifd", "n_answer_tokens", "truncated",
            "error"} <= set(score)


def test_second_repro_runs_nothing(repo):
    assert ran(sh("dvc", "repro", cwd=repo)) == set()
    assert "up to date" in sh("dvc", "status", cwd=repo)


def test_forced_rerun_of_train_and_select_gives_the_same_bytes(repo):
    """Seeded all the way: a forced rerun leaves dvc.lock's output hashes as they were."""
    before = (repo / "dvc.lock").read_text()
    for stage in ("select", "train"):
        sh("dvc", "repro", "-f", "-s", stage, cwd=repo)
    assert "up to date" in sh("dvc", "status", cwd=repo)
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    old = yaml.safe_load(before)
    for stage in ("select", "train"):
        outs = {o["path"]: o["md5"] for o in lock["stages"][stage]["outs"]}
        want = {o["path"]: o["md5"] for o in old["stages"][stage]["outs"]}
        assert {p: outs[p] for p in outs if not p.startswith(("metrics/", "dvclive/"))} == \
            {p: want[p] for p in want if not p.startswith(("metrics/", "dvclive/"))}


def test_experiment_reruns_only_downstream_of_select(repo):
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "baseline run", cwd=repo)
    before = (repo / "data/selected/train.jsonl").read_text()
    log = sh("dvc", "exp", "run", "-S", "select.ratio=0.3", cwd=repo)
    assert ran(log) == {"select", "train", "generate", "evaluate"}
    assert (repo / "data/selected/train.jsonl").read_text() != before
    text = json.dumps(_json_of(sh("dvc", "exp", "show", "--json", cwd=repo)))
    assert "0.3" in text and "pass@1" in text and "heldout_nll" in text


def _json_of(out: str) -> object:
    return json.loads(out[out.index("["):out.rindex("]") + 1])


def test_sharded_scoring_matches_one_shard(repo):
    one = [json.loads(x) for x in (repo / "data/scores/ifd.jsonl").read_text().splitlines()]
    log = sh("dvc", "exp", "run", "-S", "ifd.num_shards=2", "-S", "ifd.shards=[0,1]", cwd=repo)
    assert {"ifd@0", "ifd@1", "ifd_merge"} <= ran(log) and "embed" not in ran(log)
    two = [json.loads(x) for x in (repo / "data/scores/ifd.jsonl").read_text().splitlines()]
    assert [r["id"] for r in one] == [r["id"] for r in two]
    for a, b in zip(one, two, strict=True):
        assert (a["ifd"] is None) == (b["ifd"] is None)
        assert a["ifd"] is None or abs(a["ifd"] - b["ifd"]) < 1e-5
    # The same shards from one multi-process launch outside DVC (what accelerate launch does
    # on a multi-GPU machine): identical bytes, so DVC sees nothing to do.
    shards = [(repo / f"data/scores/shards/{k}/scores.jsonl").read_bytes() for k in (0, 1)]
    sh("torchrun", "--standalone", "--nproc_per_node", "2", "-m", "stages.ifd", "--shard",
       "auto", cwd=repo)
    assert shards == [(repo / f"data/scores/shards/{k}/scores.jsonl").read_bytes()
                      for k in (0, 1)]


def test_push_then_pull_into_a_fresh_clone_restores_everything(repo, tmp_path):
    remote = tmp_path / "remote"
    sh("dvc", "remote", "add", "-d", "local", str(remote), cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "remote", cwd=repo)
    sh("dvc", "push", cwd=repo)
    clone = tmp_path / "clone"
    sh("git", "clone", "-q", str(repo), str(clone), cwd=tmp_path)
    sh("dvc", "pull", cwd=clone)
    for out in OUTPUTS:
        assert (clone / out).exists(), out
    assert "up to date" in sh("dvc", "status", cwd=clone)
