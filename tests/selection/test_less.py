"""LESS: the projection keeps gradient inner products (Johnson-Lindenstrauss), the Adam-aware
direction is LESS's formula, the stored features give matching.py's weighted score, and the
whole feature pipeline runs on a tiny LoRA model."""

import itertools
import math

import numpy as np
import pytest
import torch

from codesift.less import (
    Checkpoint,
    Projector,
    adam_direction,
    checkpoint_scales,
    features,
    load_checkpoint,
    warmup,
)
from codesift.selection import Pool
from tests.helpers.pools import pick


def test_projection_preserves_inner_products_within_the_jl_bound():
    """For unit u, v and a k-column Rademacher projection, P(|<uR, vR> - <u, v>| >= e) <=
    4 exp(-(e^2 - e^3) k / 4) (the JL lemma for inner products); over 20 vectors' 210 pairs
    (norms included), e below holds all of them with probability >= 0.999."""
    rng = np.random.default_rng(0)
    n, d, k = 20, 30_000, 1024
    scales = rng.uniform(0.01, 3.0, size=d)  # uneven coordinates, as LoRA gradients have
    base = rng.standard_normal((3, d))
    g = (rng.standard_normal((n, d)) + base[rng.integers(3, size=n)]) * scales  # correlated
    u = torch.tensor(g / np.linalg.norm(g, axis=1, keepdims=True), dtype=torch.float32)
    p = Projector(d, k, seed=7, max_floats=1 << 20).project(u)  # 1024 rows per block
    pairs = n * (n + 1) // 2
    e = next(e for e in np.arange(0.01, 1, 0.001)
             if pairs * 4 * math.exp(-(e ** 2 - e ** 3) * k / 4) <= 1e-3)
    err = (p @ p.T - u @ u.T).abs().max().item()
    assert err <= e, (err, e)
    assert abs((u @ u.T).max().item() - 1) < 1e-5 and (u @ u.T).min() < 0.9  # not trivial


def test_projection_is_seeded_and_blockwise_consistent():
    x = torch.randn(3, 5000)
    a = Projector(5000, 64, seed=1, max_floats=64 * 700)
    assert torch.equal(a.project(x), Projector(5000, 64, seed=1, max_floats=64 * 700).project(x))
    assert not torch.equal(a.project(x), Projector(5000, 64, seed=2, max_floats=64 * 700)
                           .project(x))
    whole = torch.cat([a.block(b) for b in range(8)])  # 700 rows each, the last 100
    assert whole.shape == (5000, 64) and set(whole.unique().tolist()) == {-1 / 8, 1 / 8}
    torch.testing.assert_close(a.project(x), x @ whole, rtol=1e-4, atol=1e-4)  # float sums


def test_adam_direction_is_less_formula():
    g, m, v = torch.tensor([1.0, -2.0]), torch.tensor([0.0, 0.5]), torch.tensor([0.0, 0.25])
    want = [0.1 / math.sqrt(0.001 + 1e-8),
            (0.9 * 0.5 - 0.1 * 2) / math.sqrt(0.999 * 0.25 + 0.001 * 4 + 1e-8)]
    torch.testing.assert_close(adam_direction(g, m, v), torch.tensor(want))


def test_concatenated_features_give_matchings_weighted_score():
    """matching.py: sum_c w_c cos(train_c, query_c), w = lr / sum(lr), mean over queries."""
    rng = np.random.default_rng(1)
    lrs = [1.6877e-05, 1.2859e-05, 7.7030e-06, 2.5616e-06]  # LESS README's example weights
    ckpts = [Checkpoint({}, torch.zeros(1), torch.zeros(1), lr) for lr in lrs]
    unit = [rng.standard_normal((10, 8)) for _ in lrs], [rng.standard_normal((3, 8)) for _ in lrs]
    for group in unit:
        for a in group:
            a /= np.linalg.norm(a, axis=1, keepdims=True)
    scales = checkpoint_scales(ckpts)
    train = np.concatenate([s * a for s, a in zip(scales, unit[0], strict=True)], axis=1)
    query = np.concatenate([s * a for s, a in zip(scales, unit[1], strict=True)], axis=1)
    want = sum(lr / sum(lrs) * (t @ q.T) for lr, t, q in zip(lrs, *unit, strict=True)).mean(1)
    pool = Pool(embeddings=None, ifd=np.ones(10), ppl=np.ones(10), grads=train,
                query_grads=query)
    assert pick("less", pool, 4).tolist() == sorted(np.argsort(-want, kind="stable")[:4])


@pytest.fixture(scope="module")
def lora(tiny):
    from peft import LoraConfig, get_peft_model

    from codesift.models import load_model

    model, tok = tiny
    base = load_model(str(model.name_or_path), "float32")
    torch.manual_seed(0)
    return get_peft_model(base, LoraConfig(r=4, lora_alpha=16, lora_dropout=0.1,
                                           target_modules=["q_proj", "k_proj", "v_proj",
                                                           "o_proj"])), tok


def test_warmup_and_features_on_a_tiny_lora_model(lora):
    model, tok = lora
    samples = []
    for i in range(6):
        ids = tok(f"def f{i}(x):\n    return x * {i} + {i * i}")["input_ids"]
        samples.append((ids, [-100] * 3 + ids[3:]))
    ckpts = warmup(model, samples[:4], epochs=2, lr=1e-3, grad_accum=2, seed=0)
    # 2 epochs x 2 steps, ceil(3%) = 1 warm-up step, then linear decay: lr 0, 1, 2/3, 1/3 (x lr)
    assert [c.lr for c in ckpts] == pytest.approx([0.5e-3, 0.5e-3])
    assert not torch.equal(ckpts[0].exp_avg, ckpts[1].exp_avg)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert ckpts[1].exp_avg.shape == ckpts[1].exp_avg_sq.shape == (n_params,)
    assert not model.training  # features are taken with dropout off, as LESS's get_info
    load_checkpoint(model, ckpts[0])
    proj = Projector(n_params, 256, seed=0)
    a = features(model, samples, proj, ckpts[0], batch=4)
    assert a.shape == (6, 256)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1, rtol=1e-5)
    # the batch only groups the projection's matmul, whose blocking (and so its float32
    # rounding) depends on the batch's shape and the thread count
    np.testing.assert_allclose(a, features(model, samples, proj, ckpts[0], batch=6),
                               rtol=0, atol=1e-6)
    sgd = features(model, samples[:2], proj, None)
    assert not np.allclose(sgd, a[:2])  # the Adam state changes the direction
    self_cos = [float(x @ y) for x, y in itertools.combinations(sgd, 2)]
    assert all(c < 0.9999 for c in self_cos)


# --- the stage -----------------------------------------------------------------------------

def _stage(tmp_path, model: str, query: str = "valid.jsonl"):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT
    from tests.helpers.params import tiny_scorer

    params = (ROOT / "params.yaml").read_text().replace("  method: cdas ", "  method: less ", 1)
    for old, new in (("query: data/prepared/valid.jsonl  # query records (prepared JSONL; ids "
                      "never in the pool)\n    warmup_share: 0.05", f"query: {query}\n    "
                      "warmup_share: 0.5"), ("grad_accum: 32", "grad_accum: 2"),
                     ("epochs: 4 ", "epochs: 2 "), ("proj_dim: 1024", "proj_dim: 64"),
                     ("chunk_size: 256", "chunk_size: 2")):
        assert old in params, old
        params = params.replace(old, new, 1)
    (tmp_path / "params.yaml").write_text(params)
    tiny_scorer(tmp_path / "params.yaml")
    argv = [sys.executable, "-m", "stages.less_grads", "--model", model, "--data", "train.jsonl",
            "--templates", str(ROOT / "templates"), "--out", "less", "--metrics", "m.json",
            "--resume", "resume"]
    return subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"})


def _records(prefix: str, n: int) -> str:
    import json

    return "".join(json.dumps({"id": f"{prefix}{i}", "instruction": f"Write function {i}.",
                               "response": f"def f{i}():\n    return {i}"}) + "\n"
                   for i in range(n))


def test_stage_writes_weighted_features_and_is_byte_stable(tiny_dir, tmp_path):
    (tmp_path / "train.jsonl").write_text(_records("t", 5))
    (tmp_path / "valid.jsonl").write_text(_records("v", 2))
    out = _stage(tmp_path, str(tiny_dir))
    assert out.returncode == 0, out.stderr
    grads, query = np.load(tmp_path / "less/grads.npy"), np.load(tmp_path / "less/query.npy")
    assert grads.shape == (5, 2 * 64) and query.shape == (2, 2 * 64)
    # per checkpoint: unit features x sqrt(weight); the weights sum to 1
    norms = np.linalg.norm(grads.reshape(5, 2, 64), axis=2) ** 2
    np.testing.assert_allclose(norms.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(norms, norms[:1].repeat(5, axis=0), rtol=1e-5)
    assert not (tmp_path / "resume/less").exists()
    first = (tmp_path / "less/grads.npy").read_bytes()
    assert _stage(tmp_path, str(tiny_dir)).returncode == 0
    assert (tmp_path / "less/grads.npy").read_bytes() == first


@pytest.mark.parametrize("query, model, says", [
    ("shared.jsonl", "TINY", "select.less.query: shared.jsonl: 1 of its ids are also in the pool"),
    ("valid.jsonl", "no-model", "no-model: no model there; select.method less needs the scorer"),
])
def test_stage_bad_input_is_one_line(tiny_dir, tmp_path, query, model, says):
    (tmp_path / "train.jsonl").write_text(_records("t", 3))
    (tmp_path / "valid.jsonl").write_text(_records("v", 2))
    (tmp_path / "shared.jsonl").write_text(_records("t", 1))
    out = _stage(tmp_path, str(tiny_dir) if model == "TINY" else model, query=query)
    errors = [x for x in out.stderr.splitlines() if x.startswith("error: ")]
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert len(errors) == 1 and says in errors[0], out.stderr
