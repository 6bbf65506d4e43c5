"""Shared stage plumbing: --help, params, logging, and user errors as one line.

A stage module is `main(args, params)` plus the path arguments its `cmd` in dvc.yaml gives it
(dvc.yaml is the one place paths are written). Process-wide settings (environment variables,
logging, thread counts) are set here and in stage modules, never in the library.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "warning")


def run(main: Callable, doc: str, paths: dict[str, str],
        add_args: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    """Parse `paths` (flag -> help, all required) and any other args, then params.yaml, run
    `main(args, params)`; a user error (bad params or input, a file that cannot be read or
    written, a broken template) is one line on stderr and exit code 2 (`codesift.cli`)."""
    from codesift.cli import user_errors

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
    with user_errors():
        from codesift.config import load

        main(args, load(args.params))
