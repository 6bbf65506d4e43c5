"""deita: DEITA (Liu et al. 2024) as efficode's data_selection/deita/deita_select.py runs it.

Samples are ranked by DEITA's score, complexity x quality, each the expectation of a scorer
LM's 1-6 rating (codesift/deita_scores.py; cached by the `deita_score` stage). Walking that
ranking in batches of `select.deita.batch` (10,000 in the script), a sample is rejected if
its cosine similarity to an already kept sample, or to any earlier sample of its own batch
(kept or not: the script's `tril(-1)` over the whole batch), is above
`select.deita.threshold`. The first `n` kept come back, back-filled from the rejected ones in
rank order, so exactly `n` are returned. Ties in the score keep input order (a stable sort).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np

from codesift import CodesiftError
from codesift.config import AT_LEAST_1, Range
from codesift.selection import Pool, register

CHUNK = 8192  # kept samples compared at once: 10,000 x 8,192 floats (330 MB)


def batch_filter(x: np.ndarray, order: np.ndarray, threshold: float, batch: int) -> np.ndarray:
    """Which of `order` survive efficode's `filter_embeddings` (boolean, in walk order)."""
    import torch

    emb = torch.from_numpy(np.ascontiguousarray(x[order], dtype=np.float32))
    keep = np.zeros(len(order), dtype=bool)
    if len(order) == 0:
        return keep
    keep[0] = True  # the script starts from the first sample
    kept = emb[:1]
    for lo in range(1, len(order), batch):
        cur = emb[lo:lo + batch]
        near_kept = torch.zeros(len(cur), dtype=torch.bool)
        for k in range(0, len(kept), CHUNK):  # batch x CHUNK at a time, not batch x kept
            near_kept |= (cur @ kept[k:k + CHUNK].T > threshold).any(dim=1)
        near_earlier = ((cur @ cur.T).tril(-1) > threshold).any(dim=1)
        ok = ~(near_kept | near_earlier)
        keep[lo:lo + len(cur)] = ok.numpy()
        kept = torch.cat([kept, cur[ok]])
    return keep


@dataclass
class DeitaOptions:
    """DEITA as published: scorer LMs' complexity x quality, then efficode's batch filter."""

    scorer_complexity: str = ""  # hub id or local dir (hkust-nlp/deita-complexity-scorer)
    scorer_quality: str = ""  # hub id or local dir (hkust-nlp/deita-quality-scorer)
    scorer_max_len: Annotated[int, Range(16)] = 2048  # scorer prompt tokens (the tail is kept)
    scorer_batch_tokens: Annotated[int, AT_LEAST_1] = 8192  # rows x widest row per forward
    threshold: Annotated[float, Range(-1, 1)] = 0.9  # max cosine similarity to a kept sample
    batch: Annotated[int, AT_LEAST_1] = 10000  # the filter's batch (efficode: 10,000)


@register("deita", needs=("embeddings", "deita"), options=DeitaOptions)
def deita(pool: Pool, n: int, cfg) -> np.ndarray:
    if pool.deita is None or not np.isfinite(pool.deita).all():
        raise CodesiftError("select.method deita needs DEITA scores: set "
                            "select.deita.scorer_complexity and select.deita.scorer_quality "
                            "(hub ids or local dirs) so the deita_score stage computes them")
    idx = np.arange(len(pool))
    order = idx[np.lexsort((idx, -pool.deita))]  # score descending, ties by index
    o = cfg.options("deita", DeitaOptions)
    keep = batch_filter(pool.embeddings, order, o.threshold, o.batch)
    return np.concatenate([order[keep], order[~keep]])[:n]
