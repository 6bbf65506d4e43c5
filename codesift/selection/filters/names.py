"""names: drop a record whose instruction asks for a named function or class (`name(...)` in
backticks) that its response does not define: the answer belongs to another question. An
instruction that names nothing, or an answer with no Python in it, is not judged."""

from __future__ import annotations

import re

import numpy as np

from codesift.data.record import scorable, turns
from codesift.selection.filters import register
from codesift.selection.filters._code import DEF, code_blocks, defined_names

ASKED = re.compile(r"`(?:[\w.]+\.)?(\w+)\s*\(")  # `name(` or `obj.name(` inside backticks
BARE = re.compile(r"`(\w+)`(?!\s+class\b)")  # a lone `name` (not "the `X` class" it lives in)


def asked_names(instruction: str) -> set[str]:
    """Signatures in backticks and stubs to complete (`def name(` in the instruction's code);
    a lone backticked name only when neither is given."""
    return set(ASKED.findall(instruction)) | set(DEF.findall(instruction)) \
        or set(BARE.findall(instruction))


def _ok(record: dict) -> bool:
    if not scorable(record):
        return True  # raw code (FIM)
    said = turns(record)
    for (role, ask), (_, answer) in zip(said, said[1:], strict=False):
        if role != "user":
            continue
        asked, blocks = asked_names(ask), code_blocks(answer)
        defined = set().union(*(defined_names(c) for c in blocks))
        if asked and blocks and not asked & defined:
            return False
    return True


@register("names")
def defines_asked_names(records, pool, cfg) -> np.ndarray:
    return np.array([_ok(r) for r in records], dtype=bool)
