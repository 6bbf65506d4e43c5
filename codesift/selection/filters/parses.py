"""parses: drop a record whose response holds Python that does not parse (a truncated or
garbled answer). Responses in other languages (fenced with another tag) are not judged."""

from __future__ import annotations

import numpy as np

from codesift.data.record import scorable, turns
from codesift.selection.filters import register
from codesift.selection.filters._code import code_blocks, parses


def _ok(record: dict) -> bool:
    if not scorable(record):
        return True  # raw code (FIM): not an answer to judge
    answers = [c for role, c in turns(record) if role == "assistant"]
    return all(parses(code) for a in answers for code in code_blocks(a))


@register("parses")
def code_parses(records, pool, cfg) -> np.ndarray:
    return np.array([_ok(r) for r in records], dtype=bool)
