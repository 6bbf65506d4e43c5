"""ifd: the highest IFD (Cherry LLM's instruction-following difficulty) below ifd_max."""

from __future__ import annotations

import numpy as np

from codesift.selection import Pool, register, top_k, valid_ifd


@register("ifd", needs=("ifd",))
def top_ifd(pool: Pool, n: int, cfg) -> np.ndarray:
    """Highest IFD among samples with IFD < ifd_max."""
    return top_k(np.flatnonzero(valid_ifd(pool, cfg.ifd_max)), pool.ifd, n)
