"""DEITA's complexity and quality scores, from its scorer LMs (hkust-nlp/deita-*-scorer).

Each score is the expectation of the scorer's rating: the softmax over the logits of the
tokens "1".."6" at the position after the prompt, times 1..6 (DEITA's `infer_score`, which
reads those logits as the first generated token's scores). The prompts are DEITA's Llama
scorer templates, tokenised with the tokenizer's special tokens as its `tokenizer.encode`.
Here the prompts are batched by length (right-padded: causal attention keeps the padding
unseen), which gives the same logits as one at a time.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from codesift import CodesiftError
from codesift.scoring import batches, plain_head

COMPLEXITY = ("You are a helpful assistant. Please identify the complexity score of the "
              "following user query. \n##Query: {instruction}  \n##Complexity: ")
QUALITY = ("You are a helpful assistant. Please identify the quality score of the Response "
           "corresponding to the Question. \n #Question#:\n{instruction}\n#Response#:\n"
           "{output} \n##Quality: ")
RATINGS = ("1", "2", "3", "4", "5", "6")


def complexity_prompt(instruction: str) -> str:
    return COMPLEXITY.replace("{instruction}", instruction)


def quality_prompt(instruction: str, response: str) -> str:
    return QUALITY.replace("{instruction}", instruction).replace("{output}", response)


def rating_ids(tok: PreTrainedTokenizerBase) -> list[int]:
    """The token ids of "1".."6" (29896, 29906, ... in the LLaMA vocabulary DEITA uses)."""
    ids = [tok.convert_tokens_to_ids(r) for r in RATINGS]
    if any(i is None or i == tok.unk_token_id for i in ids):
        raise CodesiftError(f"DEITA scorer: its tokenizer has no single tokens for 1-6 ({ids})")
    return ids


@torch.no_grad()
def expected_ratings(model: PreTrainedModel, tok: PreTrainedTokenizerBase, prompts: list[str],
                     max_len: int, batch_tokens: int, desc: str = "deita") -> list[float]:
    """DEITA's expected 1-6 rating of each prompt; a prompt longer than `max_len` tokens keeps
    its tail (the question to answer is at the end)."""
    seqs = [tok(p)["input_ids"][-max_len:] for p in prompts]
    ratings = torch.tensor(rating_ids(tok), device=model.device)
    scale = torch.arange(1, 7, dtype=torch.float64)
    out = [0.0] * len(seqs)
    plain = plain_head(model)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    for batch in tqdm(batches([len(s) for s in seqs], max_len, batch_tokens), desc=desc):
        rows = [b[0] for b in batch]
        width = max(len(seqs[i]) for i in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        for r, i in enumerate(rows):
            ids[r, :len(seqs[i])] = torch.tensor(seqs[i])
        last = torch.tensor([len(seqs[i]) - 1 for i in rows])
        logits = _last_logits(model, ids.to(model.device), last.to(model.device), plain)
        probs = torch.softmax(logits[:, ratings].double().cpu(), dim=-1)
        for i, p in zip(rows, probs @ scale, strict=True):
            out[i] = float(p)
    return out


def _last_logits(model: PreTrainedModel, ids: torch.Tensor, last: torch.Tensor,
                 plain: bool) -> torch.Tensor:
    rows = torch.arange(len(ids), device=ids.device)
    if not plain:
        return model(input_ids=ids, use_cache=False).logits[rows, last]
    hidden = model.get_decoder()(input_ids=ids, use_cache=False).last_hidden_state
    return model.get_output_embeddings()(hidden[rows, last])
