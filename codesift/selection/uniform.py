"""random: a seeded uniform sample, the baseline every method must beat."""

from __future__ import annotations

import numpy as np

from codesift.selection import Pool, register


@register("random")
def uniform(pool: Pool, n: int, cfg) -> np.ndarray:
    return np.random.default_rng(cfg.seed).choice(len(pool), size=n, replace=False)
