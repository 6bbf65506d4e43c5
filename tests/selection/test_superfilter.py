import itertools
import math

import numpy as np

from codesift.selection import Pool
from codesift.selection.superfilter import FacilityLocation, greedy
from tests.helpers.pools import blobs, pick


def _kernel(x: np.ndarray) -> np.ndarray:
    """submodlib's create_square_kernel_dense(metric="euclidean"), written out pair by pair."""
    n, d = x.shape
    k = np.ones((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                k[i, j] = math.exp(-math.sqrt(((x[i] - x[j]) ** 2).sum()) / d)
    return k


def _f(k: np.ndarray, chosen) -> float:
    return float(k[:, list(chosen)].max(axis=1).sum())


def test_greedy_matches_submodlib_on_a_hand_case():
    """1-D points 0, 1, 2 and 10 (d = 1, so K = exp(-|a - b|)). Empty set: the gain is the
    column sum; the middle point 1 wins (1 + 2/e = 1.736). Then 10 gains 1 - e^-9 = 0.9999,
    more than 0 or 2 (1 - 1/e = 0.632 each). 0 and 2 then tie exactly; submodlib's max-heap
    of (gain, index) pairs takes the higher index first: 2, then 0. (numpy's argmax would
    take 0 first.)"""
    x = np.array([[0.0], [1.0], [2.0], [10.0]])
    assert greedy(x, 4).tolist() == [1, 3, 2, 0]
    assert greedy(x, 2).tolist() == [1, 3]
    assert greedy(x, 4, cache_floats=0).tolist() == [1, 3, 2, 0]


def test_kernel_columns_are_submodlibs_euclidean_kernel():
    x = np.random.default_rng(0).standard_normal((9, 5))
    on_demand = FacilityLocation(x, cache_floats=0)
    np.testing.assert_allclose(on_demand.columns(np.arange(9)), _kernel(x), rtol=1e-12,
                               atol=1e-12)
    cached = FacilityLocation(x)
    assert cached.kernel is not None and on_demand.kernel is None
    np.testing.assert_allclose(cached.columns(np.arange(9)), _kernel(x), rtol=1e-6)


def test_greedy_equals_the_textbook_loop_and_beats_the_bound_on_12_points():
    """Greedy on a monotone submodular function reaches at least (1 - 1/e) of the optimum
    (Nemhauser et al. 1978): checked against brute force over every subset."""
    x, _ = blobs(k=3, n=12, dim=4, noise=0.6, seed=2)
    k = _kernel(x.astype(np.float64))
    for budget in (1, 2, 3, 4, 5):
        plain, best = [], np.zeros(12)
        for _ in range(budget):  # the textbook greedy: recompute every gain each step
            gains = np.maximum(k - best[:, None], 0).sum(axis=0)
            gains[plain] = -np.inf
            plain.append(int(np.argmax(gains)))
            best = np.maximum(best, k[:, plain[-1]])
        lazy = greedy(x, budget).tolist()
        assert lazy == plain  # no exact ties in random data: both take the same points
        assert greedy(x, budget, cache_floats=0).tolist() == lazy
        opt = max(_f(k, s) for s in itertools.combinations(range(12), budget))
        assert _f(k, lazy) >= (1 - 1 / math.e) * opt - 1e-9
        assert np.isclose(FacilityLocation(x).value(np.array(lazy)), _f(k, lazy))


def test_superfilter_filters_by_ifd_then_spreads_over_the_candidates():
    """Two tight groups among the candidates: facility location takes one of each before a
    second of either; samples with IFD >= 1 or outside the top share are never picked."""
    rng = np.random.default_rng(0)
    a = np.array([1.0, 0, 0, 0]) + 0.01 * rng.standard_normal((10, 4))
    b = np.array([0, 1.0, 0, 0]) + 0.01 * rng.standard_normal((10, 4))
    c = np.array([0, 0, 1.0, 0]) + 0.01 * rng.standard_normal((20, 4))
    x = np.concatenate([a, b, c]).astype(np.float32)
    ifd = np.concatenate([rng.uniform(0.8, 0.9, 10), rng.uniform(0.6, 0.7, 10),
                          rng.uniform(0.1, 0.5, 20)])
    ifd[[0, 1]] = [1.5, np.nan]  # not candidates: IFD >= 1, a scoring failure
    pool = Pool(embeddings=x, ifd=ifd, ppl=np.ones(40))
    picked = pick("superfilter", pool, 2, superfilter__ifd_share=0.5,  # 20 candidates: a, b
                  ifd_max=1.0)
    assert len(picked) == 2 and (picked < 10).sum() == 1 and (picked >= 10).sum() == 1
    assert not set(picked) & {0, 1}
    many = pick("superfilter", pool, 30, superfilter__ifd_share=0.1,  # n > the share: n kept
                ifd_max=1.0)
    assert len(many) == 30 and not set(many) & {0, 1}
    assert set(pick("superfilter", pool, 8, superfilter__ifd_share=0.2, ifd_max=1.0)) == \
        set(range(2, 10))
