import numpy as np

from codesift.selection import Pool
from codesift.selection.ifd_diverse import diversity_filter
from tests.helpers.pools import blobs, pick, random_pool, unit


def test_ifd_diverse_never_keeps_two_copies_and_respects_threshold():
    rng = np.random.default_rng(0)
    base = unit(rng.standard_normal((30, 16)))
    x = np.concatenate([base, base, base])  # each row three times, exactly
    pool = Pool(embeddings=x, ifd=rng.uniform(0.1, 0.9, size=90), ppl=np.zeros(90))
    picked = pick("ifd_diverse", pool, 60, ifd_diverse__threshold=0.9)
    assert len(picked) <= 30 and len(set(picked % 30)) == len(picked)
    sims = x[picked] @ x[picked].T
    assert sims[~np.eye(len(picked), dtype=bool)].max() <= 0.9


def test_ifd_diverse_blocks_equal_the_one_at_a_time_walk():
    x, _ = blobs(k=4, n=400, dim=8, noise=0.5)
    order = np.random.default_rng(1).permutation(len(x))
    kept: list[int] = []
    for i in order:
        if len(kept) < 50 and all(x[i] @ x[j] <= 0.8 for j in kept):
            kept.append(int(i))
    assert diversity_filter(x, order, 50, 0.8, block=7).tolist() == kept


def test_ifd_diverse_walks_by_ifd_and_drops_invalid():
    pool = random_pool()
    picked = pick("ifd_diverse", pool, 20, ifd_diverse__threshold=1.0)  # no filtering
    assert set(picked) == set(pick("ifd_filtered", pool, 20))
