"""Does selection pick better data? Every selector x every scorer at one ratio on the default
pool, with params.yaml's filter chain, with the scorer-free rule filters only (parses, names)
and with none: the flawed share of each subset (the pool's planted `quality` labels) and each
label's share, in one process.

Scorers: `--scores NAME=FILE[@PROFILE]` reads IFD/alignment scores a pipeline wrote and judges
them with `--params` merged with PROFILE's `select` (default: smollm2=data/scores/ifd.jsonl,
the embedded default's own SmolLM2 scores, judged by params.yaml as it is); `--scorer
NAME=MODEL_DIR:TEMPLATE[@PROFILE]` scores the pool here, in fp32 (default: the bootstrap
base, models/base, with configs/bootstrap-scorer.yaml's filters: about a minute). It also needs
data/prepared/train.jsonl and data/embeddings. Only method, filters and ratio change. Last
stdout line:
{"<scorer>": {"pool": {...}, "select": {...}, "filtered": {"removed": [...], "<method>":
{...}}, "rules": {...}, "unfiltered": {...}}, "agreement": {"<a> vs <b>": {"spearman": r,
"top40_overlap": f}}, "seconds": s} (agreement: bench_scorers.py's, over the whole pool).

    .venv/bin/python bench/bench_select_quality.py      # after make run
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the repo's codesift

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

RULES = ["parses", "names"]  # the scorer-free filters: the same records under every scorer


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def scored_here(spec: str, records: list[dict], p) -> list[dict]:
    """IFD and the reverse IFD of every record from MODEL_DIR with TEMPLATE, as the ifd stage
    computes them (fp32, the stage's batching)."""
    from codesift.models import load_model, load_tokenizer
    from codesift.scoring import VARIANTS, alignment_pair, score
    from codesift.templates import load_template

    model_dir, _, template_name = spec.partition(":")
    tok, model = load_tokenizer(model_dir), load_model(model_dir, "float32")
    template = load_template(ROOT / "templates", template_name or p.template.name)
    pair = VARIANTS[p.ifd.variant].pair
    fwd = [pair(template, tok, r["instruction"], r["response"]) for r in records]
    rev = [alignment_pair(r["instruction"], r["response"]) for r in records]
    out = []
    for pairs in (fwd, rev):
        res, _ = score(model, tok, pairs, p.ifd.max_len, p.ifd.batch_tokens, progress=True)
        out.append(res)
    return [{"id": r["id"], "ifd": a.ifd, "ppl_cond": a.ppl_cond, "align": b.ifd}
            for r, a, b in zip(records, *out, strict=True)]


def pool_of(scores: list[dict], embeddings):
    import numpy as np

    from codesift.selection import Pool

    def col(key: str) -> np.ndarray:
        return np.array([s.get(key) if s.get(key) is not None else np.nan for s in scores])

    return Pool(embeddings, col("ifd"), col("ppl_cond"), align=col("align"))


def run_all(records, labels, pool, cfg, filters: list[str]) -> dict:
    """Every registered selector with `filters` before it (skipping those whose inputs the
    pool lacks), each subset's label make-up."""
    from codesift.selection import REGISTRY
    from codesift.selection.filters import apply_filters
    from codesift.selection.labels import label_report
    from codesift.selection.subset import choose

    out: dict = {"removed": apply_filters(filters, records, pool, cfg, labels)[1]}
    for method in REGISTRY.names():
        missing = [n for n in REGISTRY.get(method).needs if getattr(pool, n) is None]
        if missing:  # deita: scorer models not shipped offline; rds/less: their own stages
            out[method] = {"skipped": f"needs {', '.join(missing)}, not in this pool"}
            continue
        c = dataclasses.replace(cfg, method=method, filters=filters)
        t = time.perf_counter()
        picked, _, _ = choose(records, pool, c, labels)
        if len(picked) == 0:  # the filters, or the method's own IFD < ifd_max, left nothing
            out[method] = {"n_selected": 0, "flawed_share": None}
            log(f"{method} ({'+'.join(filters) or 'no filters'}): nothing left to select")
            continue
        metrics, _ = label_report(labels, picked, c.label_column, c.flawed_labels)
        out[method] = {"flawed_share": round(metrics["flawed_share"], 4),
                       "n_selected": len(picked),
                       "labels": {k: round(v, 4) for k, v in metrics["labels"]["selected"].items()},
                       "seconds": round(time.perf_counter() - t, 2)}
        log(f"{method} ({'+'.join(filters) or 'no filters'}): "
            f"{100 * metrics['flawed_share']:.1f}% flawed of {len(picked)}")
    return out


def agreement_of(scorers: dict[str, list[dict]]) -> dict:
    """Rank agreement of every two scorers' IFD over the pool (bench_scorers.py's measure)."""
    import itertools

    import numpy as np
    from bench_scorers import agreement  # noqa: I001 (a sibling script: bench/ is on sys.path)

    ifd = {n: np.array([np.nan if s.get("ifd") is None else s["ifd"] for s in scores])
           for n, scores in scorers.items()}
    return {f"{a} vs {b}": agreement(ifd[a], ifd[b]) for a, b in itertools.combinations(ifd, 2)}


def scorer_runs(args, records) -> dict[str, tuple[list[dict], object]]:
    """name -> (scores, Params with the scorer's profile merged): each scorer is judged with
    the filter thresholds that suit its IFD scale (SmolLM2's IFD is ~0.3, the bootstrap's ~1)."""
    from codesift.check import check
    from codesift.io import read_jsonl

    runs = {}
    for name, spec in (s.split("=", 1) for s in args.scores):
        path, _, profile = spec.partition("@")
        runs[name] = (read_jsonl(path), check(args.params, profile or None, deep=False))
    for name, spec in (s.split("=", 1) for s in args.scorer):
        log(f"scoring the pool with {name} ({spec})")
        model, _, profile = spec.partition("@")
        params = check(args.params, profile or None, deep=False)
        runs[name] = (scored_here(model, records, params), params)
    return runs


def main() -> None:
    import numpy as np

    from codesift.config import load
    from codesift.io import read_json, read_jsonl
    from codesift.selection.labels import label_report, record_labels

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scores", nargs="*", metavar="NAME=FILE[@PROFILE]",
                    default=["smollm2=data/scores/ifd.jsonl"],
                    help="score files a pipeline wrote, each judged with its profile's select")
    ap.add_argument("--scorer", nargs="*",
                    default=["bootstrap=models/base:alpaca@configs/bootstrap-scorer.yaml"],
                    metavar="NAME=DIR:TEMPLATE[@PROFILE]", help="models to score the pool "
                    "with here, each judged with its profile's select")
    ap.add_argument("--params", default=str(ROOT / "params.yaml"))
    ap.add_argument("--ratio", type=float, default=0.4)
    ap.add_argument("--data", default="data/prepared/train.jsonl")
    ap.add_argument("--embeddings", default="data/embeddings")
    args = ap.parse_args()
    start = time.perf_counter()
    p = load(args.params)
    records = read_jsonl(args.data)
    labels = record_labels(records, p.select.label_column, args.data)
    emb = np.load(f"{args.embeddings}/embeddings.npy")
    assert read_json(f"{args.embeddings}/ids.json") == [r["id"] for r in records]
    runs = scorer_runs(args, records)
    result: dict = {}
    for name, (scores, params) in runs.items():
        assert [s["id"] for s in scores] == [r["id"] for r in records], name
        cfg = dataclasses.replace(params.select, ratio=args.ratio, sample_num=0)
        pool = pool_of(scores, emb)
        mix, _ = label_report(labels, np.arange(len(records)), cfg.label_column,
                              cfg.flawed_labels)
        result[name] = {"pool": {"flawed_share": round(mix["flawed_share"], 4)},
                        "select": {"filters": list(cfg.filters), "ifd_max": cfg.ifd_max,
                                   "alignment_max": cfg.alignment_max},
                        "filtered": run_all(records, labels, pool, cfg, list(cfg.filters)),
                        "rules": run_all(records, labels, pool, cfg, RULES),
                        "unfiltered": run_all(records, labels, pool, cfg, [])}
    result["agreement"] = agreement_of({n: scores for n, (scores, _) in runs.items()})
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
