"""ppl: the highest conditional perplexity, the answers the base model finds hardest."""

from __future__ import annotations

import numpy as np

from codesift.selection import Pool, register, top_k


@register("ppl", needs=("ppl",))
def top_ppl(pool: Pool, n: int, cfg) -> np.ndarray:
    return top_k(np.flatnonzero(np.isfinite(pool.ppl)), pool.ppl, n)
