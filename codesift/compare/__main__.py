"""Compare experiments: pass@1 with 95% bootstrap intervals and paired tests against a baseline.

    python -m codesift.compare                       # the workspace and HEAD's experiments
    python -m codesift.compare --exp cdas-0.4 random-0.4 full --baseline full
    python -m codesift.compare --samples humaneval_plus=DIR/humaneval/*-sanitized.jsonl \\
        mbpp_plus=DIR/mbpp/*-sanitized.jsonl --dataset-path humaneval_plus=HE.jsonl.gz \\
        mbpp_plus=MBPP.jsonl.gz

Experiments are read from DVC (params.yaml, metrics/*.json, results/eval/<benchmark>.jsonl at
each revision, from the DVC cache); `--samples` instead evaluates evalplus sample files with the
project's evaluator, one experiment per file name. Writes <out>/compare.md and compare.html
(offline, from the plots template of `dvc plots`: forest plots against the baseline, the tasks
that flipped with both runs' code, each subset's label and cluster mix, sortable tables) and
prints the markdown; what the page cannot show (no shared benchmark, a baseline without
verdicts) is printed as one `note:` line each.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from codesift import CodesiftError
from codesift.evaluation.settings import JudgeSettings, checked

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    d = JudgeSettings()
    p = argparse.ArgumentParser(prog="python -m codesift.compare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", type=Path, default=Path("."), help="DVC repo (default: .)")
    p.add_argument("--exp", nargs="+", default=[], metavar="NAME",
                   help="experiments, branches, tags, commits or 'workspace' (default: the "
                        "workspace and HEAD's experiments)")
    p.add_argument("--all-branches", action="store_true",
                   help="every branch tip and its experiments (dvc exp show -a)")
    p.add_argument("--baseline", default=None,
                   help="experiment the others are tested against, a name or unique prefix "
                        "(default: the most training data, n_selected; with --samples, the "
                        "first file)")
    p.add_argument("--bootstrap", type=int, default=10_000, metavar="N",
                   help="bootstrap resamples (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: %(default)s)")
    p.add_argument("--out", type=Path, default=None,
                   help="report folder (default: <repo>/reports)")
    p.add_argument("--html-template", type=Path, default=None,
                   help="page with a {plot_divs} placeholder (default: the repo's, else this "
                        "checkout's configs/plots/template.html)")
    s = p.add_argument_group("sample files (instead of DVC experiments)")
    s.add_argument("--samples", nargs="+", default=[], metavar="[BENCHMARK=]PATH",
                   help="evalplus sample .jsonl files, folders or globs")
    s.add_argument("--benchmark", default=None, help="benchmark of unprefixed --samples")
    s.add_argument("--dataset-path", nargs="+", default=[], metavar="[KEY=]PATH",
                   help="evalplus dataset files (keys: humaneval_plus, mbpp_plus; default: "
                        "$HUMANEVAL_OVERRIDE_PATH / $MBPP_OVERRIDE_PATH)")
    s.add_argument("--sanitize", action=argparse.BooleanOptionalAction, default=False,
                   help="evalplus's sanitizer on raw samples first (default: %(default)s)")
    s.add_argument("--limit", type=int, default=0, help="first N tasks only (0: all)")
    s.add_argument("--workers", type=int, default=d.workers,
                   help="parallel sandboxes (default: %(default)s)")
    s.add_argument("--cache-dir", default=d.cache_dir,
                   help="evalplus ground-truth cache (default: %(default)s)")
    args = p.parse_args(argv)
    if args.bootstrap < 1:
        p.error("--bootstrap must be at least 1")
    return args


def sample_settings(args: argparse.Namespace) -> tuple[JudgeSettings, dict[str, str]]:
    """The judge's settings and the evalplus files (--dataset-path, else evalplus's own
    variables), from the flags."""
    from codesift.evaluation.evalplus_data import dataset_env

    datasets = {k: os.environ.get(env, "") for k, env in dataset_env().items()}
    for spec in args.dataset_path:
        key, sep, path = spec.partition("=")
        for k in ([key] if sep else list(datasets)):
            if k not in datasets:
                raise CodesiftError(f"--dataset-path {spec}: key is one of {list(datasets)}")
            datasets[k] = path if sep else spec
    if args.limit < 0:
        raise CodesiftError(f"--limit: {args.limit} is below 0")
    settings = JudgeSettings(sanitize=args.sanitize, workers=args.workers,
                             cache_dir=args.cache_dir)
    return checked(settings, {"workers": "--workers"}), datasets


def experiments(args: argparse.Namespace) -> list:
    if args.samples:
        from codesift.compare.samples import evaluate_files, sample_files
        from codesift.evaluation.benchmarks import benchmark_names

        files = sample_files(args.samples, args.benchmark, benchmark_names())
        return evaluate_files(files, *sample_settings(args), limit=args.limit)
    from codesift.compare.experiments import read_experiments

    return read_experiments(args.repo, args.exp, args.all_branches)


def template_path(args: argparse.Namespace) -> Path:
    rel = Path("configs/plots/template.html")
    for path in (args.html_template, args.repo / rel, PACKAGE_ROOT / rel):
        if path is not None and path.is_file():
            return path
    raise CodesiftError("no HTML template: give --html-template (a page with {plot_divs})")


def check_out(folder: Path) -> None:
    """The report folder can be written (checked before any evaluation starts)."""
    from codesift.io import check_writable

    if folder.exists() and not folder.is_dir():
        raise CodesiftError(f"--out {folder}: a file is there; the report needs a folder")
    check_writable(folder / "compare.md")


def main(argv: list[str] | None = None) -> None:
    from codesift.cli import user_errors
    from codesift.compare.page import problems, write_report
    from codesift.compare.results import compare

    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with user_errors():
        out = args.out or args.repo / "reports"
        template = template_path(args)
        check_out(out)
        c = compare(experiments(args), args.baseline, args.bootstrap, args.seed)
        md, page = write_report(c, out, template)
    print(md.read_text(encoding="utf-8"))
    for line in problems(c):  # what the page says in words where a chart would be
        print(f"note: {line}", file=sys.stderr)
    print(f"wrote {md} and {page}", file=sys.stderr)


if __name__ == "__main__":
    main()
