"""RDS+ representations (Ivison et al. 2025, hamishivi/automated-instruction-selection's
`compute_influence_cosinesim.py --pooling weighted_mean`): a model's final-layer hidden
states over a record's whole training text, mean-pooled with position weights, L2-normalised.

Pooling (after SGPT): position t of a sequence of L tokens has weight (t + 1) / sum_{s<L}(s + 1),
so later tokens, which have seen more of the text, count more. The paper runs batch size 1,
so every position is a real token; we batch sequences sorted by length with right padding and
give padding weight 0, and since attention is causal and no mask is passed (SDPA's plain
causal path, as IFD scoring does) the real tokens never see the padding: the same vectors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from codesift.data.record import scorable, turns
from codesift.io import ArrayChunks
from codesift.packing import pack_rows
from codesift.scoring import batches
from codesift.templates import Template


def record_ids(tok: PreTrainedTokenizerBase, template: Template, record: dict, max_len: int
               ) -> list[int]:
    """The record's whole text as training sees it (template, every turn, end-of-turn
    tokens; a raw-code record its text), tokenised as `templates.encode_spans` does: BOS
    first when the tokenizer has one, cut to `max_len` tokens (the paper: 2,048)."""
    if scorable(record):
        text = "".join(t for t, _ in template.spans(tok, turns(record)))
    else:
        text = record["text"]
    ids = tok(text, add_special_tokens=False)["input_ids"]
    if tok.bos_token_id is not None and not text.startswith(tok.bos_token or "\0"):
        ids = [tok.bos_token_id, *ids]
    return ids[:max_len]


def position_weights(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """(rows, width) weights: (t + 1) / sum(1..L) for t < L, 0 on padding."""
    t = torch.arange(width, dtype=torch.float64)[None, :] + 1
    w = torch.where(t <= lengths[:, None], t, torch.zeros_like(t))
    return w / w.sum(dim=1, keepdim=True)


@torch.no_grad()
def pooled(model: PreTrainedModel, rows: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Weighted mean of the final hidden states (after the final norm: `hidden_states[-1]`)
    of right-padded rows, L2-normalised, float32."""
    hidden = model.get_decoder()(input_ids=rows.to(model.device), use_cache=False
                                 ).last_hidden_state.double().cpu()
    v = (hidden * position_weights(lengths, rows.shape[1])[:, :, None]).sum(dim=1)
    return (v / v.norm(dim=1, keepdim=True)).float()


def representations(model: PreTrainedModel, tok: PreTrainedTokenizerBase,
                    seqs: Sequence[list[int]], batch_tokens: int,
                    on_batch: Callable[[int], object] = lambda n: None) -> np.ndarray:
    """(len(seqs), hidden) float32, in input order; length-sorted batches of at most
    `batch_tokens` (rows x widest row)."""
    out = np.zeros((len(seqs), model.config.hidden_size), dtype=np.float32)
    lengths = [len(s) for s in seqs]
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    for batch in batches(lengths, max(lengths, default=1), batch_tokens):
        members = [b[0] for b in batch]
        rows = pack_rows(seqs, seqs, batch, pad)["input_ids"]
        out[members] = pooled(model, rows, torch.tensor([lengths[i] for i in members])).numpy()
        on_batch(len(members))
    return out


def representations_resumable(model: PreTrainedModel, tok: PreTrainedTokenizerBase,
                              seqs: Sequence[list[int]], batch_tokens: int,
                              store: ArrayChunks, chunk_size: int) -> tuple[np.ndarray, int]:
    """`representations` chunk by chunk, each finished chunk saved in `store`, so a killed
    run starts again from its last finished chunk. Returns the array and how many rows were
    taken from the store."""
    from tqdm.auto import tqdm

    parts, resumed = [], 0
    bar = tqdm(total=len(seqs), desc="rds", unit="sample")
    for k, lo in enumerate(range(0, len(seqs), chunk_size)):
        part = store.get(k)
        if part is None:
            part = representations(model, tok, seqs[lo:lo + chunk_size], batch_tokens)
            store.put(k, part)
        else:
            resumed += len(part)
        parts.append(part)
        bar.update(len(part))
    bar.close()
    width = model.config.hidden_size
    return (np.concatenate(parts) if parts else np.zeros((0, width), np.float32)), resumed
