"""ifd, ifd_all, ppl and random: top-k by a score, or a seeded draw."""

import numpy as np

from tests.selection.helpers import pick, random_pool, three_clusters


def test_ifd_and_ppl_pick_the_highest_scores():
    pool = three_clusters()
    top = pick("ifd", pool, 10)
    valid = np.flatnonzero(np.isfinite(pool.ifd) & (pool.ifd < 1))
    assert set(top) == set(valid[np.argsort(-pool.ifd[valid])[:10]])
    assert set(pick("ppl", pool, 5)) == set(np.argsort(-pool.ppl)[:5])


def test_ifd_all_ignores_ifd_max_but_drops_failures():
    pool = random_pool()
    picked = pick("ifd_all", pool, 10, ifd_max=1.0)
    finite = np.flatnonzero(np.isfinite(pool.ifd))
    assert set(picked) == set(finite[np.argsort(-pool.ifd[finite])[:10]])
    assert pool.ifd[picked].max() >= 1.0


def test_random_differs_by_seed():
    pool = three_clusters()
    assert not np.array_equal(pick("random", pool, 20, seed=0), pick("random", pool, 20, seed=1))
