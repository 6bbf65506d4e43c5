"""The one place that turns a record into model input.

IFD scoring, training and generation all call `prompt_text` and `encode`, so the
scores describe exactly the text the model is trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from codesift import CodesiftError


def prompt_text(template: str, instruction: str) -> str:
    """Fill the prompt template; only `{instruction}` is substituted (code has braces)."""
    if "{instruction}" not in template:
        raise CodesiftError("template.prompt must contain the placeholder {instruction}")
    return template.replace("{instruction}", instruction)


@dataclass
class Encoded:
    """Token ids of prompt+answer(+EOS); the first `n_prompt` ids are the prompt."""

    input_ids: list[int]
    n_prompt: int
    truncated: bool = False
    error: str | None = None

    @property
    def answer_ids(self) -> list[int]:
        return self.input_ids[self.n_prompt:]

    def labels(self) -> list[int]:
        """Training labels: prompt tokens masked with -100."""
        return [-100] * self.n_prompt + self.answer_ids


def encode(tok: PreTrainedTokenizerBase, prompt: str, answer: str, max_len: int,
           add_eos: bool = True, add_bos: bool = True) -> Encoded:
    """Tokenise prompt+answer jointly; answer tokens are those starting at or after the prompt.

    Joint tokenisation keeps the BPE merges the model sees in training; a token that
    straddles the boundary belongs to the prompt. BOS is prepended if the tokenizer
    has one, EOS appended as an id. Too long: the answer's tail is cut.
    """
    if not prompt.strip() or not answer.strip():
        return Encoded([], 0, error="empty instruction or response")
    enc = tok(prompt + answer, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(enc["input_ids"]), enc["offset_mapping"]
    n_prompt = next((i for i, (start, _) in enumerate(offsets) if start >= len(prompt)), len(ids))
    bos = [tok.bos_token_id] if add_bos and tok.bos_token_id is not None else []
    ids = bos + ids + ([tok.eos_token_id] if add_eos else [])
    n_prompt += len(bos)
    if n_prompt >= len(ids):
        return Encoded([], 0, error="the answer produced no tokens")
    if n_prompt + 1 > max_len:
        return Encoded([], 0, error=f"prompt alone has {n_prompt} tokens, max_len is {max_len}")
    truncated = len(ids) > max_len
    return Encoded(ids[:max_len], n_prompt, truncated=truncated)


USER_ROLES, ASSISTANT_ROLES = ("human", "user"), ("bot", "assistant")


def chat_pairs(rounds: list[dict], template: str) -> list[tuple[str, str]]:
    """MFTCoder `chat_rounds` as (prompt, answer) pairs, one per assistant turn. Each prompt
    is the template around the user turn (a system turn prefixes the first one)."""
    pairs, system, user = [], "", None
    for turn in rounds:
        role, content = turn["role"].lower(), turn["content"]
        if role == "system":
            system = content + "\n\n"
        elif role in USER_ROLES:
            user = content
        elif role in ASSISTANT_ROLES and user is not None:
            pairs.append((("" if pairs else system) + prompt_text(template, user), content))
            user = None
    return pairs


def encode_chat(tok: PreTrainedTokenizerBase, pairs: list[tuple[str, str]],
                max_len: int) -> tuple[list[int], list[int], bool]:
    """ids and labels of a whole conversation; only assistant turns are supervised. Each
    turn pair is tokenised jointly (as `encode` does), turns are joined by the EOS id."""
    ids: list[int] = []
    labels: list[int] = []
    for i, (prompt, answer) in enumerate(pairs):
        enc = encode(tok, prompt, answer, 1 << 30, add_bos=i == 0)
        if enc.error:
            continue
        ids += enc.input_ids
        labels += enc.labels()
    return ids[:max_len], labels[:max_len], len(ids) > max_len
