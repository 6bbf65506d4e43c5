"""ifd_all: the old name of `ifd` (top IFD with no filter); kept for one release."""

from __future__ import annotations

import logging

import numpy as np

from codesift.selection import Pool, register
from codesift.selection.ifd import top_ifd

log = logging.getLogger(__name__)


@register("ifd_all", needs=("ifd",))
def top_ifd_all(pool: Pool, n: int, cfg) -> np.ndarray:
    log.warning("select.method ifd_all is renamed `ifd` (top IFD, no filter) and will be "
                "removed; the old `ifd` (IFD < ifd_max) is now `ifd_filtered`")
    return top_ifd(pool, n, cfg)
