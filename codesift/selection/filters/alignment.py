"""alignment: drop a record whose response does not help the scorer predict its instruction
(reverse IFD: ppl(instruction | response) / ppl(instruction) >= select.alignment_max). IFD
alone rewards a response the instruction does not explain, which is also what a wrong answer
looks like; an answer to this question makes the question easy to guess."""

from __future__ import annotations

import numpy as np

from codesift import CodesiftError
from codesift.selection.filters import register


@register("alignment", needs=("align",))
def aligned(records, pool, cfg) -> np.ndarray:
    if pool.align is None:
        raise CodesiftError("select.filters: alignment needs the scorer's alignment scores "
                            "(ifd.alignment: true)")
    return np.isfinite(pool.align) & (pool.align < cfg.alignment_max)
