"""RDS+: pooling and round-robin against hand computations; the rds_embed stage end to end
on a tiny model, and its bad inputs."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from codesift.io import ArrayChunks
from codesift.representations import position_weights, record_ids, representations
from codesift.representations import representations_resumable as resumable
from codesift.selection import Pool
from codesift.selection.rds import round_robin
from tests.conftest import ROOT
from tests.helpers.params import tiny_scorer
from tests.helpers.pools import pick


def test_round_robin_by_hand():
    """q0 likes every sample more than q1 likes any, so ranking by score would take q0's top
    four; the round-robin alternates. q0 ranks 0 1 2 3 4, q1 ranks 2 4 0 1 3 (1 and 3 tie at
    0.1: pool order). Round 0: q0 -> 0, q1 -> 2. Round 1: q0 -> 1, q1 -> 4. Round 2: q0 -> 2
    (taken), q1 -> 0 (taken). Round 3: q0 -> 3, q1 -> 1 (taken)."""
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.1],
                       [0.2, 0.1, 0.3, 0.1, 0.25]])
    assert round_robin(scores, 3).tolist() == [0, 2, 1]
    assert round_robin(scores, 4).tolist() == [0, 2, 1, 4]
    assert round_robin(scores, 5).tolist() == [0, 2, 1, 4, 3]


def test_rds_selector_uses_cosine_to_the_query_set():
    x = np.eye(4, dtype=np.float32)[[0, 0, 1, 1, 2, 3]] + 0.01 * np.arange(6)[:, None]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    pool = Pool(embeddings=None, ifd=np.ones(6), ppl=np.ones(6), reps=x,
                query_reps=np.eye(4, dtype=np.float32)[[0, 2]])
    assert pick("rds", pool, 2).tolist() == [0, 4]  # each query's nearest sample
    no_query = Pool(embeddings=None, ifd=np.ones(6), ppl=np.ones(6), reps=x)
    with pytest.raises(Exception, match="needs query_reps"):
        pick("rds", no_query, 2)


def test_position_weights_by_hand():
    w = position_weights(torch.tensor([3, 1]), 4)
    np.testing.assert_allclose(w.numpy(), [[1 / 6, 2 / 6, 3 / 6, 0], [1, 0, 0, 0]])


def test_pooling_is_the_papers_weighted_mean_of_the_last_hidden_states(tiny):
    """Batch size 1, as the paper runs it: (1 h_0 + 2 h_1 + ... + L h_{L-1}) / (L(L+1)/2) of
    `hidden_states[-1]`, L2-normalised; batched with padding, the same vectors."""
    model, tok = tiny
    seqs = [tok("def add(a, b): return a + b")["input_ids"], tok("x = 1")["input_ids"],
            tok("print('hello world, and more')")["input_ids"]]
    want = []
    for s in seqs:
        with torch.no_grad():
            h = model(input_ids=torch.tensor([s]), output_hidden_states=True
                      ).hidden_states[-1][0].double()
        v = sum((t + 1) * h[t] for t in range(len(s))) / (len(s) * (len(s) + 1) / 2)
        want.append((v / v.norm()).numpy())
    got = representations(model, tok, seqs, batch_tokens=10_000)  # one padded batch
    np.testing.assert_allclose(got, np.array(want), atol=1e-5)
    one_by_one = representations(model, tok, seqs, batch_tokens=1)
    np.testing.assert_allclose(got, one_by_one, atol=1e-5)


def test_record_ids_are_the_training_text(tiny, template):
    from codesift.data.record import turns
    from codesift.templates import encode_turns

    _, tok = tiny
    rec = {"id": "a", "instruction": "Add two numbers.", "response": "return a + b"}
    assert record_ids(tok, template, rec, 512) == encode_turns(
        tok, template, turns(rec), 512).input_ids
    assert len(record_ids(tok, template, rec, 5)) == 5


def test_resumable_reuses_finished_chunks_and_ignores_other_inputs(tiny, tmp_path):
    model, tok = tiny
    seqs = [tok(f"line {i} " * (i + 1))["input_ids"] for i in range(7)]
    full = representations(model, tok, seqs, 64)
    store = ArrayChunks(tmp_path / "r", "fp1")
    store.put(1, np.full((3, full.shape[1]), 7.0, dtype=np.float32))  # a "finished" chunk 1
    got, resumed = resumable(model, tok, seqs, 64, store, chunk_size=3)
    assert resumed == 3 and np.all(got[3:6] == 7.0)  # taken from the store, not recomputed
    np.testing.assert_array_equal(got[:3], full[:3])
    np.testing.assert_array_equal(got[6:], full[6:])
    fresh = ArrayChunks(tmp_path / "r", "fp2")  # other inputs: the old chunks are dropped
    assert fresh.get(0) is None and fresh.get(1) is None


# --- the stage -----------------------------------------------------------------------------

def _records(prefix: str, n: int) -> str:
    return "".join(json.dumps({"id": f"{prefix}{i}", "instruction": f"Write function {i}.",
                               "response": f"def f{i}():\n    return {i}", "source": "x"}) + "\n"
                   for i in range(n))


def _stage(tmp_path, model: str, method: str = "rds", query: str = "valid.jsonl"):
    params = (ROOT / "params.yaml").read_text().replace("  method: cdas ", f"  method: {method} ",
                                                        1)
    params = params.replace("query: data/prepared/valid.jsonl", f"query: {query}", 1)
    (tmp_path / "params.yaml").write_text(params)
    tiny_scorer(tmp_path / "params.yaml")
    argv = [sys.executable, "-m", "stages.rds_embed", "--model", model, "--data", "train.jsonl",
            "--templates", str(ROOT / "templates"), "--out", "rds", "--metrics", "m.json",
            "--resume", "resume"]
    return subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"})


def test_stage_writes_representations_of_pool_and_query(tiny_dir, tmp_path):
    (tmp_path / "train.jsonl").write_text(_records("t", 5))
    (tmp_path / "valid.jsonl").write_text(_records("v", 2))
    out = _stage(tmp_path, str(tiny_dir))
    assert out.returncode == 0, out.stderr
    reps, query = np.load(tmp_path / "rds/reps.npy"), np.load(tmp_path / "rds/query.npy")
    assert reps.shape == (5, 32) and query.shape == (2, 32)
    np.testing.assert_allclose(np.linalg.norm(reps, axis=1), 1, rtol=1e-5)
    assert json.loads((tmp_path / "rds/ids.json").read_text()) == [f"t{i}" for i in range(5)]
    assert json.loads((tmp_path / "rds/query_ids.json").read_text()) == ["v0", "v1"]
    assert not (tmp_path / "resume/rds").exists()  # finished: the chunks are gone
    first = (tmp_path / "rds/reps.npy").read_bytes()
    assert _stage(tmp_path, str(tiny_dir)).returncode == 0
    assert (tmp_path / "rds/reps.npy").read_bytes() == first  # byte-stable


def test_select_stage_picks_by_rds(tiny_dir, tmp_path):
    """rds_embed then select on the same records: the representations reach the selector."""
    from tests.helpers.records import pool_files

    for rel, content in pool_files(n=5).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(content if isinstance(content, bytes) else content.encode())
    (tmp_path / "train.jsonl").write_bytes((tmp_path / "p.jsonl").read_bytes())
    (tmp_path / "valid.jsonl").write_text(_records("v", 2))
    assert _stage(tmp_path, str(tiny_dir)).returncode == 0
    (tmp_path / "less").mkdir()
    (tmp_path / "less/ids.json").write_text("[]")  # what less_grads writes for other methods
    argv = [sys.executable, "-m", "stages.select", "--data", "p.jsonl", "--scores", "s.jsonl",
            "--deita", "d.jsonl", "--embeddings", "emb", "--rds", "rds", "--less", "less",
            "--out", "sel.jsonl", "--metrics", "m.json", "--plots", "plots"]
    out = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    reps, query = np.load(tmp_path / "rds/reps.npy"), np.load(tmp_path / "rds/query.npy")
    want = sorted(round_robin(query @ reps.T, 2).tolist())
    got = [json.loads(x)["id"] for x in (tmp_path / "sel.jsonl").read_text().splitlines()]
    assert got == [f"r{i}" for i in want]


def test_stage_writes_empty_outputs_for_other_methods_without_a_model(tmp_path):
    (tmp_path / "train.jsonl").write_text(_records("t", 3))
    out = _stage(tmp_path, "no-such-model", method="cdas", query="missing.jsonl")
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "rds/ids.json").read_text()) == []
    assert np.load(tmp_path / "rds/reps.npy").size == 0


@pytest.mark.parametrize("query, model, says", [
    ("missing.jsonl", "TINY", "select.rds.query: missing.jsonl: not found"),
    ("empty.jsonl", "TINY", "select.rds.query: empty.jsonl: no records"),
    ("shared.jsonl", "TINY", "1 of its ids are also in the pool (first: t1)"),
    ("bad.jsonl", "TINY", "bad.jsonl:2: a query record needs an id"),
    ("valid.jsonl", "no-model", "no-model: no model there; select.method rds needs the scorer"),
])
def test_bad_input_is_one_line_before_any_work(tiny_dir, tmp_path, query, model, says):
    (tmp_path / "train.jsonl").write_text(_records("t", 3))
    (tmp_path / "valid.jsonl").write_text(_records("v", 2))
    (tmp_path / "empty.jsonl").write_text("\n")
    (tmp_path / "shared.jsonl").write_text(_records("v", 1) + json.dumps(
        {"id": "t1", "instruction": "q", "response": "a"}) + "\n")
    (tmp_path / "bad.jsonl").write_text(_records("v", 1) + json.dumps({"id": "v9"}) + "\n")
    out = _stage(tmp_path, str(tiny_dir) if model == "TINY" else model, query=query)
    errors = [x for x in out.stderr.splitlines() if x.startswith("error: ")]
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert len(errors) == 1 and says in errors[0], out.stderr
    assert not (tmp_path / "rds").exists() and not (tmp_path / "resume").exists()
