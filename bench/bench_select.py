"""Benchmark every selector on synthetic clustered embeddings: wall seconds and peak RSS.

Each method runs in a fresh spawned child (one benchmark command), so peak RSS is per method
and includes the child's interpreter, libraries and its copy of the embeddings. Progress goes
to stderr; the last stdout line is one JSON object:
{"<method>": {"seconds": s, "peak_rss_mb": m}, ..., "activeft_overlap_vs_reference": f}

    .venv/bin/python bench/bench_select.py                 # the full run (100,000 x 768)
    .venv/bin/python bench/bench_select.py --n 5000 --dim 64 --select 500 --overlap-n 2000
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo
THREADS = "2"
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = THREADS  # before numpy loads; inherited by the spawned children

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402

import numpy as np  # noqa: E402

METHODS = ["cdas", "ifd", "random", "kcenter", "ifd_diverse", "deita", "dq", "activeft"]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def synthetic(n: int, dim: int, seed: int = 0, clusters: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalised Gaussian blobs of uneven sizes (within-cluster cosine about 0.5), and
    IFD values uniform in (0.3, 1.2)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    labels = rng.choice(clusters, size=n, p=rng.dirichlet(np.full(clusters, 2.0)))
    x = centres[labels] + rng.standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, rng.uniform(0.3, 1.2, size=n)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_method(method: str, data: str, n_select: int, fields: dict) -> dict:
    """In a fresh child: load the pool, time one selection, report peak RSS."""
    import torch

    from codesift.check import full_build
    from codesift.selection import REGISTRY, Pool, select

    torch.set_num_threads(int(THREADS))
    REGISTRY.names()  # library imports are not part of the timing
    cfg = full_build({"select": {**fields, "method": method}}, "--set").select
    arrays = np.load(data)
    n = len(arrays["ifd"])
    pool = Pool(embeddings=arrays["x"], ifd=arrays["ifd"], ppl=np.full(n, np.nan),
                deita=arrays["deita"])
    start = time.perf_counter()
    picked = select(pool, n_select, cfg)
    return {"seconds": round(time.perf_counter() - start, 2),
            "peak_rss_mb": round(_peak_rss_mb(), 1), "n_picked": len(picked)}


def run_overlap(n: int, dim: int, m: int, iters: int) -> dict:
    """In a fresh child: fast activeft vs the faithful full-batch loop, same seed. Also how
    close the final parameters are, and how many reference picks are just the initial
    samples (those agree trivially)."""
    import torch

    from codesift.selection._activeft_reference import reference_params
    from codesift.selection.activeft import ActiveftOptions, assign, fast_params

    torch.set_num_threads(int(THREADS))
    x, _ = synthetic(n, dim, seed=1)
    s = ActiveftOptions(iters=iters)
    start = time.perf_counter()
    f, ref_theta = reference_params(x, m, 0, s)
    ref = assign(f, ref_theta)
    mid = time.perf_counter()
    _, fast_theta = fast_params(x, m, 0, s)
    fast = assign(f, fast_theta)
    cos = (ref_theta * fast_theta).sum(dim=1)
    init = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:m].numpy()
    return {"overlap": len(np.intersect1d(ref, fast)) / m,
            "reference_seconds": round(mid - start, 2),
            "fast_seconds": round(time.perf_counter() - mid, 2),
            "param_cosine_mean": round(float(cos.mean()), 6),
            "param_cosine_min": round(float(cos.min()), 6),
            "reference_picks_equal_to_init": float(np.mean(ref == init))}


def _child(fn, *args):
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx, max_tasks_per_child=1) as ex:
        return ex.submit(fn, *args).result()


def _check(methods: list[str], fields: dict) -> None:
    """Unknown methods and bad --set values stop the bench before its pool is made."""
    from codesift import CodesiftError
    from codesift.check import full_build

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise CodesiftError(f"--methods: {unknown} not among {METHODS}")
    for method in methods:
        full_build({"select": {**fields, "method": method}}, "--set")


def _fields(pairs: list[str]) -> dict:
    """KEY=VALUE overrides of the select section (`cdas.n_init=1`), as a nested mapping."""
    import yaml

    from codesift import CodesiftError

    out: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CodesiftError(f"--set {pair}: expected FIELD=VALUE, e.g. cdas.n_init=1")
        *parents, name = key.split(".")
        node = out
        for parent in parents:
            node = node.setdefault(parent, {})
        node[name] = yaml.safe_load(value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--select", type=int, default=10_000)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a select knob, e.g. --set cdas.n_init=1 (repeatable)")
    ap.add_argument("--overlap-n", type=int, default=10_000)
    ap.add_argument("--overlap-dim", type=int, default=384)
    ap.add_argument("--overlap-select", type=int, default=1_000)
    ap.add_argument("--overlap-iters", type=int, default=300)
    args = ap.parse_args()
    fields = _fields(args.set)
    _check(args.methods.split(","), fields)

    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = f"{tmp}/pool.npz"
        x, ifd = synthetic(args.n, args.dim)
        deita = np.random.default_rng(1).uniform(1, 36, size=args.n)
        np.savez(data, x=x, ifd=ifd, deita=deita)
        del x, ifd
        log(f"pool {args.n} x {args.dim}, selecting {args.select}, overrides {fields}")
        for method in args.methods.split(","):
            res = _child(run_method, method, data, args.select, fields)
            log(f"{method}: {res}; load average {os.getloadavg()[0]:.1f}")
            out[method] = {"seconds": res["seconds"], "peak_rss_mb": res["peak_rss_mb"]}
    if args.overlap_select > 0:
        log(f"activeft overlap at {args.overlap_n} x {args.overlap_dim}, m={args.overlap_select}")
        res = _child(run_overlap, args.overlap_n, args.overlap_dim, args.overlap_select,
                     args.overlap_iters)
        log(f"overlap: {res}")
        out["activeft_overlap_vs_reference"] = res["overlap"]
    print(json.dumps(out))


if __name__ == "__main__":
    from codesift.cli import user_errors

    with user_errors():
        main()
