"""ifd_filtered: the highest IFD among samples with IFD < select.ifd_max (Cherry LLM's filter:
IFD >= 1 means the instruction does not help to predict the response)."""

from __future__ import annotations

import numpy as np

from codesift.selection import Pool, register, top_k, valid_ifd


@register("ifd_filtered", needs=("ifd",))
def top_ifd_filtered(pool: Pool, n: int, cfg) -> np.ndarray:
    return top_k(np.flatnonzero(valid_ifd(pool, cfg.ifd_max)), pool.ifd, n)
