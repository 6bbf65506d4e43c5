"""LESS (Xia et al. 2024, princeton-nlp/LESS) gradient features, at CPU scale.

The published recipe, step by step (files of princeton-nlp/LESS):
1. warm-up: LoRA on a random share of the pool (`warmup_lora_train.sh`: 5%, 4 epochs, AdamW,
   lr 2e-5 linear with 3% warm-up, batch 1 x 32 accumulation), a checkpoint after each epoch
   with its optimizer state and the epoch's average learning rate;
2. per checkpoint, per sample (batch size 1), the LoRA gradient of the sample's loss: for a
   pool sample the Adam update direction it would cause from that checkpoint's optimizer state
   (`collect_grad_reps.obtain_gradients_with_adam`: (b1 m + (1 - b1) g) / sqrt(b2 v +
   (1 - b2) g^2 + eps), no bias correction), for a query example the plain gradient
   (`--gradient_type sgd`);
3. a seeded Rademacher random projection to `proj_dim` (trak's projector), then L2 norm;
4. `matching.py`: score = sum over checkpoints of (epoch lr / sum of them) x cosine, averaged
   over the target task's query examples; the top scores are selected.

Step 4's weighted sum of cosines is a dot product of concatenations: each checkpoint's unit
features scaled by sqrt(weight), side by side, so the features are stored that way and the
selector needs one product.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8  # obtain_gradients_with_adam's constants


def adam_direction(g: torch.Tensor, m: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The Adam-aware gradient of LESS: the update a step on g would make from state (m, v)."""
    return (BETA1 * m + (1 - BETA1) * g) / torch.sqrt(BETA2 * v + (1 - BETA2) * g * g + EPS)


class Projector:
    """x -> x R, R a (dim_in x dim_out) matrix of independent +-1/sqrt(dim_out) entries
    (Rademacher, as trak's), so E[<xR, yR>] = <x, y> (Johnson-Lindenstrauss). R is generated
    block by block from (seed, block) and never held whole: at LoRA sizes it would not fit."""

    def __init__(self, dim_in: int, dim_out: int, seed: int, max_floats: int = 1 << 24) -> None:
        self.dim_in, self.dim_out, self.seed = dim_in, dim_out, seed
        self.rows = max(1, max_floats // dim_out)  # a block's rows: max_floats floats at most

    def block(self, b: int) -> torch.Tensor:
        rows = min(self.rows, self.dim_in - b * self.rows)
        signs = np.random.default_rng([self.seed, b]).integers(0, 2, (rows, self.dim_out),
                                                               dtype=np.int8)
        return torch.from_numpy(signs).float().mul_(2).sub_(1).div_(math.sqrt(self.dim_out))

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """(n, dim_in) -> (n, dim_out), float32."""
        x = x.float()
        out = torch.zeros(len(x), self.dim_out)
        for b in range(math.ceil(self.dim_in / self.rows)):
            out += x[:, b * self.rows:(b + 1) * self.rows] @ self.block(b)
        return out


@dataclass
class Checkpoint:
    """One warm-up epoch's end: LoRA weights, Adam moments (flat, parameter order), mean lr."""

    weights: dict[str, torch.Tensor]
    exp_avg: torch.Tensor
    exp_avg_sq: torch.Tensor
    lr: float


def trainable(model: torch.nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def sample_loss(model: torch.nn.Module, ids: list[int], labels: list[int]) -> torch.Tensor:
    """Mean NLL of the supervised tokens of one sample (batch size 1, as LESS)."""
    t = torch.tensor([ids], device=model.device)
    return model(input_ids=t, labels=torch.tensor([labels], device=model.device),
                 use_cache=False).loss


def warmup(model: torch.nn.Module, samples: Sequence[tuple[list[int], list[int]]], epochs: int,
           lr: float, grad_accum: int, seed: int) -> list[Checkpoint]:
    """LoRA training of `model` (a peft model) on `samples`, a checkpoint after each epoch.
    AdamW (betas 0.9/0.999, eps 1e-8, no weight decay), linear decay after 3% warm-up."""
    from transformers import get_linear_schedule_with_warmup

    params = [p for _, p in trainable(model)]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    steps = epochs * math.ceil(len(samples) / grad_accum)
    sched = get_linear_schedule_with_warmup(opt, math.ceil(0.03 * steps), steps)
    rng = np.random.default_rng(seed)
    out = []
    model.train()
    for _ in range(epochs):
        order, lrs = rng.permutation(len(samples)), []
        for lo in range(0, len(order), grad_accum):
            for i in order[lo:lo + grad_accum]:
                (sample_loss(model, *samples[i]) / grad_accum).backward()
            lrs.append(sched.get_last_lr()[0])
            opt.step()
            sched.step()
            opt.zero_grad()
        state = [opt.state[p] for p in params]
        out.append(Checkpoint({n: p.detach().clone() for n, p in trainable(model)},
                              torch.cat([s["exp_avg"].flatten() for s in state]),
                              torch.cat([s["exp_avg_sq"].flatten() for s in state]),
                              float(np.mean(lrs))))
    model.eval()
    return out


def load_checkpoint(model: torch.nn.Module, ckpt: Checkpoint) -> None:
    with torch.no_grad():
        for n, p in trainable(model):
            p.copy_(ckpt.weights[n])


def features(model: torch.nn.Module, samples: Sequence[tuple[list[int], list[int]]],
             projector: Projector, adam: Checkpoint | None, batch: int = 32) -> np.ndarray:
    """Unit-norm projected gradient features of `samples` at the model's current weights:
    Adam-aware from `adam`'s moments, or plain gradients when it is None. (n, proj_dim)."""
    params = [p for _, p in trainable(model)]
    out = []
    for lo in range(0, len(samples), batch):
        grads = []
        for ids, labels in samples[lo:lo + batch]:
            g = torch.autograd.grad(sample_loss(model, ids, labels), params)
            g = torch.cat([x.flatten() for x in g]).float().cpu()
            grads.append(adam_direction(g, adam.exp_avg, adam.exp_avg_sq) if adam else g)
        proj = projector.project(torch.stack(grads))
        out.append(torch.nn.functional.normalize(proj, dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, projector.dim_out), np.float32)


def checkpoint_scales(ckpts: Sequence[Checkpoint]) -> list[float]:
    """sqrt of matching.py's checkpoint weights (each epoch's mean lr over their sum)."""
    total = sum(c.lr for c in ckpts)
    return [math.sqrt(c.lr / total) for c in ckpts]
