"""Atomic writes and JSONL reading with file:line errors.

Every stage output goes through `atomic_path`, so a killed stage never leaves a
half-written file that DVC would hash and trust.
"""

from __future__ import annotations

import codecs
import contextlib
import glob
import gzip
import hashlib
import json
import logging
import os
import shutil
import tempfile
import typing
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from codesift import CodesiftError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def atomic_path(path: str | Path, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temp path beside `path`; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path)
    if is_dir:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        if is_dir and path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()


def _remove_stale(path: Path) -> None:
    """Temp siblings a killed writer of `path` left behind (`.<name>.XXXXXXXX`): an output has
    one writer at a time, so any such leftover is garbage."""
    for old in path.parent.glob(f".{glob.escape(path.name)}.*"):
        if len(old.name) == len(path.name) + 10:  # mkstemp/mkdtemp add 8 random characters
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)


def check_writable(path: str | Path) -> None:
    """Raise the OSError writing `path` would meet (its folder made, a temp file tried), so a
    command fails before its work, not after it; an existing folder there is an error too."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(21, "is a folder, not a file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    os.unlink(name)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> int:
    """Write one JSON object per line; returns the number of rows."""
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


@dataclass(frozen=True)
class BadLine:
    """A line that could not be read, for callers that skip instead of stopping."""

    reason: str  # bad_json | bad_utf8
    message: str  # names the file and line


def iter_jsonl(path: str | Path, keep_bad: bool = False) -> Iterator[tuple[int, Any]]:
    """(line number, value) per non-blank line; bad JSON or UTF-8 names the file and line,
    as an error or, with `keep_bad`, as a `BadLine` value."""
    for lineno, line in _lines(path):
        if isinstance(line, BadLine):
            bad = line
        elif not line.strip():
            continue
        else:
            try:
                yield lineno, json.loads(line)
                continue
            except json.JSONDecodeError as e:
                bad = BadLine("bad_json", f"{path}:{lineno}: invalid JSON: {e.msg} "
                                          f"(column {e.colno})")
        if not keep_bad:
            raise CodesiftError(bad.message)
        yield lineno, bad


def read_jsonl(path: str | Path) -> list[dict]:
    """Read JSONL of objects; a bad line raises an error naming the file and line."""
    rows = []
    for lineno, obj in iter_jsonl(path):
        if not isinstance(obj, dict):
            raise CodesiftError(
                f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        rows.append(obj)
    return rows


def bad_utf8(path: str | Path, data: bytes, e: UnicodeDecodeError, first_line: int = 1) -> str:
    """Every reader's words for a bad byte in `data` (the file's bytes from `first_line`):
    `file:line: not valid UTF-8 (byte N of the line)`."""
    line = first_line + data.count(b"\n", 0, e.start)
    column = e.start - (data.rfind(b"\n", 0, e.start) + 1)
    return f"{path}:{line}: not valid UTF-8 (byte {column} of the line)"


def _lines(path: str | Path) -> Iterator[tuple[int, str | BadLine]]:
    """Yield (line number, text), or a BadLine naming the line that is not UTF-8; a `.gz`
    file is read through gzip, and a byte-order mark (Windows editors write one) is dropped."""
    zipped = str(path).lower().endswith(".gz")
    with (gzip.open if zipped else open)(path, "rb") as f:
        lineno = 0
        try:
            for lineno, raw in enumerate(f, start=1):
                if lineno == 1:
                    raw = raw.removeprefix(codecs.BOM_UTF8)
                try:
                    yield lineno, raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    yield lineno, BadLine("bad_utf8", bad_utf8(path, raw, e, lineno))
        except (gzip.BadGzipFile, EOFError, zlib.error) as e:
            if not zipped:
                raise
            raise CodesiftError(f"{path}:{lineno + 1}: not a readable gzip file ({e})")


def read_json(path: str | Path) -> Any:
    data = Path(path).read_bytes().removeprefix(codecs.BOM_UTF8)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise CodesiftError(bad_utf8(path, data, e))
    except json.JSONDecodeError as e:
        raise CodesiftError(f"{path}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})")


def fingerprint(paths: Iterable[str | Path], settings: Any) -> str:
    """sha256 of files (directories recursively, in sorted order) and JSON-able settings:
    the identity of a job's inputs, so resumable state is never reused for other inputs."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for root in paths:
        root = Path(root)
        for f in sorted(root.rglob("*")) if root.is_dir() else [root]:
            if f.is_file():
                h.update(str(f.relative_to(root.parent)).encode())
                with open(f, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        h.update(block)
    return h.hexdigest()


def _object(line: bytes) -> dict | None:
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return obj if isinstance(obj, dict) else None


class ChunkLog:
    """Append-only JSONL of finished rows, flushed and fsynced chunk by chunk, so a job killed
    with `kill -9` resumes from its last chunk. The first line records a fingerprint of the
    job's inputs; a log written for other inputs is discarded, never mixed in."""

    def __init__(self, path: str | Path, fingerprint: str) -> None:
        self.path, self.fingerprint = Path(path), fingerprint
        self.rows: list[dict] = self._load()

    def _load(self) -> list[dict]:
        """Rows of complete chunks; the file is cut back to the last complete chunk, and a
        damaged tail (a line that is not a JSON object) is discarded with a warning."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        lines = data.split(b"\n")[:-1]  # the last piece is empty or a torn line
        if not lines or (_object(lines[0]) or {}).get("fingerprint") != self.fingerprint:
            self.path.unlink()
            return []
        rows, pending, offset, good = [], [], len(lines[0]) + 1, len(lines[0]) + 1
        for line in lines[1:]:
            obj = _object(line)
            if obj is None:
                log.warning("%s: line %d is damaged; resuming from the last complete chunk "
                            "(%d rows)", self.path, 2 + len(rows) + len(pending), len(rows))
                break
            offset += len(line) + 1
            if obj.get("_chunk_end"):
                rows, pending, good = rows + pending, [], offset
            else:
                pending.append(obj)
        if good < len(data):
            with open(self.path, "r+b") as f:
                f.truncate(good)
        return rows

    def append(self, rows: list[dict]) -> None:
        """Write a chunk and its end marker; only complete chunks count on reload."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        with open(self.path, "a", encoding="utf-8") as f:
            if new:
                f.write(json.dumps({"fingerprint": self.fingerprint}) + "\n")
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.write('{"_chunk_end": true}\n')
            f.flush()
            os.fsync(f.fileno())
        self.rows.extend(rows)


class ArrayChunks:
    """Finished chunks of a job's float arrays, one `.npy` file each, written atomically, so a
    job killed with `kill -9` resumes from its last finished chunk (ChunkLog's rule for arrays,
    which JSON lines would store at several times the size). The folder records a fingerprint
    of the job's inputs; chunks written for other inputs are discarded, never mixed in."""

    def __init__(self, folder: str | Path, fingerprint: str) -> None:
        self.folder = Path(folder)
        stamp = self.folder / "fingerprint"
        if self.folder.exists() and (not stamp.is_file() or stamp.read_text() != fingerprint):
            shutil.rmtree(self.folder)
        if not self.folder.exists():
            self.folder.mkdir(parents=True)
            write_text(stamp, fingerprint)

    def _path(self, k: int | str) -> Path:
        return self.folder / (f"chunk-{k:06d}.npy" if isinstance(k, int) else f"{k}.npy")

    def get(self, k: int | str):
        """Chunk k as written, or None if it was never finished."""
        import numpy as np

        return np.load(self._path(k)) if self._path(k).is_file() else None

    def put(self, k: int | str, array) -> None:
        import numpy as np

        with atomic_path(self._path(k)) as tmp, open(tmp, "wb") as f:
            np.save(f, array)
            f.flush()
            os.fsync(f.fileno())

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML says keys are unique;
    PyYAML silently keeps the last value, so a knob set twice would half-apply)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, typing.Hashable) and key in lines:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (lines {lines[key]} and {line})",
                    key_node.start_mark)
            if isinstance(key, typing.Hashable):
                lines[key] = line
        return super().construct_mapping(node, deep)


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CodesiftError(f"{path}: not found (run from the repository root)")
    try:
        data = yaml.load(path.read_bytes().decode("utf-8"), _UniqueKeyLoader) or {}
    except UnicodeDecodeError as e:
        raise CodesiftError(f"{path}: not valid UTF-8 (byte {e.start}); save it as UTF-8")
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise CodesiftError(f"{where}: not valid YAML: {getattr(e, 'problem', e)}")
    if not isinstance(data, dict):
        raise CodesiftError(f"{path}: expected a mapping of sections")
    return data
