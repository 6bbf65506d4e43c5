"""The published ActiveFT loop, full batch, through autograd: the reference that tests and
bench/bench_select.py compare `activeft`'s picks with (not a registered selector)."""

from __future__ import annotations

import numpy as np

from codesift.selection.activeft import ActiveftOptions, _init, assign


def _published_loss(features, param, temperature: float, balance: float):
    """`SampleModel.get_loss` of the published code, line for line."""
    import torch
    import torch.nn.functional as F

    centroids = F.normalize(param, dim=1)
    prod = torch.matmul(features, centroids.transpose(1, 0)) / temperature
    prod_exp_pos, pos_k = torch.max(torch.exp(prod), dim=1)
    cent_prod = torch.matmul(centroids.detach(), centroids.transpose(1, 0)) / temperature
    cent_prob_exp_sum = torch.sum(torch.exp(cent_prod), dim=0)
    j = torch.log(prod_exp_pos) - torch.log(prod_exp_pos + cent_prob_exp_sum[pos_k] * balance)
    return -torch.mean(j)


def reference_params(x: np.ndarray, m: int, seed: int, s: ActiveftOptions | None = None):
    """The published full-batch loop (N x m per iteration): features and final parameters."""
    import torch
    import torch.nn.functional as F

    s = s or ActiveftOptions()
    f, param = _init(x, m, seed)
    opt = torch.optim.Adam([param], lr=s.lr)
    for _ in range(s.iters):
        loss = _published_loss(f, param, s.temperature, s.balance)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return f, F.normalize(param.detach(), dim=1)


def activeft_reference(x: np.ndarray, m: int, seed: int, s: ActiveftOptions | None = None,
                       ) -> np.ndarray:
    """Faithful published selection (tests and benchmark only); picks in parameter order."""
    return assign(*reference_params(x, m, seed, s))
