"""less: LESS (Xia et al. 2024), as princeton-nlp/LESS's `data_selection/matching.py` ranks
the pool: each sample's score is the checkpoint-weighted cosine between its Adam-aware LoRA
gradient features and each query example's gradient features, averaged over the query
examples (one target task: matching.py's mean over its validation examples); the top `n`
are kept (ties in pool order).

The features come from the `less_grads` stage (codesift/less.py): each checkpoint's unit
features scaled by the square root of its weight and concatenated, so one product gives the
weighted sum of cosines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import numpy as np

from codesift.config import AT_LEAST_1, POSITIVE, PROB, UNIT, Range
from codesift.selection import Pool, register, top_k


@dataclass
class LessOptions:
    """LESS (princeton-nlp/LESS) at CPU scale. The paper's values: LoRA r 128, alpha 512 on
    q/k/v/o, projection 8,192; the defaults here are smaller so a CPU run fits (README)."""

    query: str = "data/prepared/valid.jsonl"  # query records (prepared JSONL); never selectable
    warmup_share: Annotated[float, UNIT] = 0.05  # share of the pool the warm-up LoRA trains on
    epochs: Annotated[int, AT_LEAST_1] = 4  # warm-up epochs = checkpoints (the paper: 4)
    lr: Annotated[float, POSITIVE] = 2e-5  # warm-up peak lr (the paper: 2e-5, linear, 3% warm-up)
    grad_accum: Annotated[int, AT_LEAST_1] = 32  # warm-up samples per step (paper: 1 x 32)
    lora_r: Annotated[int, AT_LEAST_1] = 8
    lora_alpha: Annotated[float, POSITIVE] = 32
    lora_dropout: Annotated[float, PROB] = 0.1
    target_modules: list[str] = field(default_factory=lambda: [
        "q_proj", "k_proj", "v_proj", "o_proj"])
    proj_dim: Annotated[int, AT_LEAST_1] = 1024  # random projection's width (the paper: 8,192)
    max_len: Annotated[int, Range(2)] = 2048  # tokens per record (the paper's 2,048)
    chunk_size: Annotated[int, AT_LEAST_1] = 256  # records per saved chunk (the resume unit)
    seed: int = 0  # the warm-up sample and order, the LoRA init and the projection


@register("less", needs=("grads", "query_grads"), options=LessOptions)
def less(pool: Pool, n: int, cfg) -> np.ndarray:
    """The samples whose gradients point where the query examples' do."""
    score = (np.asarray(pool.grads, dtype=np.float32) @ np.asarray(
        pool.query_grads, dtype=np.float32).T).mean(axis=1)
    return top_k(np.arange(len(pool)), score, n)
