"""select: choose the training subset.

in:  --data (prepared JSONL), --scores (IFD JSONL), --deita (DEITA scores JSONL), --embeddings,
     --rds (RDS+ representations), --less (LESS gradient features)
     params: select
out: --out (selected records, prepared order), --metrics (incl. the selection report: cluster
     JS divergence, coverage, diversity; what each filter removed; each label's share of the
     pool and the subset), --plots/*.json (dvc plots)
"""

from __future__ import annotations

import time

from stages._run import run


def load_pool(records: list[dict], scores_path: str, deita_path: str, embeddings_dir: str,
              rds_dir: str | None = None, less_dir: str | None = None):
    """Scores and embeddings aligned to the prepared records, checked by id (DEITA's scores
    and RDS+ representations only where their stages computed them)."""
    import numpy as np

    from codesift import CodesiftError
    from codesift.io import read_json, read_jsonl
    from codesift.selection import Pool

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
    import numpy as np

    from codesift import CodesiftError
    from codesift.io import read_json

    if folder is None or not (found := read_json(f"{folder}/ids.json")):
        return None, None
    if found != ids:
        raise CodesiftError(f"{folder}/ids.json: ids differ from the prepared data; rerun {stage}")
    return np.load(f"{folder}/{name}"), np.load(f"{folder}/query.npy")


def load_embeddings(path: str, ids: list[str]):
    """One finite row per record, or an error naming the file and what is wrong."""
    import numpy as np

    from codesift import CodesiftError

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


def main(args, p) -> None:
    from codesift import CodesiftError
    from codesift.io import read_jsonl, write_json, write_jsonl
    from codesift.selection.labels import label_report, record_labels
    from codesift.selection.report import plot_data, report
    from codesift.selection.subset import choose

    start = time.perf_counter()
    cfg = p.select
    records = read_jsonl(args.data)
    labels = record_labels(records, cfg.label_column, args.data)
    pool = load_pool(records, args.scores, args.deita, args.embeddings, args.rds, args.less)
    picked, n, removed = choose(records, pool, cfg, labels)
    if len(picked) == 0:
        raise CodesiftError(f"select.method {cfg.method} picked no sample of {len(records)} "
                            "(nothing to train on); raise select.ratio or select.sample_num, or "
                            "check select.filters and the IFD scores (select.ifd_max)")
    write_jsonl(args.out, (records[i] for i in picked))
    requested = cfg.sample_num / len(records) if cfg.sample_num else cfg.ratio
    plots = plot_data(pool, picked, n_clusters=cfg.n_clusters, seed=cfg.seed)
    by_label: dict = {}
    plots["label_shares"] = []  # a file either way, so dvc plots always finds it
    if labels is not None:
        by_label, plots["label_shares"] = label_report(labels, picked, cfg.label_column,
                                                       cfg.flawed_labels)
    write_json(args.metrics, {
        "method": cfg.method, "n_total": len(records), "n_requested": n,
        "n_selected": len(picked), "ratio_requested": requested,
        "share_selected": len(picked) / len(records), "seconds": time.perf_counter() - start,
        "filters": removed, "n_candidates": len(records) - sum(f["removed"] for f in removed),
        **by_label, **report(pool, picked, n_clusters=cfg.n_clusters, seed=cfg.seed)})
    for name, rows in plots.items():
        write_json(f"{args.plots}/{name}.json", rows)
    flawed = f", {100 * by_label['flawed_share']:.1f}% flawed" if "flawed_share" in by_label \
        else ""
    print(f"select: {cfg.method} kept {len(picked)} of {len(records)} (requested {n}; "
          f"{len(records) - sum(f['removed'] for f in removed)} passed the filters{flawed})")


PATHS = {  # every path comes from dvc.yaml's cmd
    "--data": "prepared records (JSONL)",
    "--scores": "IFD scores (JSONL, prepared order)",
    "--deita": "DEITA scores (JSONL; empty if not scored)",
    "--embeddings": "embeddings directory",
    "--rds": "RDS+ representations directory (empty unless select.method is rds)",
    "--less": "LESS gradient features directory (empty unless select.method is less)",
    "--out": "selected records (JSONL)",
    "--metrics": "metrics JSON",
    "--plots": "directory for the plot data (JSON)",
}


if __name__ == "__main__":
    run(main, __doc__, PATHS)
