"""cdas: IFD inside embedding clusters (CodeACT, "Data-efficient LLM fine-tuning for code")."""

from __future__ import annotations

import numpy as np

from codesift.selection import Pool, register, top_k, valid_ifd


def kmeans_labels(x: np.ndarray, n_clusters: int, seed: int, n_init: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=min(n_clusters, len(x)), random_state=seed, n_init=n_init)
    return km.fit_predict(x)


@register("cdas", needs=("embeddings", "ifd"))
def cdas(pool: Pool, n: int, cfg) -> np.ndarray:
    """KMeans on embeddings, drop IFD >= ifd_max and failures, keep the top share by IFD
    in each cluster. `ratio_of: kept` takes the share of the kept samples (the published
    code); `all` takes it of the whole cluster."""
    labels = kmeans_labels(pool.embeddings, cfg.n_clusters, cfg.seed, cfg.cdas.n_init)
    valid = valid_ifd(pool, cfg.ifd_max)
    share = n / len(pool)
    out = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        kept = members[valid[members]]
        base = len(kept) if cfg.cdas.ratio_of == "kept" else len(members)
        out.append(top_k(kept, pool.ifd, int(round(share * base))))
    return np.concatenate(out)
