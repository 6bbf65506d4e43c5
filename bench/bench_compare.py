"""Do the default's comparisons carry signal? Held-out losses of 4 settings x 3 training seeds.

Settings (the questions a user asks of the embedded default): cdas at ratio 0.1 vs all the
data (ratio 1.0), and cdas 0.4 vs random 0.4. Each is selected once, then trained with
train.seed 0, 1 and 2 exactly as the train stage trains (params.yaml's `train` section), and
scored on the validation split (`valid_loss`) and HumanEval's canonical solutions
(`heldout_nll`), as the generate stage scores them. A difference between two settings carries
signal when it is larger than both settings' spread (max - min) across seeds.

Inputs are the workspace's pipeline outputs (run `dvc repro` first): models/base,
data/prepared/{train,valid}.jsonl, data/scores/ifd.jsonl, data/embeddings. Everything runs in
this one process. Last stdout line: {"<setting>": {"valid_loss": [..], "heldout_nll": [..],
"seconds": s}, "spread": {...}, "difference": {...}, "signal": {...}}.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the repo's codesift

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from codesift import CodesiftError  # noqa: E402

SETTINGS = {"cdas-0.1": ("cdas", 0.1), "all-1.0": ("random", 1.0), "cdas-0.4": ("cdas", 0.4),
            "random-0.4": ("random", 0.4)}
PAIRS = {"ratio 0.1 vs 1.0": ("cdas-0.1", "all-1.0"), "cdas vs random at 0.4": ("cdas-0.4",
                                                                              "random-0.4")}


def losses(model_dir: str, valid: list[dict], template, heldout: list[tuple[str, str]]) -> dict:
    from codesift.models import load_model, load_tokenizer
    from codesift.scoring import LOSS_BATCH_TOKENS, LOSS_MAX_LEN, mean_nll

    model, tok = load_model(model_dir), load_tokenizer(model_dir)
    pairs = [template.pair(tok, r["instruction"], r["response"]) for r in valid]
    return {"valid_loss": mean_nll(model, tok, pairs, LOSS_MAX_LEN, LOSS_BATCH_TOKENS),
            "heldout_nll": mean_nll(model, tok, heldout, LOSS_MAX_LEN, LOSS_BATCH_TOKENS)}


def run_setting(method: str, ratio: float, seeds: list[int], p, data: dict, work: Path) -> dict:
    from codesift.selection import n_to_select, select
    from codesift.training import build_examples, train

    cfg = dataclasses.replace(p.select, method=method, ratio=ratio, sample_num=0)
    picked = select(data["pool"], n_to_select(len(data["records"]), ratio, 0), cfg)
    records = [data["records"][i] for i in picked]
    examples, _ = build_examples(records, data["tok"], data["template"], p.train.max_seq_len)
    out: dict = {"n_selected": len(records), "valid_loss": [], "heldout_nll": []}
    start = time.perf_counter()
    for seed in seeds:
        model_dir = work / f"{method}-{ratio}-{seed}"
        train(data["base"], examples, data["tok"], dataclasses.replace(p.train, seed=seed),
              model_dir, work / f"ck-{method}-{ratio}-{seed}")
        for key, value in losses(str(model_dir), data["valid"], data["template"],
                                 data["heldout"]).items():
            out[key].append(value)
        print(f"{method} {ratio} seed {seed}: valid_loss {out['valid_loss'][-1]:.4f} "
              f"heldout_nll {out['heldout_nll'][-1]:.4f}", file=sys.stderr)
    out["seconds"] = time.perf_counter() - start
    return out


def load_inputs(args) -> tuple:
    from codesift.config import load
    from codesift.evaluation.benchmarks import load_benchmark
    from codesift.evaluation.generation import heldout_prompt
    from codesift.io import read_jsonl
    from codesift.models import load_tokenizer
    from codesift.selection.pool import load_pool
    from codesift.templates import load_template

    p = load(ROOT / "params.yaml")
    tok = load_tokenizer(str(ROOT / "models/base"))
    template = load_template(ROOT / "templates", p.template.name, p.template.system)
    records = read_jsonl(ROOT / "data/prepared/train.jsonl")
    heldout = [(heldout_prompt(t, "instruct", template, tok), t["canonical_solution"]
                + tok.eos_token) for t in load_benchmark("humaneval").tasks]
    pool = load_pool(records, str(ROOT / "data/scores/ifd.jsonl"), os.devnull,  # no DEITA
                     str(ROOT / "data/embeddings"))
    return p, {"base": str(ROOT / "models/base"), "tok": tok, "template": template,
               "records": records, "valid": read_jsonl(ROOT / "data/prepared/valid.jsonl"),
               "heldout": heldout, "pool": pool}


def summary(results: dict) -> dict:
    out: dict = {"spread": {}, "difference": {}, "signal": {}}
    for name, r in results.items():
        out["spread"][name] = {k: max(r[k]) - min(r[k]) for k in ("valid_loss", "heldout_nll")}
    for label, (a, b) in PAIRS.items():
        for k in ("valid_loss", "heldout_nll"):
            mean = {s: sum(results[s][k]) / len(results[s][k]) for s in (a, b)}
            diff = mean[a] - mean[b]
            noise = max(out["spread"][a][k], out["spread"][b][k])
            out["difference"].setdefault(label, {})[k] = diff
            out["signal"].setdefault(label, {})[k] = abs(diff) > noise
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2", help="train.seed values (default: 0,1,2)")
    ap.add_argument("--settings", default=",".join(SETTINGS),
                    help=f"which of {', '.join(SETTINGS)} (default: all)")
    args = ap.parse_args()
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        raise CodesiftError(f"--seeds: expected comma-separated integers, got {args.seeds!r}")
    unknown = [s for s in args.settings.split(",") if s not in SETTINGS]
    if unknown:
        raise CodesiftError(f"--settings: {unknown} not among {', '.join(SETTINGS)}")
    p, data = load_inputs(args)
    results = {}
    (ROOT / ".codesift").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / ".codesift") as tmp:
        for name in args.settings.split(","):
            results[name] = run_setting(*SETTINGS[name], seeds, p, data, Path(tmp))
    print(json.dumps({**results, **summary(results)}))


if __name__ == "__main__":
    from codesift.cli import user_errors

    with user_errors():
        main()
