"""Checks that read models and data, part of `codesift.check`: a bad GGUF, a chat template
the model lacks, a label column the data does not have, found before any stage works.

Each check yields (dotted key, message) like the schema's own `problems`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from codesift import CodesiftError
from codesift.config import Params

PEEK_LINES = 200  # records of a local JSONL source read to find the label column


def problems(p: Params, root: Path) -> Iterator[tuple[str, str]]:
    """Relative paths (a .gguf model, the data source) are from `root`, where stages run."""
    yield from _model_problems(p)
    yield from _label_problems(p, root)


def _model_problems(p: Params) -> Iterator[tuple[str, str]]:
    from codesift.models import has_chat_template, resolve

    scorer = p.model.name if p.ifd.model == "base" else p.ifd.model
    uses = [("model.name", p.model.name, "template.name", p.template.name),
            ("ifd.model", scorer, "ifd.template", p.ifd.template or p.template.name)]
    for key, name, template_key, template in uses:
        try:
            resolve(name)
        except CodesiftError as e:
            yield key, str(e)
            continue
        if template == "chat" and has_chat_template(name) is False:
            yield template_key, (f"chat uses the tokenizer's chat template, and {name} has "
                                 "none; name a template file in templates/ instead")


def _label_problems(p: Params, root: Path) -> Iterator[tuple[str, str]]:
    column, source = p.select.label_column, root / p.data.source
    if not column or p.data.hub or source.suffix != ".jsonl" or not source.is_file():
        return  # other sources are checked by the select stage, on the prepared records
    with source.open(encoding="utf-8", errors="replace") as f:
        for _, line in zip(range(PEEK_LINES), f, strict=False):
            try:
                if column in json.loads(line):
                    return
            except (json.JSONDecodeError, TypeError):
                continue
    yield "select.label_column", (f"{column!r} is not a column of {p.data.source} (first "
                                  f"{PEEK_LINES} records); name one, or '' for none")
