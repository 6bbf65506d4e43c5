"""ifd_all: the highest IFD with no `ifd_max` cut, beside `ifd` (which drops IFD >= ifd_max)."""

from __future__ import annotations

import numpy as np

from codesift.selection import Pool, Request, register
from codesift.selection.methods import _top


@register("ifd_all")
def top_ifd_all(pool: Pool, req: Request) -> np.ndarray:
    """Highest IFD among every scored sample; only scoring failures (NaN) are dropped."""
    return _top(np.flatnonzero(np.isfinite(pool.ifd)), pool.ifd, req.n_select)
