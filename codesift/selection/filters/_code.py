"""Python code inside a response, and the names it defines (shared by parses and names)."""

from __future__ import annotations

import ast
import re

FENCE = re.compile(r"```([\w+-]*)[^\n]*\n(.*?)```", re.DOTALL)
PYTHON_TAGS = {"", "python", "py", "python3"}


def code_blocks(response: str) -> list[str]:
    """Fenced Python (or untagged) blocks when the response has fences, else the response
    itself: instruction data mixes bare code and markdown answers."""
    fenced = FENCE.findall(response)
    if not fenced:
        return [response]
    return [code for tag, code in fenced if tag.lower() in PYTHON_TAGS]


def parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):  # ValueError: a null byte in the source
        return False
    return True


DEF = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+(\w+)", re.MULTILINE)
ASSIGN = re.compile(r"^(\w+)\s*(?::[^=]*)?=", re.MULTILINE)


def defined_names(code: str) -> set[str]:
    """Functions, classes and top-level assignments the code defines; read by pattern, so a
    response that does not parse still counts what it visibly defines."""
    return set(DEF.findall(code)) | set(ASSIGN.findall(code))
