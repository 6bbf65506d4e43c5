"""Validate, map columns, dedupe and decontaminate instruction records."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from codesift import CodesiftError
from codesift.config import DataConfig
from codesift.data.sources import Raw


@dataclass
class PrepareReport:
    n_read: int = 0
    n_invalid: int = 0
    n_duplicates: int = 0
    n_contaminated: int = 0
    n_kept: int = 0
    invalid_reasons: Counter = field(default_factory=Counter)
    contaminated_by: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["invalid_reasons"] = dict(sorted(self.invalid_reasons.items()))
        d["contaminated_by"] = dict(sorted(self.contaminated_by.items()))
        return d


def to_record(where: str, obj: object, cfg: DataConfig) -> dict:
    """Map one raw object to {instruction, response, source}; raise naming file:line and field."""
    if not isinstance(obj, dict):
        raise CodesiftError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if cfg.chat_column and cfg.chat_column in obj:
        return chat_record(where, obj[cfg.chat_column], cfg.chat_column)
    fields = {"instruction": cfg.instruction_column, "response": cfg.response_column}
    out = {}
    for name, column in fields.items():
        if column not in obj:
            raise CodesiftError(f"{where}: missing field '{column}' (data.{name}_column)")
        value = obj[column]
        if not isinstance(value, str):
            raise CodesiftError(f"{where}: field '{column}' must be a string, got "
                                f"{type(value).__name__}")
        if not value.strip():
            raise CodesiftError(f"{where}: field '{column}' is empty")
        out[name] = value
    extra = obj.get(cfg.input_column) if cfg.input_column else None
    if isinstance(extra, str) and extra.strip():
        out["instruction"] = f"{out['instruction']}\n\n{extra}"
    out["source"] = where
    return out


def chat_record(where: str, rounds: object, column: str) -> dict:
    """A multi-turn record keeps its rounds for training; its last user/assistant pair stands
    for it in scoring and embedding."""
    from codesift.templates import ASSISTANT_ROLES, USER_ROLES

    if not isinstance(rounds, list) or not rounds:
        raise CodesiftError(f"{where}: field '{column}' must be a non-empty list of turns")
    for i, turn in enumerate(rounds):
        if not isinstance(turn, dict) or not isinstance(turn.get("role"), str) \
                or not isinstance(turn.get("content"), str):
            raise CodesiftError(f"{where}: field '{column}[{i}]' needs string role and content")
        if not turn["content"].strip():
            raise CodesiftError(f"{where}: field '{column}[{i}].content' is empty")
        if turn["role"].lower() not in ("system", *USER_ROLES, *ASSISTANT_ROLES):
            raise CodesiftError(f"{where}: field '{column}[{i}].role': unknown role "
                                f"{turn['role']!r}")
    users = [t["content"] for t in rounds if t["role"].lower() in USER_ROLES]
    bots = [t["content"] for t in rounds if t["role"].lower() in ASSISTANT_ROLES]
    if not users or not bots:
        raise CodesiftError(f"{where}: field '{column}' needs a user and an assistant turn")
    return {"instruction": users[-1], "response": bots[-1], "source": where,
            "chat_rounds": rounds}


def prepare(raw: Iterable[Raw], cfg: DataConfig, benchmarks: dict[str, list[str]]) -> tuple[
        list[dict], PrepareReport]:
    """Records in source order with ids; `benchmarks` maps a name to texts to decontaminate by."""
    report = PrepareReport()
    index = NgramIndex(benchmarks, cfg.ngram)
    seen: set[tuple[str, str]] = set()
    records = []
    for where, obj in raw:
        report.n_read += 1
        try:
            rec = to_record(where, obj, cfg)
        except CodesiftError as e:
            if cfg.on_invalid == "error":
                raise
            report.n_invalid += 1
            report.invalid_reasons[str(e).split(": ", 1)[1]] += 1
            continue
        key = (rec["instruction"].strip(), rec["response"].strip())
        if key in seen:
            report.n_duplicates += 1
            continue
        seen.add(key)
        hit = index.match(rec["instruction"] + "\n" + rec["response"])
        if hit:
            report.n_contaminated += 1
            report.contaminated_by[hit] += 1
            continue
        rec_id = obj.get("id") if isinstance(obj.get("id"), str) else f"rec-{report.n_read - 1:07d}"
        records.append({"id": rec_id, **rec})
        if cfg.limit and len(records) >= cfg.limit:
            break
    ids = Counter(r["id"] for r in records)
    if dup := [i for i, c in ids.items() if c > 1][:3]:
        raise CodesiftError(f"data.source: record ids are not unique, e.g. {dup}")
    report.n_kept = len(records)
    return records, report


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
