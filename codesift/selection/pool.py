"""What a selector looks at, read from the stages' outputs: the IFD scores, embeddings, DEITA
scores, RDS+ representations and LESS features, each aligned to the prepared records by id."""

from __future__ import annotations

import numpy as np

from codesift import CodesiftError
from codesift.io import read_json, read_jsonl
from codesift.selection import Pool


def load_pool(records: list[dict], scores_path: str, deita_path: str, embeddings_dir: str,
              rds_dir: str | None = None, less_dir: str | None = None) -> Pool:
    """Scores and embeddings aligned to the prepared records, checked by id (DEITA's scores
    and RDS+ representations only where their stages computed them)."""
    scores = read_jsonl(scores_path)
    ids = [r["id"] for r in records]
    if [s["id"] for s in scores] != ids:
        raise CodesiftError(f"{scores_path}: ids differ from the prepared data; rerun ifd")
    if read_json(f"{embeddings_dir}/ids.json") != ids:
        raise CodesiftError(f"{embeddings_dir}/ids.json: ids differ from the prepared data; "
                            "rerun embed")
    deita = read_jsonl(deita_path)
    if deita and [s["id"] for s in deita] != ids:
        raise CodesiftError(f"{deita_path}: ids differ from the prepared data; rerun "
                            "deita_score")
    reps, query_reps = _features(rds_dir, "reps.npy", ids, "rds_embed")
    grads, query_grads = _features(less_dir, "grads.npy", ids, "less_grads")

    def column(key: str) -> np.ndarray:
        return np.array([s[key] if s[key] is not None else np.nan for s in scores])

    return Pool(embeddings=load_embeddings(f"{embeddings_dir}/embeddings.npy", ids),
                ifd=column("ifd"), ppl=column("ppl_cond"),
                deita=np.array([s["score"] for s in deita]) if deita else None,
                align=column("align") if scores and "align" in scores[0] else None,
                reps=reps, query_reps=query_reps, grads=grads, query_grads=query_grads)


def _features(folder: str | None, name: str, ids: list[str], stage: str):
    """(pool rows, query rows) a query-matching stage wrote, or (None, None) if it wrote none
    (select.method was not its method)."""
    if folder is None or not (found := read_json(f"{folder}/ids.json")):
        return None, None
    if found != ids:
        raise CodesiftError(f"{folder}/ids.json: ids differ from the prepared data; rerun {stage}")
    return np.load(f"{folder}/{name}"), np.load(f"{folder}/query.npy")


def load_embeddings(path: str, ids: list[str]) -> np.ndarray:
    """One finite row per record, or an error naming the file and what is wrong."""
    try:
        emb = np.load(path)
    except (ValueError, EOFError) as e:
        raise CodesiftError(f"{path}: not a readable .npy array ({e}); rerun embed")
    if emb.ndim != 2 or emb.shape[0] != len(ids):
        raise CodesiftError(f"{path}: shape {emb.shape}, but there are {len(ids)} records "
                            "(one row each); rerun embed")
    bad = np.flatnonzero(~np.isfinite(emb).all(axis=1))
    if bad.size:
        raise CodesiftError(f"{path}: {bad.size} rows are not finite (NaN or inf), e.g. ids "
                            f"{[ids[i] for i in bad[:3]]}; rerun embed")
    return emb
