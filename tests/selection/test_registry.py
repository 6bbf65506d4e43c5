"""Every registered method (read from the registry at import), and the shared plumbing."""

import numpy as np
import pytest

from codesift import CodesiftError
from codesift.selection import REGISTRY, Pool, n_to_select
from tests.helpers.pools import pick, random_pool, three_clusters

METHODS = REGISTRY.names()  # package discovery: every module under codesift/selection


def test_discovery_finds_every_method_module():
    assert set(METHODS) >= {"cdas", "activeft", "ifd", "ifd_filtered", "ifd_diverse", "ppl",
                            "random", "kcenter", "deita", "dq", "superfilter", "rds",
                            "less"}


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
               ppl=np.array([2.0]), deita=np.array([9.0]), reps=np.ones((1, 4)) / 2,
               query_reps=np.ones((2, 4)) / 2, grads=np.ones((1, 4)) / 2,
               query_grads=np.ones((2, 4)) / 2)
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


THROWAWAY = '''
from dataclasses import dataclass
from typing import Annotated

import numpy as np

from codesift.config import NON_NEGATIVE
from codesift.selection import Pool, register


@dataclass
class ThrowawayOptions:
    skip: Annotated[int, NON_NEGATIVE] = 0  # records left out at the end


@register("throwaway", needs=("ifd",), options=ThrowawayOptions)
def throwaway(pool: Pool, n: int, cfg) -> np.ndarray:
    skip = cfg.options("throwaway", ThrowawayOptions).skip
    return np.arange(len(pool) - skip)[-n:]  # the last n records before the skipped ones
'''


def test_a_new_selector_with_options_is_one_file_and_its_params(tmp_path):
    """A selector module with its own option, dropped into a copy of the package, is found,
    its option checked by the check stage and read by the select stage, with no other file
    edited but params.yaml."""
    import json
    import shutil
    import subprocess
    import sys

    from tests.conftest import ROOT
    from tests.helpers.records import pool_files

    repo = tmp_path / "repo"
    for part in ("codesift", "stages", "templates"):
        shutil.copytree(ROOT / part, repo / part, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "codesift/selection/throwaway.py").write_text(THROWAWAY)
    params = (ROOT / "params.yaml").read_text().replace("ratio: 0.4 ", "ratio: 0.5 ", 1)
    (repo / "params.yaml").write_text(params.replace(
        "  method: cdas ", "  throwaway: {skip: -1}\n  method: throwaway ", 1))
    for rel, content in pool_files(n=4).items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(content if isinstance(content, bytes) else content.encode())
    check = [sys.executable, "-m", "codesift.check", "--check"]
    out = subprocess.run(check, cwd=repo, capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip() == "error: params.yaml: select.throwaway.skip: -1 is not in [0, inf)"
    (repo / "params.yaml").write_text(params.replace(
        "  method: cdas ", "  throwaway: {skip: 1}\n  method: throwaway ", 1))
    out = subprocess.run(check, cwd=repo, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([sys.executable, "-m", "stages.select", "--data", "p.jsonl", "--scores",
                          "s.jsonl", "--deita", "d.jsonl", "--embeddings", "emb", "--rds",
                          "rds", "--less", "rds", "--out",
                          "sel.jsonl", "--metrics", "m.json", "--plots", "plots"],
                         cwd=repo, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert [json.loads(x)["id"] for x in (repo / "sel.jsonl").read_text().splitlines()] == \
        ["r1", "r2"]
    assert json.loads((repo / "m.json").read_text())["method"] == "throwaway"
