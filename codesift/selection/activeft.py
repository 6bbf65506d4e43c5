"""activeft: parametric distribution-consistent, diversity-aware selection.

ActiveFT (Xie et al. 2023), as used by "Efficient Code LLM Training via
Distribution-Consistent and Diversity-Aware Data Selection". Published loop
(yichen928/ActiveFT, `sample_tools/ActiveFT_CIFAR.py`): m = n_select parameters initialised
from random samples; every iteration, with theta = F.normalize(param) (the parameters are
normalised inside the loss, not projected after the step), c_i = argmax_j f_i . theta_j and

    loss = -mean_i [ f_i.theta_c/t - log( exp(f_i.theta_c/t) + lam * s_c ) ],
    s_c  = sum_j exp( sg(theta_j) . theta_c / t )        (`cent_prod.sum(dim=0)[pos_k]`)

so the diversity gradient flows into theta_c (the column), not into the theta_j; then Adam
(lr 1e-3, no scheduler) for 300 iterations, t = 0.07, lam = 1. Finally each parameter, in
parameter order, takes its most similar sample not yet taken (the published greedy).
Initial samples come from `torch.randperm` with a generator seeded by `seed` (the script
uses Python's global `random.sample`).

`_activeft_reference.py` holds that loop, full batch, through autograd; tests and
bench/bench_select.py compare this module's picks with it.

`activeft` computes the same gradient by hand, grouped by assigned parameter. With
b_i = lam s_c / (exp(f_i.theta_c/t) + lam s_c) and mu_c = sum_j softmax_j(theta_c.theta_j/t)
theta_j, the gradient with respect to the normalised theta_c is

    -1/(N t) * ( sum_{i: c_i=c} b_i f_i  -  (sum_{i: c_i=c} b_i) * mu_c ),

projected onto the tangent plane and divided by ||param_c|| (the Jacobian of F.normalize).
What it saves, and the only places it can differ from the reference:
- assignment: every `refresh` iterations a refresh lists each sample's `candidates` nearest
  parameters; every iteration c_i is the argmax among those, scored exactly in fp32 by a
  sampled sparse product (N x r dot products, no N x m matrix);
- s_c and mu_c: the refresh lists each parameter's `neighbours` nearest parameters (itself
  included), whose terms are recomputed exactly every iteration; the remaining terms, each
  exp((cos - 1)/t) << 1, are summed at the refresh and frozen until the next one;
- the refresh's N x m and m x m products run in bf16 (`screen`; AMX makes them ~5x faster
  than fp32 here) in row chunks: they only choose the lists and the frozen far sums, the
  kept pairs are rescored in fp32.
Everything else (Adam on the raw parameters, normalisation inside the loss, the final
greedy assignment) is the published code. No N x m or m x m matrix is held whole.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np

from codesift.config import AT_LEAST_1, NON_NEGATIVE, POSITIVE
from codesift.selection import Pool, register

CHUNK = 2048  # rows per block: CHUNK x m floats at most (80 MB at m = 10,000)
ASSIGN_CHUNK = 512  # parameters per block in the final step: 512 x N bf16 (100 MB at 100K)
BF16_EPS = 0.01  # > |bf16 - fp32| for a dot product of unit vectors (inputs and output rounded)


def _init(x: np.ndarray, m: int, seed: int):
    """Features as a tensor and the seeded initial parameters (random distinct samples)."""
    import torch

    f = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    ids = torch.randperm(len(f), generator=torch.Generator().manual_seed(seed))[:m]
    return f, torch.nn.Parameter(f[ids].clone())


def _shortlists(f, theta, top: int):
    """Per parameter: its `top` most similar samples by a bf16 product, sorted by their exact
    fp32 similarity, and the lowest bf16 similarity shortlisted (-inf if all are)."""
    import torch

    f_low, out_ids, out_sims, floors = f.to(torch.bfloat16), [], [], []
    for lo in range(0, len(theta), ASSIGN_CHUNK):
        rows = theta[lo:lo + ASSIGN_CHUNK]
        low, ids = torch.topk(rows.to(torch.bfloat16) @ f_low.T, top, dim=1)
        ids = ids.sort(dim=1).values
        exact = _sampled(_pattern(ids, len(f)), rows, f)
        order = torch.argsort(exact, dim=1, descending=True, stable=True)
        out_ids.append(ids.gather(1, order))
        out_sims.append(exact.gather(1, order))
        floors.append(low[:, -1].float() if top < len(f) else torch.full((len(rows),), -np.inf))
    return torch.cat(out_ids).tolist(), torch.cat(out_sims).tolist(), torch.cat(floors).tolist()


def _walk(ids: list[int], sims: list[float], floor: float, taken: set[int]) -> int | None:
    """First untaken sample in exact order, or None once the order is no longer certain."""
    for i, v in zip(ids, sims, strict=True):
        if v <= floor + BF16_EPS:
            return None
        if i not in taken:
            return i
    return None


def assign(f, theta, top: int = 64) -> np.ndarray:
    """Published final step: parameter by parameter, the most similar sample not yet taken.

    The published code sorts a full m x N matrix. We walk each parameter's shortlist in
    exact order; a shortlisted similarity above floor + BF16_EPS is certainly above every
    sample left off the list, so the walk is exact; past that, the full row is sorted."""
    import torch

    ids, sims, floors = _shortlists(f, theta, min(top, len(f)))
    taken: set[int] = set()
    out = []
    for c in range(len(theta)):
        pick = _walk(ids[c], sims[c], floors[c], taken)
        if pick is None:
            full = torch.argsort(f @ theta[c], descending=True, stable=True).tolist()
            pick = next(i for i in full if i not in taken)
        taken.add(pick)
        out.append(pick)
    return np.asarray(out, dtype=np.int64)


@dataclass
class _Cache:
    """What a refresh leaves for the cheap iterations that follow it."""

    cand: object  # (N x m) CSR pattern: each sample's `candidates` nearest parameters
    near: object  # (m x m) CSR pattern: each parameter's `neighbours` nearest (itself too)
    far_s: object  # (m,) sum over the other parameters of exp((cos - 1) / t)
    far_w: object  # (m, d) the same weights times theta_j


def _pattern(cols, n_cols: int, values=None):
    """CSR matrix with the given columns per row (sorted), values zero unless given."""
    import torch

    rows, k = cols.shape
    crow = torch.arange(0, rows * k + 1, k)
    vals = torch.zeros(rows * k) if values is None else values.reshape(-1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, cols.reshape(-1), vals, size=(rows, n_cols),
                                       check_invariants=False)


def _sampled(pattern, a, b):
    """(a @ b.T) at the pattern's positions only, as (rows, k): a sampled product."""
    import torch

    out = torch.sparse.sampled_addmm(pattern, a, b.T, beta=0.0)
    return out.values().view(pattern.shape[0], -1)


def _refresh(f_low, theta, s: ActiveftOptions) -> _Cache:
    """Nearest-parameter lists and the frozen far terms, screened at `screen` precision
    (bf16 keeps the N x m product cheap; the kept pairs are rescored exactly later)."""
    import torch

    m = len(theta)
    r, q = min(s.candidates, m), min(s.neighbours, m)
    th_low = theta.to(f_low.dtype)
    cand = torch.cat([torch.topk(f_low[lo:lo + CHUNK] @ th_low.T, r, dim=1).indices
                      for lo in range(0, len(f_low), CHUNK)])
    near, far_s, far_w = [], [], []
    for lo in range(0, m, CHUNK):
        sim = (th_low[lo:lo + CHUNK] @ th_low.T).float()
        idx = torch.topk(sim, q, dim=1).indices
        w = torch.exp((sim - 1) / s.temperature).scatter_(1, idx, 0.0)
        near.append(idx)
        far_s.append(w.sum(dim=1))
        far_w.append((w.to(th_low.dtype) @ th_low).float())
    return _Cache(_pattern(cand.sort(dim=1).values, m), _pattern(torch.cat(near).sort(dim=1)
                  .values, m), torch.cat(far_s), torch.cat(far_w))


def _assignments(f, theta, cand):
    """Each sample's best parameter among its candidates: (cosine, parameter id).
    Ties go to the lowest id, as torch.max does in the reference."""
    scores = _sampled(cand, f, theta)
    best, arg = scores.max(dim=1)
    cols = cand.col_indices().view(len(f), -1)
    return best, cols.gather(1, arg[:, None])[:, 0]


def _diversity(theta, cache: _Cache, t: float):
    """Per parameter c: s_c * exp(-1/t), and mu_c = softmax-weighted mean of the theta_j."""
    import torch

    w = torch.exp((_sampled(cache.near, theta, theta) - 1) / t)
    cols = cache.near.col_indices().view(len(theta), -1)
    s_c = cache.far_s + w.sum(dim=1)
    mu = (cache.far_w + torch.sparse.mm(_pattern(cols, len(theta), w), theta)) / s_c[:, None]
    return s_c, mu


def _gradient(f, theta, norm, score, c, s_scaled, mu, s: ActiveftOptions):
    """d loss / d param, grouped by assigned parameter (see the module docstring)."""
    import torch

    t, m = s.temperature, len(theta)
    lam_s = s.balance * s_scaled[c]
    b = lam_s / (torch.exp((score - 1) / t) + lam_s)  # both sides scaled by exp(-1/t)
    members = torch.sparse_coo_tensor(torch.stack([c, torch.arange(len(f))]), b, (m, len(f)),
                                      check_invariants=False)
    pull = torch.sparse.mm(members, f)  # sum_{i: c_i = c} b_i f_i
    weight = torch.zeros(m).index_add_(0, c, b)
    g = -(pull - weight[:, None] * mu) / (len(f) * t)
    g -= (g * theta).sum(dim=1, keepdim=True) * theta
    return g / norm


def fast_params(x: np.ndarray, m: int, seed: int, s: ActiveftOptions | None = None):
    """The published loop with candidate lists and periodic refreshes: features and final
    parameters, comparable with `reference_params`."""
    import torch

    s = s or ActiveftOptions()
    f, param = _init(x, m, seed)
    f_low = f.to(getattr(torch, s.screen))
    opt = torch.optim.Adam([param], lr=s.lr)
    with torch.no_grad():
        for it in range(s.iters):
            norm = param.norm(dim=1, keepdim=True).clamp_min(1e-12)
            theta = param / norm
            if it % max(1, s.refresh) == 0:
                cache = _refresh(f_low, theta, s)
            score, c = _assignments(f, theta, cache.cand)
            s_scaled, mu = _diversity(theta, cache, s.temperature)
            param.grad = _gradient(f, theta, norm, score, c, s_scaled, mu, s)
            opt.step()
        return f, param / param.norm(dim=1, keepdim=True).clamp_min(1e-12)


def activeft_fast(x: np.ndarray, m: int, seed: int, s: ActiveftOptions | None = None) -> np.ndarray:
    """Fast selection; picks in parameter order, like `activeft_reference`."""
    return assign(*fast_params(x, m, seed, s))


@dataclass
class ActiveftOptions:
    """The paper's loss and optimiser (t = 0.07, lambda = 1, Adam 1e-3, 300 iterations), and
    the fast loop's knobs (bench/bench_select.py measured these)."""

    iters: Annotated[int, NON_NEGATIVE] = 300
    lr: Annotated[float, POSITIVE] = 1e-3
    temperature: Annotated[float, POSITIVE] = 0.07
    balance: Annotated[float, NON_NEGATIVE] = 1.0  # lambda on the diversity term
    refresh: Annotated[int, AT_LEAST_1] = 20  # exact nearest-parameter refresh every R iters
    candidates: Annotated[int, AT_LEAST_1] = 8  # nearest parameters tracked per sample
    neighbours: Annotated[int, AT_LEAST_1] = 32  # nearest parameters tracked per parameter
    screen: Literal["bfloat16", "float32"] = "bfloat16"  # precision of the refresh's screens


@register("activeft", needs=("embeddings",), options=ActiveftOptions)
def activeft(pool: Pool, n: int, cfg) -> np.ndarray:
    """ActiveFT on the embeddings, seeded by select.seed."""
    return activeft_fast(pool.embeddings, min(n, len(pool)), cfg.seed,
                         cfg.options("activeft", ActiveftOptions))
