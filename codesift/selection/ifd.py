"""ifd: the highest IFD, as efficode's data_selection/ifd/ifd_select.py (no IFD < 1 filter).

The script sorts every scored sample by IFD, highest first, and keeps `sample_num`. Ties go to
the lower index (its sort is stable). A sample whose scoring failed has no IFD here and is
left out; the script would have scored it 0 and put it last.
"""

from __future__ import annotations

import numpy as np

from codesift.selection import Pool, register, top_k


@register("ifd", needs=("ifd",))
def top_ifd(pool: Pool, n: int, cfg) -> np.ndarray:
    return top_k(np.flatnonzero(np.isfinite(pool.ifd)), pool.ifd, n)
