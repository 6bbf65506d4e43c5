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


def main(args, p) -> None:
    from codesift import CodesiftError
    from codesift.io import read_jsonl, write_json, write_jsonl
    from codesift.selection.labels import label_report, record_labels
    from codesift.selection.pool import load_pool
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
