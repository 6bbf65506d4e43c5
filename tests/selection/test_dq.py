import numpy as np
import pytest

from codesift.selection.dq import _split, dq_bins, dq_sample, graphcut_bin, graphcut_gains
from tests.helpers.pools import blobs


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
    x, _ = blobs(n=60, dim=8)
    pool, chosen = np.arange(5, 60), np.array([7, 20, 41])
    kernel = x[pool].astype(np.float64) @ x[pool].T.astype(np.float64)
    local = np.searchsorted(pool, chosen)
    dense = 0.7 * kernel.sum(axis=0) - 2 * kernel[local].sum(axis=0)
    np.testing.assert_allclose(graphcut_gains(x, pool, chosen, 0.7), dense, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_dq_bin_equals_dense_greedy(alpha):
    x, _ = blobs(n=120, dim=8)
    assert graphcut_bin(x, 40, alpha, block=8, grow=4).tolist() == _dense_graphcut_bin(
        x, 40, alpha)


def test_dq_bins_partition_the_data():
    x, _ = blobs(n=103, dim=8)
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
