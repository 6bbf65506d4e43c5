"""Queue a grid of experiments (and with --run, run them and write the comparison).

    python -m codesift.grid configs/grids/default.yaml [--profile configs/ci.yaml] \\
        [--run] [--jobs 1] [--dry-run]

Each experiment is `dvc exp run --queue -n <name> -S ...` from the committed params.yaml plus
its own overrides (the grid's profile and common ones included); the file format is in
codesift/grid/__init__.py's docstring, examples in configs/grids/. --run first runs the
first experiment in the workspace (`dvc exp run`: the stages every experiment shares run once,
even from an empty cache), then queues the others, starts the queue (`dvc queue start -j N`),
waits for them and writes reports/compare.md and compare.html over all of them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m codesift.grid", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("grid", type=Path, help="grid file (configs/grids/*.yaml)")
    p.add_argument("--profile", default=None,
                   help="profile applied to every experiment (replaces the grid's own)")
    p.add_argument("--repo", type=Path, default=Path("."), help="DVC repo (default: .)")
    p.add_argument("--run", action="store_true",
                   help="start the queue, wait for it and write the compare report")
    p.add_argument("--jobs", type=int, default=1,
                   help="queue workers with --run (default: %(default)s); the first "
                        "experiment runs alone before them, in the workspace")
    p.add_argument("--dry-run", action="store_true",
                   help="check the grid and print the dvc commands; queue nothing")
    p.add_argument("--bootstrap", type=int, default=10_000,
                   help="bootstrap resamples of the report (default: %(default)s)")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error("--jobs must be at least 1")
    return args


def report(args: argparse.Namespace, names: list[str], baseline: str | None) -> None:
    from codesift.compare.__main__ import template_path
    from codesift.compare.experiments import read_experiments
    from codesift.compare.page import write_report
    from codesift.compare.results import compare

    c = compare(read_experiments(args.repo, names), baseline, args.bootstrap)
    md, page = write_report(c, args.repo / "reports", template_path(
        argparse.Namespace(html_template=None, repo=args.repo)))
    print(md.read_text(encoding="utf-8"))
    print(f"wrote {md} and {page}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    from codesift.cli import user_errors
    from codesift.grid import check_params, load_grid
    from codesift.grid.queue import committed_params, queue, run_first, run_queue

    args = parse_args(argv)
    with user_errors():
        grid = load_grid(args.grid, args.profile)
        if args.dry_run:
            check_params(grid, committed_params(args.repo), "params.yaml (HEAD)",
                         root=args.repo.resolve())
            for e in grid.experiments:
                print(" ".join(["dvc exp run --queue -n", e.name,
                                *(f"-S {s}" for s in e.set_params())]))
            return
        names = [e.name for e in grid.experiments]
        first = {}
        if args.run:  # the shared upstream stages run once, here (see run_first)
            print(f"running {names[0]} in the workspace first", file=sys.stderr)
            first = {names[0]: run_first(args.repo, grid)}
        set_aside = queue(args.repo, grid, skip=len(first))
        if set_aside:
            print(f"set aside while queueing, then restored: {', '.join(set_aside)} (a "
                  "previous `dvc exp run -S` leaves its values there)", file=sys.stderr)
        print(f"queued {len(names) - len(first)}: {', '.join(names[len(first):])}",
              file=sys.stderr)
        if not args.run:
            return
        try:
            states = {**first, **run_queue(args.repo, names[len(first):], args.jobs)}
        except KeyboardInterrupt:
            print("stopped waiting; the queue runs on (`dvc queue status`); report later with "
                  f"python -m codesift.compare --exp {' '.join(names)}", file=sys.stderr)
            sys.exit(130)
        ok = [n for n in names if states[n] == "success"]
        failed = [n for n in names if states[n] != "success"]
        if failed:
            print(f"failed: {', '.join(failed)} (`dvc queue logs NAME`)", file=sys.stderr)
        if ok:
            arms = {e.arm or e.name for e in grid.experiments if e.name in ok}
            report(args, ok, grid.baseline if grid.baseline in arms else None)
        if failed:
            sys.exit(1)


if __name__ == "__main__":
    main()
