"""rds: RDS+ (Ivison et al. 2025, "Large-Scale Data Selection for Instruction Tuning"), as
hamishivi/automated-instruction-selection's `get_top_influences.py --selection_method max`
selects from `compute_influence_cosinesim.py --pooling weighted_mean` scores.

Each pool sample and each query example (`select.rds.query`, the target task's examples) is
represented by the scorer model's position-weighted mean-pooled final hidden states
(codesift/representations.py, the `rds_embed` stage); a sample's score for a query is their
cosine similarity. Selection is a round-robin over the query examples, in query order: in
round r every query offers its r-th most similar sample (ranking ties in pool order: Python's
stable sort), kept unless already taken (the query then loses its turn, as the script's
de-duplication does); the first `n` kept come back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np

from codesift.config import AT_LEAST_1, Range
from codesift.selection import Pool, register


def round_robin(scores: np.ndarray, n: int) -> np.ndarray:
    """Pool indices in pick order from a (queries x pool) score matrix."""
    order = np.argsort(-scores, axis=1, kind="stable")  # each query's ranking of the pool
    offers = order.T.ravel()  # round by round, each round in query order
    _, first = np.unique(offers, return_index=True)
    return offers[np.sort(first)][:n]


@dataclass
class RdsOptions:
    """RDS+ (Ivison et al. 2025): the scorer's weighted mean-pooled final hidden states, cosine
    to a query set, round-robin over the query examples."""

    query: str = "data/prepared/valid.jsonl"  # query records (prepared JSONL); never selectable
    max_len: Annotated[int, Range(2)] = 2048  # tokens per record (the paper's 2,048)
    batch_tokens: Annotated[int, AT_LEAST_1] = 4096  # rows x widest row per forward pass
    chunk_size: Annotated[int, AT_LEAST_1] = 512  # records per saved chunk (the resume unit)


@register("rds", needs=("reps", "query_reps"), options=RdsOptions)
def rds(pool: Pool, n: int, cfg) -> np.ndarray:
    """The samples most similar to the query examples, each query taking turns."""
    scores = np.asarray(pool.query_reps, dtype=np.float32) @ np.asarray(
        pool.reps, dtype=np.float32).T
    return round_robin(scores, n)
