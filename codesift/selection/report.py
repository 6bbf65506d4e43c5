"""What a selection picked, compared with the full pool.

`report` gives scalar metrics (metrics/select.json); `plot_data` gives rows for `dvc plots`.
Both are chunked so they run in seconds at 100K x 768 and never build an N x n matrix.
"""

from __future__ import annotations

import numpy as np

from codesift.selection import Pool

FIT_MAX = 20_000  # KMeans is fitted on a seeded subsample of this many points at most
CHUNK = 4096  # rows per block in the coverage products
IFD_BINS = np.linspace(0.0, 1.5, 31)  # fixed histogram bins, 0.05 wide


def _mean(x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else None


def cluster_labels(x: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """KMeans labels for every row, fitted on a seeded subsample so it takes seconds."""
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(seed)
    fit = x if len(x) <= FIT_MAX else x[np.sort(rng.choice(len(x), FIT_MAX, replace=False))]
    km = KMeans(n_clusters=min(n_clusters, len(fit)), random_state=seed, n_init=1).fit(fit)
    return km.predict(x)


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits (0 = same distribution, 1 = disjoint)."""
    p = np.asarray(p, dtype=np.float64) / np.sum(p)
    q = np.asarray(q, dtype=np.float64) / np.sum(q)
    mid = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / mid[nz])))

    return max(0.0, (kl(p) + kl(q)) / 2)


def coverage(x: np.ndarray, picked: np.ndarray, top: int = 8) -> np.ndarray:
    """Each point's highest cosine similarity to a selected point. The N x n products run
    in bf16 (fast on this CPU) only to shortlist each point's `top` best matches, which are
    then rescored in fp32 by a sampled product: exact unless bf16 rounding (~0.004) pushes
    the true best out of the shortlist, and then off by less than that."""
    import warnings

    import torch

    xt, sel = torch.from_numpy(x), torch.from_numpy(x[picked])
    sel_low = sel.to(torch.bfloat16)
    top = min(top, len(picked))
    best = np.empty(len(x), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
        for lo in range(0, len(x), CHUNK):
            rows = xt[lo:lo + CHUNK]
            cols = torch.topk(rows.to(torch.bfloat16) @ sel_low.T, top, dim=1).indices
            pattern = torch.sparse_csr_tensor(
                torch.arange(0, cols.numel() + 1, top), cols.sort(dim=1).values.reshape(-1),
                torch.zeros(cols.numel()), size=(len(rows), len(sel)), check_invariants=False)
            exact = torch.sparse.sampled_addmm(pattern, rows, sel.T, beta=0.0).values()
            best[lo:lo + CHUNK] = exact.view(len(rows), top).max(dim=1).values.numpy()
    return best


def mean_pairwise_cosine(x: np.ndarray) -> float | None:
    """Mean x_i . x_j over i != j, from sum_ij x_i . x_j = ||sum x||^2 (no n x n matrix)."""
    n = len(x)
    if n < 2:
        return None
    total = x.sum(axis=0, dtype=np.float64)
    diag = np.einsum("ij,ij->", x, x, dtype=np.float64)
    return float((total @ total - diag) / (n * (n - 1)))


def report(pool: Pool, picked: np.ndarray, labels: np.ndarray | None = None,
           n_clusters: int = 10, seed: int = 0) -> dict:
    """Scalar metrics. Pass `labels` (e.g. cdas's clusters) to skip the KMeans fit."""
    picked = np.asarray(picked, dtype=np.int64)
    out: dict = {"mean_ifd_full": _mean(pool.ifd), "mean_ifd_selected": _mean(pool.ifd[picked])}
    if pool.embeddings is None or len(picked) == 0:
        return out
    x = np.ascontiguousarray(pool.embeddings, dtype=np.float32)
    labels = cluster_labels(x, n_clusters, seed) if labels is None else np.asarray(labels)
    k = int(labels.max()) + 1
    full, sel = np.bincount(labels, minlength=k), np.bincount(labels[picked], minlength=k)
    cov = coverage(x, picked)
    out.update(cluster_hist_full=full.tolist(), cluster_hist_selected=sel.tolist(),
               cluster_js_divergence=js_divergence(full, sel),
               coverage_mean=float(cov.mean()), coverage_p5=float(np.percentile(cov, 5)),
               diversity_mean_cosine=mean_pairwise_cosine(x[picked]))
    return out


def _ifd_hist(ifd: np.ndarray) -> np.ndarray:
    """Shares per fixed bin; NaN dropped, values outside 0..1.5 counted in the edge bins."""
    ifd = ifd[np.isfinite(ifd)]
    counts = np.histogram(np.clip(ifd, IFD_BINS[0], IFD_BINS[-1]), bins=IFD_BINS)[0]
    return counts / max(1, len(ifd))


def _pca_rows(x: np.ndarray, picked: np.ndarray, n_points: int, seed: int) -> list[dict]:
    """2-D PCA of a seeded subsample, each row flagged selected or not."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(x), min(n_points, len(x)), replace=False))
    xy = np.zeros((len(idx), 2))
    if len(idx) >= 2:  # PCA needs as many points as components; one point sits at the origin
        k = min(2, x.shape[1])
        xy[:, :k] = PCA(n_components=k, random_state=seed).fit_transform(x[idx])
    chosen = np.isin(idx, picked)
    return [{"index": int(i), "pc1": float(a), "pc2": float(b), "selected": bool(s)}
            for i, (a, b), s in zip(idx, xy, chosen, strict=True)]


def plot_data(pool: Pool, picked: np.ndarray, labels: np.ndarray | None = None,
              n_clusters: int = 10, seed: int = 0, n_points: int = 2000,
              ) -> dict[str, list[dict]]:
    """Rows for three `dvc plots` JSON files: cluster shares, IFD histogram, PCA scatter."""
    picked = np.asarray(picked, dtype=np.int64)
    full_h, sel_h = _ifd_hist(pool.ifd), _ifd_hist(pool.ifd[picked])
    out: dict[str, list[dict]] = {
        "ifd_hist": [{"ifd": round(float(lo), 2), "full": float(a), "selected": float(b)}
                     for lo, a, b in zip(IFD_BINS[:-1], full_h, sel_h, strict=True)],
        "cluster_shares": [], "pca": []}
    if pool.embeddings is None:
        return out
    x = np.ascontiguousarray(pool.embeddings, dtype=np.float32)
    labels = cluster_labels(x, n_clusters, seed) if labels is None else np.asarray(labels)
    k = int(labels.max()) + 1
    full = np.bincount(labels, minlength=k) / len(labels)
    sel = np.bincount(labels[picked], minlength=k) / max(1, len(picked))
    out["cluster_shares"] = [{"cluster": c, "full": float(a), "selected": float(b)}
                             for c, (a, b) in enumerate(zip(full, sel, strict=True))]
    out["pca"] = _pca_rows(x, picked, n_points, seed)
    return out
