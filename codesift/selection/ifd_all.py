"""ifd_all: the highest IFD with no `ifd_max` cut, beside `ifd` (which drops IFD >= ifd_max)."""

from __future__ import annotations

import numpy as np

from codesift.selection import Pool, register, top_k


@register("ifd_all", needs=("ifd",))
def top_ifd_all(pool: Pool, n: int, cfg) -> np.ndarray:
    """Highest IFD among every scored sample; only scoring failures (NaN) are dropped."""
    return top_k(np.flatnonzero(np.isfinite(pool.ifd)), pool.ifd, n)
