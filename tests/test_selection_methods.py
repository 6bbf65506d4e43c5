"""Small, hand-checkable tests of kcenter, deita, dq, activeft, ifd_all and the report."""

import numpy as np
import pytest
import torch

from codesift.selection import REGISTRY, Pool, Request, _load_methods, select
from codesift.selection import activeft as aft
from codesift.selection.deita import diversity_filter
from codesift.selection.dq import _split, dq_bins, dq_sample, graphcut_bin, graphcut_gains
from codesift.selection.kcenter import kcenter_greedy
from codesift.selection.report import js_divergence, mean_pairwise_cosine, plot_data, report

_load_methods()


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _blobs(k=20, n=2000, dim=64, noise=0.8, seed=0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(k, size=n)
    return _unit(rng.standard_normal((k, dim))[labels] + noise * rng.standard_normal((n, dim))), \
        labels


def _pool(n=300, seed=0) -> Pool:
    x, _ = _blobs(k=5, n=n, dim=16, seed=seed)
    rng = np.random.default_rng(seed)
    ifd = rng.uniform(0.3, 1.2, size=n)
    ifd[[3, 7]] = np.nan
    return Pool(embeddings=x, ifd=ifd, ppl=np.exp(rng.normal(size=n)))


# --- kcenter -------------------------------------------------------------------------------

def test_kcenter_on_a_line_takes_extremes_then_midpoints():
    """9 points evenly spaced on an arc: cosine distance is monotone in arc distance."""
    angles = np.linspace(0, np.pi / 2, 9)
    x = _unit(np.stack([np.cos(angles), np.sin(angles)], axis=1))
    order = kcenter_greedy(x, 5, start=4)
    assert order[0] == 4 and set(order[1:3]) == {0, 8} and set(order[3:5]) == {2, 6}


def test_kcenter_matches_the_textbook_loop():
    x, _ = _blobs(n=500, dim=8)
    best, order = np.full(len(x), -np.inf), [11]
    for _ in range(39):
        best = np.maximum(best, x @ x[order[-1]])
        best[order] = np.inf
        order.append(int(np.argmin(best)))
    assert kcenter_greedy(x, 40, start=11, block=16).tolist() == order


# --- deita ---------------------------------------------------------------------------------

def test_deita_never_keeps_two_copies_and_respects_threshold():
    rng = np.random.default_rng(0)
    base = _unit(rng.standard_normal((30, 16)))
    x = np.concatenate([base, base, base])  # each row three times, exactly
    pool = Pool(embeddings=x, ifd=rng.uniform(0.1, 0.9, size=90), ppl=np.zeros(90))
    picked = select("deita", pool, Request(n_select=60, deita_threshold=0.9))
    assert len(picked) <= 30 and len(set(picked % 30)) == len(picked)
    sims = x[picked] @ x[picked].T
    assert sims[~np.eye(len(picked), dtype=bool)].max() <= 0.9


def test_deita_blocks_equal_the_one_at_a_time_walk():
    x, _ = _blobs(k=4, n=400, dim=8, noise=0.5)
    order = np.random.default_rng(1).permutation(len(x))
    kept: list[int] = []
    for i in order:
        if len(kept) < 50 and all(x[i] @ x[j] <= 0.8 for j in kept):
            kept.append(int(i))
    assert diversity_filter(x, order, 50, 0.8, block=7).tolist() == kept


def test_deita_walks_by_ifd_and_drops_invalid():
    pool = _pool()
    picked = select("deita", pool, Request(n_select=20, deita_threshold=1.0))  # no filtering
    assert set(picked) == set(select("ifd", pool, Request(n_select=20)))


# --- dq ------------------------------------------------------------------------------------

def _dense_graphcut_bin(x: np.ndarray, size: int, alpha: float) -> list[int]:
    """DeepCore GraphCut + NaiveGreedy with an explicit kernel, as the published code."""
    kernel = x.astype(np.float64) @ x.T.astype(np.float64)
    col_sum = kernel.sum(axis=0)
    selected = np.zeros(len(x), dtype=bool)
    order = []
    for _ in range(size):
        gain = alpha * col_sum - 2 * kernel[selected].sum(axis=0)
        gain[selected] = -np.inf
        order.append(int(np.argmax(gain)))
        selected[order[-1]] = True
    return order


def test_dq_running_sum_gains_equal_dense_kernel_gains():
    x, _ = _blobs(n=60, dim=8)
    pool, chosen = np.arange(5, 60), np.array([7, 20, 41])
    kernel = x[pool].astype(np.float64) @ x[pool].T.astype(np.float64)
    local = np.searchsorted(pool, chosen)
    dense = 0.7 * kernel.sum(axis=0) - 2 * kernel[local].sum(axis=0)
    np.testing.assert_allclose(graphcut_gains(x, pool, chosen, 0.7), dense, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_dq_bin_equals_dense_greedy(alpha):
    x, _ = _blobs(n=120, dim=8)
    assert graphcut_bin(x, 40, alpha, block=8, grow=4).tolist() == _dense_graphcut_bin(
        x, 40, alpha)


def test_dq_bins_partition_the_data():
    x, _ = _blobs(n=103, dim=8)
    bins = dq_bins(x, 10, 1.0)
    assert [len(b) for b in bins] == _split(103, 10).tolist()
    assert np.array_equal(np.sort(np.concatenate(bins)), np.arange(103))


def test_dq_sampling_is_per_bin_seeded_and_uniform():
    bins = [np.arange(0, 10), np.arange(10, 20), np.arange(20, 30)]
    a = dq_sample(bins, 7, seed=3)
    assert [np.sum((a >= lo) & (a < lo + 10)) for lo in (0, 10, 20)] == [3, 2, 2]
    assert np.array_equal(a, dq_sample(bins, 7, seed=3))
    assert not np.array_equal(a, dq_sample(bins, 7, seed=4))
    counts = np.bincount(np.concatenate([dq_sample(bins, 7, s) for s in range(2000)]),
                         minlength=30)
    np.testing.assert_allclose(counts[:10] / 2000, 0.3, atol=0.05)  # each member equally often
    np.testing.assert_allclose(counts[10:] / 2000, 0.2, atol=0.05)


# --- activeft ------------------------------------------------------------------------------

def test_activeft_fast_gradient_equals_autograd_of_published_loss():
    x, _ = _blobs(n=500, dim=16)
    s = aft.Settings(screen="float32")
    f, param = aft._init(x, 50, 0)
    with torch.no_grad():
        param.mul_(torch.rand(50, 1, generator=torch.Generator().manual_seed(0)) + 0.5)
    aft._published_loss(f, param, s.temperature, s.balance).backward()
    with torch.no_grad():
        norm = param.norm(dim=1, keepdim=True)
        theta = param / norm
        cache = aft._refresh(f, theta, s)
        score, c = aft._assignments(f, theta, cache.cand)
        s_c, mu = aft._diversity(theta, cache, s.temperature)
        grad = aft._gradient(f, theta, norm, score, c, s_c, mu, s)
    torch.testing.assert_close(grad, param.grad, rtol=1e-4, atol=1e-6)


def test_activeft_final_step_equals_published_full_sort():
    x, _ = _blobs(n=3000, dim=32)
    f = torch.from_numpy(x)
    theta = torch.nn.functional.normalize(f[:300] + 0.3 * torch.randn(300, 32), dim=1)
    order = torch.sort(theta @ f.T, dim=1, descending=True).indices.tolist()
    taken: list[int] = []
    for row in order:
        taken.append(next(i for i in row if i not in set(taken)))
    assert aft.assign(f, theta, top=8).tolist() == taken


def test_activeft_takes_one_point_per_well_separated_cluster():
    rng = np.random.default_rng(0)
    centres = np.eye(16)[:5] * 4
    x = _unit(np.concatenate([c + rng.normal(size=(40, 16)) for c in centres]))
    labels = np.repeat(np.arange(5), 40)
    init = torch.randperm(200, generator=torch.Generator().manual_seed(0))[:5].numpy()
    assert len(set(labels[init])) < 5  # it starts with three parameters in one cluster
    picked = select("activeft", Pool(x, np.zeros(200), np.zeros(200)), Request(n_select=5))
    assert sorted(labels[picked]) == [0, 1, 2, 3, 4]


def test_activeft_fast_matches_reference():
    x, _ = _blobs()
    s = aft.Settings(iters=300)
    f, ref_theta = aft.reference_params(x, 200, 0, s)
    _, fast_theta = aft.fast_params(x, 200, 0, s)
    ref, fast = aft.assign(f, ref_theta), aft.assign(f, fast_theta)
    init = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:200].numpy()
    assert np.mean(ref != init) > 0.05  # the optimisation does move picks here
    assert len(np.intersect1d(ref, fast)) / 200 >= 0.98
    assert (ref_theta * fast_theta).sum(dim=1).min() > 0.99


# --- every method ----------------------------------------------------------------------------

@pytest.mark.parametrize("method", sorted(REGISTRY))
def test_every_method_twice_gives_identical_indices(method):
    pool = _pool()
    req = Request(n_select=40, n_clusters=5, n_init=2, seed=3, dq_bins=4, activeft_iters=30)
    a, b = select(method, pool, req), select(method, pool, req)
    assert np.array_equal(a, b) and len(a) > 0 and np.all(np.diff(a) > 0)


def test_ifd_all_ignores_ifd_max_but_drops_failures():
    pool = _pool()
    picked = select("ifd_all", pool, Request(n_select=10, ifd_max=1.0))
    finite = np.flatnonzero(np.isfinite(pool.ifd))
    assert set(picked) == set(finite[np.argsort(-pool.ifd[finite])[:10]])
    assert pool.ifd[picked].max() >= 1.0


# --- report --------------------------------------------------------------------------------

def test_report_keys_and_identities():
    pool = _pool()
    everything = np.arange(len(pool))
    full = report(pool, everything, n_clusters=4)
    assert {"mean_ifd_full", "mean_ifd_selected", "cluster_hist_full", "cluster_hist_selected",
            "cluster_js_divergence", "coverage_mean", "coverage_p5",
            "diversity_mean_cosine"} <= set(full)
    assert full["cluster_js_divergence"] == 0 and full["coverage_p5"] == pytest.approx(1, abs=1e-5)
    some = np.arange(0, len(pool), 3)
    part = report(pool, some, labels=np.arange(len(pool)) % 3)  # precomputed labels
    assert part["cluster_hist_selected"] == [100, 0, 0] and part["cluster_js_divergence"] > 0
    x = pool.embeddings[some].astype(np.float64)
    sims = x @ x.T
    assert part["diversity_mean_cosine"] == pytest.approx(
        (sims.sum() - np.trace(sims)) / (len(x) * (len(x) - 1)), rel=1e-5)
    cov = (pool.embeddings @ pool.embeddings[some].T).max(axis=1)
    assert part["coverage_mean"] == pytest.approx(cov.mean(), rel=1e-5)
    assert js_divergence([1, 0], [0, 1]) == pytest.approx(1)
    assert mean_pairwise_cosine(pool.embeddings[:1]) is None


def test_plot_data_rows():
    pool = _pool()
    rows = plot_data(pool, np.arange(0, 300, 2), n_clusters=4, n_points=100)
    assert len(rows["cluster_shares"]) == 4 and len(rows["ifd_hist"]) == 30
    assert sum(r["full"] for r in rows["ifd_hist"]) == pytest.approx(1)
    assert len(rows["pca"]) == 100 and {"pc1", "pc2", "selected"} <= set(rows["pca"][0])
    assert rows == plot_data(pool, np.arange(0, 300, 2), n_clusters=4, n_points=100)
