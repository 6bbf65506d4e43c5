"""What a selection picked, compared with the full pool."""

from __future__ import annotations

import numpy as np

from codesift.selection import Pool


def _mean(x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else None


def report(pool: Pool, picked: np.ndarray) -> dict:
    return {"mean_ifd_full": _mean(pool.ifd), "mean_ifd_selected": _mean(pool.ifd[picked])}
