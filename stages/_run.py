"""Shared stage plumbing: --help, logging, user errors without tracebacks."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "warning")


def run(main: Callable[[argparse.Namespace], None], doc: str,
        add_args: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    """Parse `--params`, run `main`, turn a CodesiftError into one line and exit code 2."""
    from codesift import CodesiftError

    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml",
                        help="params file (default: %(default)s)")
    if add_args:
        add_args(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)  # CPU kernel notice, harmless
    try:
        main(args)
    except CodesiftError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
