import numpy as np

from tests.helpers.pools import pick, three_clusters


def test_cdas_takes_top_ifd_share_inside_each_cluster():
    pool = three_clusters()
    picked = pick("cdas", pool, 27, n_clusters=3, cdas__n_init=3, ifd_max=1.0)
    assert 5 not in picked and np.all(pool.ifd[picked] < 1.0)
    for c in range(3):
        members = np.arange(30 * c, 30 * (c + 1))
        kept = members[np.isfinite(pool.ifd[members]) & (pool.ifd[members] < 1)]
        chosen = np.intersect1d(picked, members)
        assert len(chosen) == round(27 / 90 * len(kept))
        rest = np.setdiff1d(kept, chosen)
        assert pool.ifd[chosen].min() >= pool.ifd[rest].max()


def test_cdas_ratio_of_all_takes_share_of_whole_cluster():
    pool = three_clusters()
    kept = pick("cdas", pool, 27, n_clusters=3, cdas__ratio_of="kept")
    every = pick("cdas", pool, 27, n_clusters=3, cdas__ratio_of="all")
    assert len(every) == 27 and len(kept) < 27
