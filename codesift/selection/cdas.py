"""cdas: IFD inside embedding clusters (CodeACT, "Data-efficient LLM fine-tuning for code")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np

from codesift.config import AT_LEAST_1
from codesift.selection import Pool, register, top_k, valid_ifd


def kmeans_labels(x: np.ndarray, n_clusters: int, seed: int, n_init: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=min(n_clusters, len(x)), random_state=seed, n_init=n_init)
    return km.fit_predict(x)


@dataclass
class CdasOptions:
    n_init: Annotated[int, AT_LEAST_1] = 10  # KMeans restarts
    ratio_of: Literal["all", "kept"] = "kept"  # share of each cluster, before or after the filter
    rounding: Literal["round", "floor"] = "round"  # each cluster's count (CodeACT: floor)


@register("cdas", needs=("embeddings", "ifd"), options=CdasOptions)
def cdas(pool: Pool, n: int, cfg) -> np.ndarray:
    """KMeans on embeddings, drop IFD >= ifd_max and failures, keep the top share by IFD
    in each cluster. `ratio_of: kept` takes the share of the kept samples (the published
    code); `all` takes it of the whole cluster."""
    o = cfg.options("cdas", CdasOptions)
    labels = kmeans_labels(pool.embeddings, cfg.n_clusters, cfg.seed, o.n_init)
    valid = valid_ifd(pool, cfg.ifd_max)
    share = n / len(pool)  # select.ratio, up to rounding ratio * N to a count
    out = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        kept = members[valid[members]]
        base = len(kept) if o.ratio_of == "kept" else len(members)
        count = share * base
        out.append(top_k(kept, pool.ifd, int(count) if o.rounding == "floor"
                         else int(round(count))))
    return np.concatenate(out)
