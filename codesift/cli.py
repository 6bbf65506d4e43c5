"""One way every entry point reports a user's mistake: `error: <one line>` on stderr, exit 2.

Stages, `codesift.config`, `codesift.grid`, `codesift.compare`, `codesift.evaluation` and the
benches run their work inside `user_errors()`. What it turns into one line is what a user can
cause and fix: the project's `CodesiftError`, an OSError about a file (missing, unwritable), a
file that is not UTF-8, a Jinja template that does not parse or render, YAML that does not
parse. Anything else is a bug in codesift and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import NoReturn

from codesift import CodesiftError

EXIT_USER_ERROR = 2

# bitsandbytes warns at import (PEFT imports it), on every CPU with AVX512-BF16, that its
# optional `kernels` package (a hub download) is missing, then falls back to its own kernel:
# nothing a user can act on offline, and a stray line before a one-line error. Every CLI and
# stage runs inside user_errors(), so this is the one place that quiets it.
QUIET_LOGGERS = ("bitsandbytes",)


def fail(message: str) -> NoReturn:
    """Print `error: message` (a check's problems follow, one per line) and exit 2."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def describe(exc: BaseException) -> str | None:
    """The one-line message of a user error, or None for a bug (which keeps its traceback)."""
    if isinstance(exc, CodesiftError):
        return str(exc)
    if isinstance(exc, OSError):
        if exc.filename is None:  # not about a file the user named: a real failure
            return None
        return f"{exc.filename}: {exc.strerror or exc}"
    if isinstance(exc, UnicodeDecodeError):  # readers name the file where they can
        return f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8"
    return _library_error(exc)


def _library_error(exc: BaseException) -> str | None:
    """Template (Jinja) and YAML errors, without importing either library just to check."""
    jinja2 = sys.modules.get("jinja2")
    if jinja2 is not None and isinstance(exc, jinja2.TemplateError):
        where = getattr(exc, "filename", None) or getattr(exc, "name", None) or "template"
        line = getattr(exc, "lineno", None)
        return f"{where}{f':{line}' if line else ''}: template error: {exc.message or exc}"
    yaml = sys.modules.get("yaml")
    if yaml is not None and isinstance(exc, yaml.YAMLError):
        return f"not valid YAML: {' '.join(str(exc).split())}"
    return None


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Run the block; a user error ends the process with one line and exit code 2."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    except Exception as e:
        message = describe(e)
        if message is None:
            raise
        fail(message)
