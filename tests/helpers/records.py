"""Hand-made stage inputs: prepared records, IFD scores and embeddings, as files."""

from __future__ import annotations

import json


def jsonl(*rows: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def pool_files(n: int = 3, failed: bool = False, nan_row: int | None = None
               ) -> dict[str, str | bytes]:
    """Prepared records, IFD scores and embeddings for the select/merge stages (no model)."""
    import io

    import numpy as np

    recs = [{"id": f"r{i}", "instruction": f"q{i}", "response": "a", "source": "x",
             "meta": {"quality": "good"}} for i in range(n)]
    score = {"ce_cond": 1.0, "ce_uncond": 2.0, "ifd": 0.5, "loss_ratio": 0.5, "ppl_cond": 2.7,
             "n_answer_tokens": 3, "truncated": False, "error": None, "align": 0.2}
    if failed:
        score = {**{k: None for k in score}, "n_answer_tokens": 0, "truncated": False,
                 "error": "prompt alone has 9 tokens, max_len is 8"}
    buf = io.BytesIO()
    emb = np.eye(n, 4, dtype=np.float32)
    if nan_row is not None:
        emb[nan_row] = np.nan
    np.save(buf, emb)
    scores = jsonl(*({"id": r["id"], **score} for r in recs))
    return {"p.jsonl": jsonl(*recs), "s.jsonl": scores, "d.jsonl": "",
            "emb/embeddings.npy": buf.getvalue(),
            "emb/ids.json": json.dumps([r["id"] for r in recs]),
            "rds/ids.json": "[]",
            "shards/0/scores.jsonl": scores,
            "shards/0/stats.json": json.dumps({"n_scored": 0, "n_failed": n, "n_truncated": 0,
                                               "tokens": 0}),
            "sm/0.json": json.dumps({"seconds": 1.0, "n_resumed": 0})}
