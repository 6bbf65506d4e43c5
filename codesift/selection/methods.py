"""Selectors: cdas (clustered IFD), ifd, ppl and random."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

from codesift.selection import Pool, Request, register


def _valid_ifd(pool: Pool, ifd_max: float) -> np.ndarray:
    return np.isfinite(pool.ifd) & (pool.ifd < ifd_max)


def _top(indices: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """The k indices with the highest score; ties broken by index, so it is deterministic."""
    order = np.lexsort((indices, -score[indices]))
    return indices[order[:k]]


def kmeans_labels(x: np.ndarray, n_clusters: int, seed: int, n_init: int) -> np.ndarray:
    km = KMeans(n_clusters=min(n_clusters, len(x)), random_state=seed, n_init=n_init)
    return km.fit_predict(x)


@register("cdas")
def cdas(pool: Pool, req: Request) -> np.ndarray:
    """KMeans on embeddings, drop IFD >= ifd_max and failures, keep the top share by IFD
    in each cluster. `ratio_of: kept` takes the share of the kept samples (the published
    code); `all` takes it of the whole cluster."""
    labels = kmeans_labels(pool.embeddings, req.n_clusters, req.seed, req.n_init)
    valid = _valid_ifd(pool, req.ifd_max)
    share = req.n_select / len(pool)
    out = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        kept = members[valid[members]]
        base = len(kept) if req.ratio_of == "kept" else len(members)
        out.append(_top(kept, pool.ifd, int(round(share * base))))
    return np.concatenate(out)


@register("ifd")
def top_ifd(pool: Pool, req: Request) -> np.ndarray:
    """Highest IFD among samples with IFD < ifd_max (set ifd_max: .inf to keep all)."""
    return _top(np.flatnonzero(_valid_ifd(pool, req.ifd_max)), pool.ifd, req.n_select)


@register("ppl")
def top_ppl(pool: Pool, req: Request) -> np.ndarray:
    """Highest conditional perplexity: the answers the base model finds hardest."""
    return _top(np.flatnonzero(np.isfinite(pool.ppl)), pool.ppl, req.n_select)


@register("random")
def random(pool: Pool, req: Request) -> np.ndarray:
    return np.random.default_rng(req.seed).choice(len(pool), size=req.n_select, replace=False)
