"""select: choose the training subset.

in:  --data (prepared JSONL), --scores (IFD JSONL), --deita (DEITA scores JSONL), --embeddings
     params: select
out: --out (selected records, prepared order), --metrics (incl. the selection report: cluster
     JS divergence, coverage, diversity), --plots/*.json (dvc plots)
"""

from __future__ import annotations

import time

from stages._run import run


def load_pool(records: list[dict], scores_path: str, deita_path: str, embeddings_dir: str):
    """Scores and embeddings aligned to the prepared records, checked by id (DEITA's scores
    only where the deita_score stage computed them)."""
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
    nan = float("nan")
    return Pool(embeddings=load_embeddings(f"{embeddings_dir}/embeddings.npy", ids),
                ifd=np.array([s["ifd"] if s["ifd"] is not None else nan for s in scores]),
                ppl=np.array([s["ppl_cond"] if s["ppl_cond"] is not None else nan
                              for s in scores]),
                deita=np.array([s["score"] for s in deita]) if deita else None)


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
    from codesift.selection import n_to_select, select, select_per_task
    from codesift.selection.report import plot_data, report

    start = time.perf_counter()
    cfg = p.select
    records = read_jsonl(args.data)
    pool = load_pool(records, args.scores, args.deita, args.embeddings)
    n = n_to_select(len(records), cfg.ratio, cfg.sample_num)
    tasks = [r.get("task", "") for r in records]
    picked = select_per_task(pool, tasks, n, cfg) if cfg.per_task else select(pool, n, cfg)
    if len(picked) == 0:
        raise CodesiftError(f"select.method {cfg.method} picked no sample of {len(records)} "
                            "(nothing to train on); raise select.ratio or select.sample_num, or "
                            "check the IFD scores (select.ifd_max filters IFD >= it)")
    write_jsonl(args.out, (records[i] for i in picked))
    requested = cfg.sample_num / len(records) if cfg.sample_num else cfg.ratio
    write_json(args.metrics, {
        "method": cfg.method, "n_total": len(records), "n_requested": n,
        "n_selected": len(picked), "ratio_requested": requested,
        "share_selected": len(picked) / len(records), "seconds": time.perf_counter() - start,
        **report(pool, picked, n_clusters=cfg.n_clusters, seed=cfg.seed)})
    for name, rows in plot_data(pool, picked, n_clusters=cfg.n_clusters, seed=cfg.seed).items():
        write_json(f"{args.plots}/{name}.json", rows)
    print(f"select: {cfg.method} kept {len(picked)} of {len(records)} (requested {n})")


PATHS = {  # every path comes from dvc.yaml's cmd
    "--data": "prepared records (JSONL)",
    "--scores": "IFD scores (JSONL, prepared order)",
    "--deita": "DEITA scores (JSONL; empty if not scored)",
    "--embeddings": "embeddings directory",
    "--out": "selected records (JSONL)",
    "--metrics": "metrics JSON",
    "--plots": "directory for the plot data (JSON)",
}


if __name__ == "__main__":
    run(main, __doc__, PATHS)
