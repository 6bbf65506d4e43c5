"""ifd_max: Cherry LLM's filter, IFD >= select.ifd_max (default 1: the instruction does not
help to predict the response at all). A record whose IFD could not be computed is dropped."""

from __future__ import annotations

import numpy as np

from codesift.selection import valid_ifd
from codesift.selection.filters import register


@register("ifd_max", needs=("ifd",))
def ifd_below_max(records, pool, cfg) -> np.ndarray:
    return valid_ifd(pool, cfg.ifd_max)
