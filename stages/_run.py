"""Shared stage plumbing: --help, params, logging, and user errors as one line.

A stage module is `main(args, params)` plus the path arguments its `cmd` in dvc.yaml gives it
(dvc.yaml is the one place paths are written). Process-wide settings (environment variables,
logging, thread counts) are set here and in stage modules, never in the library.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "warning")


def run(main: Callable, doc: str, paths: dict[str, str],
        add_args: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    """Parse `paths` (flag -> help, all required) and any other args, then params.yaml, run
    `main(args, params)`; a user error (bad params or input, a file that cannot be read or
    written) is one line on stderr and exit code 2."""
    from codesift import CodesiftError

    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml",
                        help="params file (default: %(default)s)")
    for flag, help_ in paths.items():
        parser.add_argument(flag, required=True, help=help_)
    if add_args:
        add_args(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)  # CPU kernel notice, harmless
    try:
        from codesift.config import load

        main(args, load(args.params))
    except CodesiftError as e:
        _fail(str(e))
    except OSError as e:
        if e.filename is None:  # not about a file the user named: a real failure, keep its trace
            raise
        _fail(f"{e.filename}: {e.strerror}")


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)
