"""Query sets: the target task's examples that RDS+ and LESS match the pool against."""

from __future__ import annotations

from pathlib import Path

from codesift import CodesiftError
from codesift.io import atomic_path, iter_jsonl, write_json


def read_query(path: str, pool_ids: set[str], key: str) -> list[dict]:
    """The query records of `path` (the param `key` names it), checked before any work:
    present, non-empty, usable, and disjoint from the pool, since a query example must never
    be selectable (selecting it would train on the target)."""
    where = f"{key}: {path}"
    if not Path(path).is_file():
        raise CodesiftError(f"{where}: not found (a JSONL of target-task records)")
    records = []
    for line, rec in iter_jsonl(path):
        if not isinstance(rec, dict):
            raise CodesiftError(f"{path}:{line}: expected a JSON object")
        usable = isinstance(rec.get("instruction"), str) and isinstance(rec.get("response"), str)
        if not isinstance(rec.get("id"), str) or not (
                usable or "chat_rounds" in rec or isinstance(rec.get("text"), str)):
            raise CodesiftError(f"{path}:{line}: a query record needs an id and instruction and "
                                "response (or chat_rounds, or text), as prepared records have")
        records.append(rec)
    if not records:
        raise CodesiftError(f"{where}: no records (the method needs target-task examples)")
    shared = [r["id"] for r in records if r["id"] in pool_ids]
    if shared:
        raise CodesiftError(f"{where}: {len(shared)} of its ids are also in the pool (first: "
                            f"{shared[0]}); a query example must never be selectable")
    return records


def write_matched(out: str | Path, name: str, pool, query, ids: list[str],
                  query_ids: list[str]) -> None:
    """The pool's and the query set's feature rows with their ids, as `select` reads them
    (`<name>.npy`, `query.npy`, `ids.json`, `query_ids.json`), written whole or not at all."""
    import numpy as np

    with atomic_path(out, is_dir=True) as tmp:
        np.save(tmp / f"{name}.npy", pool)
        np.save(tmp / "query.npy", query)
        write_json(tmp / "ids.json", ids)
        write_json(tmp / "query_ids.json", query_ids)
