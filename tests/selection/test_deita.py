"""deita as efficode's deita_select.py: rank by DEITA's score, its batched filter, back-fill."""

import numpy as np
import pytest
import torch

from codesift import CodesiftError
from codesift.selection import Pool
from codesift.selection.deita import batch_filter
from tests.helpers.pools import blobs, pick


def efficode_filter(embeddings: list, threshold: float, batch_size: int) -> list[int]:
    """filter_embeddings from efficode's deita_select.py (cosine, one chunk), line for line."""
    filtered_indices = [0]
    existing_emb = embeddings[0].unsqueeze(0)
    for i in range(1, len(embeddings), batch_size):
        cur_emb = torch.stack(embeddings[i:i + batch_size])
        m = existing_emb / existing_emb.norm(dim=1, keepdim=True)
        c = cur_emb / cur_emb.norm(dim=1, keepdim=True)
        distance_existed_bool = torch.any(torch.mm(c, m.t()) > threshold, dim=1)
        distance_cur = torch.mm(c, c.t()).tril(-1)
        distance_cur_bool = torch.any(distance_cur > threshold, dim=1)
        distance_bool = distance_existed_bool | distance_cur_bool
        new_indices = [idx for idx, keep in enumerate(distance_bool) if not keep]
        filtered_indices.extend([i + j for j in new_indices])
        if new_indices:
            existing_emb = torch.cat([existing_emb, cur_emb[new_indices]], dim=0)
    return filtered_indices


def _scored_pool(n=400, seed=0):
    x, _ = blobs(k=6, n=n, dim=8, noise=0.3, seed=seed)
    score = np.round(np.random.default_rng(seed).uniform(1, 36, size=n), 1)  # ties happen
    return Pool(embeddings=x, ifd=np.zeros(n), ppl=np.zeros(n), deita=score)


@pytest.mark.parametrize("batch", [7, 64, 10000])
def test_batch_filter_equals_efficodes_filter(batch):
    pool = _scored_pool()
    order = np.argsort(-pool.deita, kind="stable")
    keep = batch_filter(pool.embeddings, order, 0.9, batch)
    emb = [torch.from_numpy(v) for v in pool.embeddings[order]]
    assert np.flatnonzero(keep).tolist() == efficode_filter(emb, 0.9, batch)


def test_deita_returns_exactly_n_kept_first_then_back_filled_in_rank_order():
    pool = _scored_pool()
    order = np.argsort(-pool.deita, kind="stable")  # the script's stable sort, descending
    keep = batch_filter(pool.embeddings, order, 0.9, 64)
    n = int(keep.sum()) + 25  # more than survive the filter
    picked = pick("deita", pool, n, deita__batch=64)
    want = list(order[keep]) + list(order[~keep][:25])
    assert len(picked) == n and sorted(picked) == sorted(want)
    few = pick("deita", pool, 10, deita__batch=64)
    assert sorted(few) == sorted(order[keep][:10])


def test_deita_needs_its_scores():
    pool = _scored_pool()
    pool.deita = None
    with pytest.raises(CodesiftError, match="select.deita.scorer_complexity"):
        pick("deita", pool, 10)
