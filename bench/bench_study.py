"""Issue 2/6's study table: per arm of a seeded grid (configs/grids/study.yaml by default), the
flawed share of the subset (the planted `quality` labels), valid_loss and heldout_nll, each as
the mean over seeds with its spread, and whether the arm differs from the baseline arm (seeded
random) beyond the seed spread: its seeds' range and the baseline's do not overlap.

    .venv/bin/python bench/bench_study.py --run    # run the grid (`codesift.grid --run`), then
    .venv/bin/python bench/bench_study.py          # the table from its finished experiments

Every arm, the baseline included, comes from the same grid run on the same machine. Last stdout
line: {"<arm>": {"n_selected": m, "flawed_share": {"mean", "sd", "min", "max", "seeds"},
"valid_loss": {...}, "heldout_nll": {...}, "labels": {label: mean share}, "vs_baseline":
{metric: "lower" | "higher" | "within spread"}}, "grid_seconds": s (with --run)}.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the repo's codesift

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

METRICS = ("flawed_share", "valid_loss", "heldout_nll")


def summary(values: list[float]) -> dict:
    return {"mean": round(statistics.fmean(values), 4),
            "sd": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
            "min": round(min(values), 4), "max": round(max(values), 4), "seeds": len(values)}


def versus(arm: dict, base: dict) -> str:
    """`lower`/`higher` when the arm's seed range lies wholly below/above the baseline's."""
    if arm["max"] < base["min"]:
        return "lower"
    if arm["min"] > base["max"]:
        return "higher"
    return "within spread"


def arm_row(runs: list) -> dict:
    row: dict = {"runs": [e.name for e in runs],
                 "n_selected": [e.facts.get("n_selected") for e in runs]}
    for m in METRICS:
        values = [e.facts[m] for e in runs if isinstance(e.facts.get(m), int | float)]
        row[m] = summary(values) if values else None
    shares = [e.facts["labels"]["selected"] for e in runs if e.facts.get("labels")]
    if shares:
        labels = sorted({k for s in shares for k in s})
        row["labels"] = {k: round(statistics.fmean(s.get(k, 0.0) for s in shares), 4)
                         for k in labels}
    return row


def table(grid_path: Path, repo: Path) -> dict:
    from codesift.compare.experiments import read_experiments
    from codesift.grid import load_grid

    grid = load_grid(grid_path)
    by_arm: dict[str, list] = {}
    names = [e.name for e in grid.experiments]
    for e, exp in zip(grid.experiments, read_experiments(repo, names), strict=True):
        by_arm.setdefault(e.arm or e.name, []).append(exp)
    rows = {arm: arm_row(runs) for arm, runs in by_arm.items()}
    base = rows.get(grid.baseline or "")
    for arm, row in rows.items():
        if base is not None and arm != grid.baseline:
            row["vs_baseline"] = {m: versus(row[m], base[m]) for m in METRICS
                                  if row[m] and base[m]}
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", type=Path, default=ROOT / "configs/grids/study.yaml")
    ap.add_argument("--repo", type=Path, default=Path("."))
    ap.add_argument("--run", action="store_true", help="run the grid first (codesift.grid --run)")
    args = ap.parse_args()
    result: dict = {}
    if args.run:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "codesift.grid", str(args.grid), "--run",
                        "--repo", str(args.repo)], check=True)
        result["grid_seconds"] = round(time.perf_counter() - start, 1)
    rows = table(args.grid, args.repo)
    for arm, row in rows.items():
        cells = [f"{m} {row[m]['mean']:.4f} ± {row[m]['sd']:.4f}" for m in METRICS if row[m]]
        print(f"{arm:12s} {' | '.join(cells)} {row.get('vs_baseline', '(baseline)')}",
              file=sys.stderr)
    print(json.dumps({**rows, **result}))


if __name__ == "__main__":
    main()
