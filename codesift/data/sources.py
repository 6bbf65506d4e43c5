"""Raw records from local files (one reader per file type) or the hub.

Every record is paired with a `where` string (`file:line`, `file[record i]` or
`dataset[split row i]`) so a validation error can name the file, line and field at fault.
A record that cannot even be read (bad JSON, bad bytes) comes as a `BadLine`, so
`data.on_invalid: skip` can count it instead of stopping.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from pathlib import Path

from codesift import CodesiftError
from codesift.io import BadLine, bad_utf8, iter_jsonl, read_json

Raw = tuple[str, "dict | BadLine | object"]
Reader = Callable[[Path], Iterator[Raw]]

# File suffix -> reader. A new data file type is one function with @reader(".suffix").
READERS: dict[str, Reader] = {}


def reader(*suffixes: str) -> Callable[[Reader], Reader]:
    def wrap(fn: Reader) -> Reader:
        READERS.update(dict.fromkeys(suffixes, fn))
        return fn
    return wrap


def file_type(path: Path) -> str:
    """The READERS key of a file: its suffix in lower case, with `.gz` the one before too."""
    suffixes = [s.lower() for s in path.suffixes]
    return "".join(suffixes[-2:]) if suffixes[-1:] == [".gz"] else "".join(suffixes[-1:])


def skipped_files(source: str, hub: str = "") -> dict[str, str]:
    """Files in a `source` directory that `read_source` does not read, with why (for the
    report: nothing is dropped unsaid)."""
    path = Path(source)
    if hub or not path.is_dir():
        return {}
    return {str(p): f"unsupported file type {file_type(p) or '(none)'!r} ({_known()})"
            for p in sorted(path.rglob("*")) if p.is_file() and file_type(p) not in READERS}


def read_source(source: str, hub: str = "", split: str = "train", revision: str = "main"
                ) -> Iterator[Raw]:
    """`hub` (a dataset id) if set, else the local file or directory `source` (a directory:
    every file of a known type in it, recursively, in sorted order; `skipped_files` lists
    the others)."""
    if hub:
        yield from _hub(hub, split, revision)
        return
    path = Path(source)
    if not path.exists():
        raise CodesiftError(f"{path}: data file not found (data.source; for a hub dataset "
                            "set data.hub)")
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and file_type(p) in READERS)
    if path.is_dir() and not files:
        raise CodesiftError(f"{path}: no data files in this directory ({_known()})")
    for f in files:
        if file_type(f) not in READERS:
            raise CodesiftError(f"{f}: unsupported file type ({_known()})")
        yield from READERS[file_type(f)](f)


def _known() -> str:
    return "readers: " + ", ".join(sorted(READERS))


@reader(".jsonl", ".jsonl.gz")
def _jsonl(path: Path) -> Iterator[Raw]:
    """JSON Lines, plain or gzipped (as evalplus's datasets and many dumps ship)."""
    for lineno, obj in iter_jsonl(path, keep_bad=True):
        yield f"{path}:{lineno}", obj


@reader(".json")
def _json(path: Path) -> Iterator[Raw]:
    """A JSON array of objects (Alpaca style); errors name the record index."""
    data = read_json(path)
    if not isinstance(data, list):
        raise CodesiftError(f"{path}: expected a JSON array of records")
    for i, obj in enumerate(data):
        yield f"{path}[record {i}]", obj


@reader(".parquet")
def _parquet(path: Path) -> Iterator[Raw]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise CodesiftError(f"{path}: not a readable Parquet file ({str(e)[:200]})")
    for i, obj in enumerate(table.to_pylist()):
        yield f"{path}[row {i}]", obj


@reader(".py")
def _code(path: Path) -> Iterator[Raw]:
    """A source file, whole: one raw-code record {"text"} (data.text_column: text)."""
    data = path.read_bytes()
    try:
        yield str(path), {"text": data.decode("utf-8")}
    except UnicodeDecodeError as e:
        yield str(path), BadLine("bad_utf8", bad_utf8(path, data, e))


@reader(".txt")
def _text(path: Path) -> Iterator[Raw]:
    """Raw code with documents separated by a blank line before an unindented line (as
    data/sample/pretrain.txt): one record {"text"} per document."""
    import re

    line = 1
    for raw in re.split(rb"\n\n(?=\S)", path.read_bytes()):  # split as bytes: a bad byte
        try:                                                   # costs its document only
            doc = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            at = line + raw[:e.start].count(b"\n")
            yield f"{path}:{at}", BadLine("bad_utf8", bad_utf8(path, raw, e, line))
        else:
            if doc.strip():
                yield f"{path}:{line}", {"text": doc.removeprefix("\ufeff")}
        line += raw.count(b"\n") + 2


@reader(".csv")
def _csv(path: Path) -> Iterator[Raw]:
    """A CSV file with a header row; every value is a string."""
    import csv
    import io

    data = path.read_bytes().removeprefix(codecs.BOM_UTF8)  # a BOM is not a column name
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CodesiftError(bad_utf8(path, data, e))
    try:
        for i, row in enumerate(csv.DictReader(io.StringIO(text, newline=""))):
            yield f"{path}:{i + 2}", dict(row)
    except csv.Error as e:
        raise CodesiftError(f"{path}: not valid CSV ({e})")


def _hub(name: str, split: str, revision: str) -> Iterator[Raw]:
    import datasets

    try:
        ds = datasets.load_dataset(name, split=split, revision=revision)
    except Exception as e:  # datasets raises many types; all mean "could not get it"
        raise CodesiftError(
            f"could not load dataset '{name}' (split {split}, revision {revision}) from the "
            f"Hugging Face Hub: {type(e).__name__}: {str(e)[:200]}. Offline, download it "
            "elsewhere and set data.source to a local file and data.hub to ''")
    for i, obj in enumerate(ds):
        yield f"{name}[{split} row {i}]", obj
