"""less: LESS (Xia et al. 2024), as princeton-nlp/LESS's `data_selection/matching.py` ranks
the pool: each sample's score is the checkpoint-weighted cosine between its Adam-aware LoRA
gradient features and each query example's gradient features, averaged over the query
examples (one target task: matching.py's mean over its validation examples); the top `n`
are kept (ties in pool order).

The features come from the `less_grads` stage (codesift/less.py): each checkpoint's unit
features scaled by the square root of its weight and concatenated, so one product gives the
weighted sum of cosines.
"""

from __future__ import annotations

import numpy as np

from codesift.selection import Pool, register, top_k


@register("less", needs=("grads", "query_grads"))
def less(pool: Pool, n: int, cfg) -> np.ndarray:
    """The samples whose gradients point where the query examples' do."""
    score = (np.asarray(pool.grads, dtype=np.float32) @ np.asarray(
        pool.query_grads, dtype=np.float32).T).mean(axis=1)
    return top_k(np.arange(len(pool)), score, n)
