"""Raw records from a local file or the hub, each with the place it came from.

Every record is paired with a `where` string (`file:line` or `dataset[row]`) so a
validation error can name the file, line and field at fault.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from codesift import CodesiftError
from codesift.io import iter_jsonl, read_json

Raw = tuple[str, dict]


def read_source(source: str, split: str = "train") -> Iterator[Raw]:
    """A local .jsonl/.json/.parquet file, or a hub dataset id for `datasets.load_dataset`."""
    path = Path(source)
    if path.suffix in (".jsonl", ".json", ".parquet") or path.exists():
        if not path.exists():
            raise CodesiftError(f"{path}: data file not found (data.source)")
        readers = {".jsonl": _jsonl, ".json": _json, ".parquet": _parquet}
        if path.suffix not in readers:
            raise CodesiftError(f"{path}: unsupported file type (use .jsonl, .json or .parquet)")
        yield from readers[path.suffix](path)
    else:
        yield from _hub(source, split)


def _jsonl(path: Path) -> Iterator[Raw]:
    for lineno, obj in iter_jsonl(path):
        yield f"{path}:{lineno}", obj


def _json(path: Path) -> Iterator[Raw]:
    """A JSON array of objects (Alpaca style); errors name the record index."""
    data = read_json(path)
    if not isinstance(data, list):
        raise CodesiftError(f"{path}: expected a JSON array of records")
    for i, obj in enumerate(data):
        yield f"{path}[record {i}]", obj


def _parquet(path: Path) -> Iterator[Raw]:
    import pyarrow.parquet as pq

    for i, obj in enumerate(pq.read_table(path).to_pylist()):
        yield f"{path}[row {i}]", obj


def _hub(name: str, split: str) -> Iterator[Raw]:
    import datasets

    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as e:  # datasets raises many types; all mean "could not get it"
        raise CodesiftError(
            f"could not load dataset '{name}' (split {split}) from the Hugging Face Hub: "
            f"{type(e).__name__}: {str(e)[:200]}. Offline, download it elsewhere and set "
            "data.source to a local .jsonl/.json/.parquet file")
    for i, obj in enumerate(ds):
        yield f"{name}[{split} row {i}]", obj
