"""ifd, ifd_filtered, ppl and random: top-k by a score, or a seeded draw."""

import numpy as np

from tests.helpers.pools import pick, random_pool, three_clusters


def test_ifd_filtered_and_ppl_pick_the_highest_scores():
    pool = three_clusters()
    top = pick("ifd_filtered", pool, 10, ifd_max=1.0)
    valid = np.flatnonzero(np.isfinite(pool.ifd) & (pool.ifd < 1))
    assert set(top) == set(valid[np.argsort(-pool.ifd[valid])[:10]])
    assert set(pick("ppl", pool, 5)) == set(np.argsort(-pool.ppl)[:5])


def test_ifd_is_efficodes_top_ifd_with_no_filter():
    """efficode's ifd_select.py: sorted(..., key=ifd, reverse=True)[:sample_num]."""
    pool = random_pool()
    scored = [(i, float(v)) for i, v in enumerate(pool.ifd) if np.isfinite(v)]
    want = [i for i, _ in sorted(scored, key=lambda x: x[1], reverse=True)[:10]]
    picked = pick("ifd", pool, 10, ifd_max=1.0)
    assert sorted(picked) == sorted(want) and pool.ifd[picked].max() >= 1.0


def test_ifd_all_is_the_old_name_of_ifd(caplog):
    pool = random_pool()
    assert np.array_equal(pick("ifd_all", pool, 10), pick("ifd", pool, 10))
    assert "renamed `ifd`" in caplog.text


def test_random_differs_by_seed():
    pool = three_clusters()
    assert not np.array_equal(pick("random", pool, 20, seed=0), pick("random", pool, 20, seed=1))
