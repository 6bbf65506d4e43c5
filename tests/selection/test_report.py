import numpy as np
import pytest

from codesift.selection import Pool
from codesift.selection.report import js_divergence, mean_pairwise_cosine, plot_data, report
from tests.helpers.pools import random_pool


def test_report_keys_and_identities():
    pool = random_pool()
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
    pool = random_pool()
    rows = plot_data(pool, np.arange(0, 300, 2), n_clusters=4, n_points=100)
    assert len(rows["cluster_shares"]) == 4 and len(rows["ifd_hist"]) == 30
    assert sum(r["full"] for r in rows["ifd_hist"]) == pytest.approx(1)
    assert len(rows["pca"]) == 100 and {"pc1", "pc2", "selected"} <= set(rows["pca"][0])
    assert rows == plot_data(pool, np.arange(0, 300, 2), n_clusters=4, n_points=100)


def test_plot_data_handles_a_single_point():
    pool = Pool(embeddings=np.ones((1, 4), dtype=np.float32) / 2, ifd=np.array([0.5]),
                ppl=np.array([2.0]))
    rows = plot_data(pool, np.array([0]), n_clusters=4)
    assert rows["pca"] == [{"index": 0, "pc1": 0.0, "pc2": 0.0, "selected": True}]
