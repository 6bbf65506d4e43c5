"""Fill-in-the-middle examples from raw code (the HF cookbook's single-GPU recipe).

As the cookbook's `permute`: with probability `rate` a document's tokens are split at two
random points into prefix, middle and suffix and rearranged, as SPM with probability
`spm_rate` (<pre><suf> suffix <mid> prefix middle, the FIM paper's variant 2) and else as PSM
(<pre> prefix <suf> suffix <mid> middle); EOS ends every document and every token is
supervised. Unlike the cookbook, which concatenates documents and cuts the stream into
fixed-length blocks, each document (or each max_len piece of a long one) is its own sequence,
packed by codesift's packer with positions restarting, so documents never see each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from transformers import PreTrainedTokenizerBase

from codesift import CodesiftError

SENTINELS = 3  # <prefix> <suffix> <middle>, the tokens a permuted piece gains


@dataclass(frozen=True)
class Sentinels:
    prefix: int
    middle: int
    suffix: int


def sentinels(tok: PreTrainedTokenizerBase, names: list[str]) -> tuple[Sentinels, list[int]]:
    """The ids of the prefix, middle and suffix tokens `names`, added to the tokenizer as
    special tokens when it lacks them; also the ids added (their embeddings must be made)."""
    if len(names) != 3:
        raise CodesiftError(f"train.fim_tokens: three tokens (prefix, middle, suffix), got "
                            f"{names}")
    missing = [n for n in names if n not in tok.get_vocab()]
    if missing:
        tok.add_special_tokens({"additional_special_tokens": missing},
                               replace_extra_special_tokens=False)
    ids = tok.convert_tokens_to_ids(names)
    return Sentinels(*ids), tok.convert_tokens_to_ids(missing) if missing else []


def permute(ids: list[int], rng: np.random.Generator, rate: float, spm_rate: float,
            s: Sentinels) -> list[int]:
    """One piece of a document, as the model is to see it (unchanged with prob. 1 - rate)."""
    if rng.random() >= rate:
        return list(ids)
    lo, hi = sorted(rng.integers(0, len(ids) + 1, size=2).tolist())
    prefix, middle, suffix = ids[:lo], ids[lo:hi], ids[hi:]
    if rng.random() < spm_rate:
        return [s.prefix, s.suffix, *suffix, s.middle, *prefix, *middle]
    return [s.prefix, *prefix, s.suffix, *suffix, s.middle, *middle]


def fim_examples(texts: list[str], tok: PreTrainedTokenizerBase, max_len: int, rate: float,
                 spm_rate: float, seed: int, s: Sentinels) -> list[dict]:
    """Training examples (every token supervised) from documents; a document longer than
    `max_len` is cut into pieces, each permuted on its own. Seeded: same inputs, same bytes."""
    room = max_len - SENTINELS - 1  # the sentinels and EOS
    if room < 2:
        raise CodesiftError(f"train.max_seq_len {max_len} leaves no room for FIM pieces")
    rng = np.random.default_rng(seed)
    out = []
    for ids in tok(texts, add_special_tokens=False)["input_ids"]:
        for lo in range(0, len(ids), room):
            seq = permute(ids[lo:lo + room], rng, rate, spm_rate, s) + [tok.eos_token_id]
            out.append({"input_ids": seq, "labels": list(seq)})
    return out
