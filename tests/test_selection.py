import numpy as np
import pytest

from codesift import CodesiftError
from codesift.selection import REGISTRY, Pool, Request, methods, n_to_select, select

assert methods  # importing it fills REGISTRY


def _clusters(n_per=30, seed=0):
    """Three well-separated blobs on the unit sphere, with known IFD values."""
    rng = np.random.default_rng(seed)
    centers = np.eye(8)[:3] * 10
    x = np.concatenate([c + rng.normal(size=(n_per, 8)) for c in centers]).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ifd = rng.uniform(0.2, 1.3, size=len(x))
    ifd[5] = np.nan  # a scoring failure
    return Pool(embeddings=x, ifd=ifd, ppl=np.exp(rng.normal(size=len(x))))


def test_cdas_takes_top_ifd_share_inside_each_cluster():
    pool = _clusters()
    picked = select("cdas", pool, Request(n_select=27, n_clusters=3, n_init=3))
    assert 5 not in picked and np.all(pool.ifd[picked] < 1.0)
    for c in range(3):
        members = np.arange(30 * c, 30 * (c + 1))
        kept = members[np.isfinite(pool.ifd[members]) & (pool.ifd[members] < 1)]
        chosen = np.intersect1d(picked, members)
        assert len(chosen) == round(27 / 90 * len(kept))
        rest = np.setdiff1d(kept, chosen)
        assert pool.ifd[chosen].min() >= pool.ifd[rest].max()


def test_cdas_ratio_of_all_takes_share_of_whole_cluster():
    pool = _clusters()
    kept = select("cdas", pool, Request(n_select=27, n_clusters=3, ratio_of="kept"))
    every = select("cdas", pool, Request(n_select=27, n_clusters=3, ratio_of="all"))
    assert len(every) == 27 and len(kept) < 27


@pytest.mark.parametrize("method", sorted(REGISTRY))
def test_every_method_is_deterministic_and_seeded(method):
    pool = _clusters()
    a = select(method, pool, Request(n_select=20, n_clusters=3, seed=1))
    b = select(method, pool, Request(n_select=20, n_clusters=3, seed=1))
    assert np.array_equal(a, b) and np.all(np.diff(a) > 0)


def test_ifd_and_ppl_pick_the_highest_scores():
    pool = _clusters()
    top = select("ifd", pool, Request(n_select=10))
    valid = np.flatnonzero(np.isfinite(pool.ifd) & (pool.ifd < 1))
    assert set(top) == set(valid[np.argsort(-pool.ifd[valid])[:10]])
    assert set(select("ppl", pool, Request(n_select=5))) == set(np.argsort(-pool.ppl)[:5])


def test_random_differs_by_seed_and_unknown_method_errors():
    pool = _clusters()
    assert not np.array_equal(select("random", pool, Request(n_select=20, seed=0)),
                              select("random", pool, Request(n_select=20, seed=1)))
    with pytest.raises(CodesiftError, match="unknown method"):
        select("magic", pool, Request(n_select=3))


def test_n_to_select():
    assert n_to_select(1000, 0.4, 0) == 400
    assert n_to_select(1000, 0.4, 50) == 50
    with pytest.raises(CodesiftError):
        n_to_select(10, 1.5, 0)
