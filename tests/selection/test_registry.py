"""Every registered method (read from the registry at import), and the shared plumbing."""

import numpy as np
import pytest

from codesift import CodesiftError
from codesift.selection import REGISTRY, Pool, n_to_select
from tests.selection.helpers import pick, random_pool, three_clusters

METHODS = REGISTRY.names()  # package discovery: every module under codesift/selection


def test_discovery_finds_every_method_module():
    assert set(METHODS) >= {"cdas", "activeft", "ifd", "ifd_filtered", "ifd_diverse", "ppl",
                            "random", "kcenter", "deita", "dq"}


@pytest.mark.parametrize("method", METHODS)
def test_every_method_is_deterministic_and_seeded(method):
    pool = three_clusters()
    a = pick(method, pool, 20, n_clusters=3, seed=1)
    b = pick(method, pool, 20, n_clusters=3, seed=1)
    assert np.array_equal(a, b) and np.all(np.diff(a) > 0)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_twice_gives_identical_indices(method):
    pool = random_pool()
    knobs = dict(n_clusters=5, seed=3, cdas__n_init=2, dq__bins=4, activeft__iters=30)
    a, b = pick(method, pool, 40, **knobs), pick(method, pool, 40, **knobs)
    assert np.array_equal(a, b) and len(a) > 0 and np.all(np.diff(a) > 0)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_handles_a_single_record(method):
    one = Pool(embeddings=np.ones((1, 4), dtype=np.float32) / 2, ifd=np.array([0.5]),
               ppl=np.array([2.0]), deita=np.array([9.0]))
    assert pick(method, one, 1, n_clusters=10).tolist() in ([0], [])


def test_unknown_method_errors():
    with pytest.raises(CodesiftError, match="unknown selection method 'magic'"):
        pick("magic", three_clusters(), 3)


def test_n_to_select():
    assert n_to_select(1000, 0.4, 0) == 400
    assert n_to_select(1000, 0.4, 50) == 50
    with pytest.raises(CodesiftError):
        n_to_select(10, 1.5, 0)
    with pytest.raises(CodesiftError, match="sample_num is 100000, but only 200"):
        n_to_select(200, 0.4, 100000)
