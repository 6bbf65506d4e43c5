"""Pools with known structure, and a one-call `pick` for the selection tests."""

from __future__ import annotations

import numpy as np

from codesift.config import SelectConfig
from codesift.selection import Pool, select


def pick(method: str, pool: Pool, n: int, **knobs) -> np.ndarray:
    """select() with a SelectConfig; `section__key=v` sets a method's own knob."""
    cfg = SelectConfig(method=method)
    for key, value in knobs.items():
        if "__" in key:
            section, name = key.split("__")
            cfg.methods.setdefault(section, {})[name] = value
        else:
            setattr(cfg, key, value)
    return select(pool, n, cfg)


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def blobs(k=20, n=2000, dim=64, noise=0.8, seed=0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(k, size=n)
    return unit(rng.standard_normal((k, dim))[labels] + noise * rng.standard_normal((n, dim))), \
        labels


def random_pool(n=300, seed=0) -> Pool:
    x, _ = blobs(k=5, n=n, dim=16, seed=seed)
    rng = np.random.default_rng(seed)
    ifd = rng.uniform(0.3, 1.2, size=n)
    ifd[[3, 7]] = np.nan
    return Pool(embeddings=x, ifd=ifd, ppl=np.exp(rng.normal(size=n)),
                deita=rng.uniform(1, 36, size=n), reps=x[::-1].copy(), query_reps=x[:4],
                grads=x, query_grads=x[-3:])


def three_clusters(n_per=30, seed=0) -> Pool:
    """Three well-separated blobs on the unit sphere, with known IFD values."""
    rng = np.random.default_rng(seed)
    centers = np.eye(8)[:3] * 10
    x = np.concatenate([c + rng.normal(size=(n_per, 8)) for c in centers]).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ifd = rng.uniform(0.2, 1.3, size=len(x))
    ifd[5] = np.nan  # a scoring failure
    return Pool(embeddings=x, ifd=ifd, ppl=np.exp(rng.normal(size=len(x))),
                deita=rng.uniform(1, 36, size=len(x)), reps=x, query_reps=x[[0, n_per]],
                grads=x, query_grads=x[[1, 2 * n_per]])
