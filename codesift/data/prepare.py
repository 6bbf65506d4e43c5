"""Validate, map columns, dedupe and decontaminate instruction records."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from codesift import CodesiftError
from codesift.config import DataConfig
from codesift.data import ASSISTANT_ROLES, USER_ROLES
from codesift.data.record import dedup_key
from codesift.data.sources import Raw
from codesift.io import BadLine

EXAMPLES_CAP = 20  # places kept per invalid reason in the report


class InvalidRecord(CodesiftError):
    """A record that breaks the schema; `reason` is a short code for counting."""

    def __init__(self, where: str, reason: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where, self.reason = where, reason


@dataclass
class PrepareReport:
    n_read: int = 0
    n_invalid: int = 0
    n_duplicates: int = 0
    n_contaminated: int = 0
    n_kept: int = 0
    invalid_reasons: Counter = field(default_factory=Counter)
    invalid_where: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    contaminated_by: Counter = field(default_factory=Counter)
    skipped_files: dict[str, str] = field(default_factory=dict)  # path -> why it was not read

    def add_invalid(self, reason: str, where: str) -> None:
        self.n_invalid += 1
        self.invalid_reasons[reason] += 1
        if len(self.invalid_where[reason]) < EXAMPLES_CAP:
            self.invalid_where[reason].append(where)

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["invalid_reasons"] = dict(sorted(self.invalid_reasons.items()))
        d["invalid_where"] = dict(sorted(self.invalid_where.items()))
        d["contaminated_by"] = dict(sorted(self.contaminated_by.items()))
        d["n_skipped_files"] = len(self.skipped_files)
        return d

    def summary(self) -> str:
        files = f", {len(self.skipped_files)} files not read" if self.skipped_files else ""
        return (f"kept {self.n_kept} of {self.n_read} ({self.n_invalid} invalid skipped, "
                f"{self.n_duplicates} duplicates, {self.n_contaminated} contaminated{files})")


def _string_field(where: str, obj: dict, column: str, param: str) -> str:
    if column not in obj:
        raise InvalidRecord(where, "missing_field", f"missing field '{column}' ({param})")
    value = obj[column]
    if not isinstance(value, str):
        raise InvalidRecord(where, "not_a_string",
                            f"field '{column}' must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidRecord(where, "empty_field", f"field '{column}' is empty")
    return value


META_MAX_CHARS = 200  # a short scalar column is a label (quality, source, task), kept as meta


def to_record(where: str, obj: object, cfg: DataConfig) -> dict:
    """The record, plus the source's other short scalar columns under `meta`: a label such as
    `quality` or `source` is how a selection's make-up is reported (select.label_column)."""
    rec = _record(where, obj, cfg)
    used = {"id", cfg.instruction_column, cfg.response_column, cfg.input_column,
            cfg.chat_column, cfg.task_column, cfg.text_column}
    meta = {k: v for k, v in obj.items() if k not in used and _short_scalar(v)}
    return {**rec, "meta": meta} if meta else rec


def _short_scalar(v: object) -> bool:
    return isinstance(v, int | float | bool) or (isinstance(v, str)
                                                  and len(v) <= META_MAX_CHARS)


def _record(where: str, obj: object, cfg: DataConfig) -> dict:
    """Map one raw object to {instruction, response, source}; raise naming file:line and field."""
    if isinstance(obj, BadLine):
        raise InvalidRecord(where, obj.reason, obj.message.split(": ", 1)[-1])
    if not isinstance(obj, dict):
        raise InvalidRecord(where, "not_an_object",
                            f"expected a JSON object, got {type(obj).__name__}")
    rec_id = _record_id(where, obj)
    task = {"task": _string_field(where, obj, cfg.task_column, "data.task_column")} \
        if cfg.task_column else {}
    return {**rec_id, **_fields(where, obj, cfg, task)}


def _record_id(where: str, obj: dict) -> dict:
    """The record's own id, kept as given: a string, or an integer as its digits; any other
    value is refused (replacing it would silently break the link to the source)."""
    if "id" not in obj:
        return {}
    value = obj["id"]
    if isinstance(value, int) and not isinstance(value, bool):
        return {"id": str(value)}
    if not isinstance(value, str) or not value.strip():
        raise InvalidRecord(where, "bad_id", f"field 'id' must be a non-empty string (or an "
                                             f"integer), got {value!r:.40}")
    return {"id": value}


def _fields(where: str, obj: dict, cfg: DataConfig, task: dict) -> dict:
    if cfg.text_column:  # a raw-code corpus (fill-in-the-middle)
        return {**task, "text": _string_field(where, obj, cfg.text_column, "data.text_column"),
                "source": where}
    if cfg.chat_column and cfg.chat_column in obj:
        return {**chat_record(where, obj[cfg.chat_column], cfg.chat_column), **task}
    out = {**task,"instruction": _string_field(where, obj, cfg.instruction_column,
                                        "data.instruction_column"),
           "response": _string_field(where, obj, cfg.response_column, "data.response_column")}
    extra = obj.get(cfg.input_column) if cfg.input_column else None
    if isinstance(extra, str) and extra.strip():
        out["instruction"] = f"{out['instruction']}\n\n{extra}"
    out["source"] = where
    return out


def chat_record(where: str, rounds: object, column: str) -> dict:
    """A multi-turn record keeps its rounds for training; its last user/assistant pair stands
    for it in scoring and embedding."""
    def bad(message: str) -> InvalidRecord:
        return InvalidRecord(where, "bad_chat", message)

    if not isinstance(rounds, list) or not rounds:
        raise bad(f"field '{column}' must be a non-empty list of turns")
    for i, turn in enumerate(rounds):
        if not isinstance(turn, dict) or not isinstance(turn.get("role"), str) \
                or not isinstance(turn.get("content"), str):
            raise bad(f"field '{column}[{i}]' needs string role and content")
        if not turn["content"].strip():
            raise bad(f"field '{column}[{i}].content' is empty")
        if turn["role"].lower() not in ("system", *USER_ROLES, *ASSISTANT_ROLES):
            raise bad(f"field '{column}[{i}].role': unknown role {turn['role']!r}")
    users = [t["content"] for t in rounds if t["role"].lower() in USER_ROLES]
    bots = [t["content"] for t in rounds if t["role"].lower() in ASSISTANT_ROLES]
    if not users or not bots:
        raise bad(f"field '{column}' needs a user and an assistant turn")
    return {"instruction": users[-1], "response": bots[-1], "source": where,
            "chat_rounds": rounds}


def prepare(raw: Iterable[Raw], cfg: DataConfig, benchmarks: dict[str, list[str]]) -> tuple[
        list[dict], PrepareReport]:
    """Records in source order with ids; `benchmarks` maps a name to texts to decontaminate by."""
    report = PrepareReport()
    index = NgramIndex(benchmarks, cfg.ngram)
    seen: set[tuple[str, ...]] = set()
    records = []
    for where, obj in raw:
        report.n_read += 1
        try:
            rec = to_record(where, obj, cfg)
        except InvalidRecord as e:
            if cfg.on_invalid == "error":
                raise
            report.add_invalid(e.reason, e.where)
            continue
        key = dedup_key(rec)
        if key in seen:
            report.n_duplicates += 1
            continue
        seen.add(key)
        hit = index.match("\n".join(key))
        if hit:
            report.n_contaminated += 1
            report.contaminated_by[hit] += 1
            continue
        records.append({"id": rec.pop("id", f"rec-{report.n_read - 1:07d}"), **rec})
        if cfg.limit and len(records) >= cfg.limit:
            break
    _check_unique_ids(records)
    report.n_kept = len(records)
    return records, report


def split_valid(records: list[dict], size: int, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, valid): `size` records drawn with `seed`, both in source order."""
    import numpy as np

    chosen = set(np.random.default_rng(seed).choice(len(records), size, replace=False).tolist())
    return ([r for i, r in enumerate(records) if i not in chosen],
            [r for i, r in enumerate(records) if i in chosen])


def _check_unique_ids(records: list[dict]) -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for r in records:
        where[r["id"]].append(r["source"])
    dups = [(i, w) for i, w in where.items() if len(w) > 1]
    if dups:
        shown = "; ".join(f"{i!r} at {', '.join(w[:3])}" for i, w in dups[:3])
        raise CodesiftError(f"data.source: {len(dups)} record ids are not unique: {shown}")


_WORD = re.compile(r"\w+")


class NgramIndex:
    """Word n-gram overlap with benchmark texts (the usual decontamination test)."""

    def __init__(self, benchmarks: dict[str, list[str]], n: int) -> None:
        self.n = n
        self.owner: dict[tuple[str, ...], str] = {}
        for name, texts in sorted(benchmarks.items()):
            for text in texts:
                for gram in self._grams(text):
                    self.owner.setdefault(gram, name)

    def _grams(self, text: str) -> Iterable[tuple[str, ...]]:
        words = _WORD.findall(text.lower())
        return (tuple(words[i:i + self.n]) for i in range(len(words) - self.n + 1))

    def match(self, text: str) -> str | None:
        """Name of the first benchmark sharing an n-gram with `text`, else None."""
        return next((self.owner[g] for g in self._grams(text) if g in self.owner), None)
