"""The one place that turns a record into model input.

A prompt format is a Jinja chat template (a file `<name>.jinja` in the templates folder, or
the tokenizer's own with `chat`), rendered by transformers' `apply_chat_template`. IFD
scoring, training and generation all go through `Template`, so the scores describe exactly
the text the model is trained on and prompted with.

A conversation becomes text spans, each supervised or not. An assistant turn's span is
what rendering the turn adds after the generation prompt, up to and including the first
special token after the reply (EOS or the format's end-of-turn token); text after that
(a newline, the next turn's header) is prompt. The spans are tokenised jointly, with offsets,
so BPE merges are those the model sees; a token straddling a boundary belongs to the span
it starts in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transformers import PreTrainedTokenizerBase

from codesift import CodesiftError
from codesift.data import ASSISTANT_ROLES, USER_ROLES

Spans = list[tuple[str, bool]]  # (text, supervised)


@dataclass(frozen=True)
class Template:
    name: str
    source: str | None  # Jinja text; None: the tokenizer's own chat template
    system: str = ""  # system prompt put before the first user turn (if non-empty)

    def render(self, tok: PreTrainedTokenizerBase, messages: list[dict],
               generation_prompt: bool = False) -> str:
        source = self.source if self.source is not None else tok.chat_template
        if source is None:
            raise CodesiftError("template.name: chat, but the tokenizer has no chat template")
        import jinja2

        try:
            return tok.apply_chat_template(messages, chat_template=source, tokenize=False,
                                           add_generation_prompt=generation_prompt)
        except jinja2.TemplateError as e:  # a template file the user wrote: name it
            line = f"line {e.lineno}: " if getattr(e, "lineno", None) else ""
            raise CodesiftError(f"template {self.name}: {line}{e.message or e}")

    def messages(self, turns: list[tuple[str, str]]) -> list[dict]:
        """[(role, content)] with the system prompt first (a record's own system turn wins)."""
        out = [{"role": _role(r), "content": c} for r, c in turns]
        if self.system and not (out and out[0]["role"] == "system"):
            out.insert(0, {"role": "system", "content": self.system})
        return out

    def prompt(self, tok: PreTrainedTokenizerBase, instruction: str) -> str:
        """The generation prompt for one user turn."""
        return self.render(tok, self.messages([("user", instruction)]), generation_prompt=True)

    def pair(self, tok: PreTrainedTokenizerBase, instruction: str, response: str
             ) -> tuple[str, str]:
        """(prompt, supervised answer text with its end-of-turn token): what IFD scores.
        An empty field gives an empty answer, which `encode` reports as an error."""
        if not instruction.strip() or not response.strip():
            return instruction, ""
        spans = self.spans(tok, [("user", instruction), ("assistant", response)])
        return "".join(t for t, s in spans if not s), "".join(t for t, s in spans if s)

    def spans(self, tok: PreTrainedTokenizerBase, turns: list[tuple[str, str]]) -> Spans:
        """The conversation as spans; every assistant turn supervised, the rest not."""
        messages = self.messages(turns)
        out: Spans = []
        done = ""  # the text rendered so far
        for i, m in enumerate(messages):
            if m["role"] != "assistant":
                continue
            prompt = self.render(tok, messages[:i], generation_prompt=True)
            full = self.render(tok, messages[:i + 1])
            if not prompt.startswith(done) or not full.startswith(prompt):
                raise CodesiftError(f"template {self.name}: rendering a turn changes the text "
                                    "before it, so prompt and reply cannot be told apart")
            reply = _reply(full[len(prompt):], m["content"], tok)
            out += [(prompt[len(done):], False), (reply, True)]
            done = prompt + reply
        return [(t, s) for t, s in out if t]


def _role(role: str) -> str:
    r = role.lower()
    return "user" if r in USER_ROLES else "assistant" if r in ASSISTANT_ROLES else r


def _reply(added: str, content: str, tok: PreTrainedTokenizerBase) -> str:
    """What a turn adds, cut after the first special token that follows the reply."""
    at = added.find(content.strip())
    start = at + len(content.strip()) if at >= 0 else 0
    ends = [(added.find(t, start), t) for t in _special_tokens(tok)]
    ends = [(i, t) for i, t in ends if i >= 0]
    if not ends:
        return added
    i, t = min(ends, key=lambda e: (e[0], -len(e[1])))
    return added[:i + len(t)]


def _special_tokens(tok: PreTrainedTokenizerBase) -> list[str]:
    """Special tokens that can end a reply: all but PAD and BOS, except that EOS always counts,
    even when it is also the PAD (load_tokenizer's fallback) or the BOS (StarCoder2)."""
    found = set(tok.all_special_tokens)
    found.update(t.content for t in tok.added_tokens_decoder.values() if t.special)
    skip = {tok.pad_token, tok.bos_token} - {tok.eos_token}
    return [t for t in found if t and t not in skip]


def load_template(folder: str | Path, name: str, system: str = "") -> Template:
    """`name`: a file `<name>.jinja` in `folder`, or `chat` (the tokenizer's template)."""
    if name == "chat":
        return Template(name, None, system)
    path = Path(folder) / f"{name}.jinja"
    if not path.is_file():
        known = sorted(p.stem for p in Path(folder).glob("*.jinja")) + ["chat"]
        raise CodesiftError(f"template.name: {name!r} has no file {path}; known: "
                            f"{', '.join(known)}")
    return Template(name, path.read_text(encoding="utf-8"), system)


def template_names(folder: str | Path) -> list[str]:
    return sorted(p.stem for p in Path(folder).glob("*.jinja")) + ["chat"]


@dataclass
class Encoded:
    """Token ids and labels of a conversation; `n_prompt` ids come before the first
    supervised one (for a single turn: the prompt, and the rest is the answer)."""

    input_ids: list[int]
    n_prompt: int
    label_ids: list[int] | None = None
    truncated: bool = False
    error: str | None = None  # why it cannot be used, for people
    reason: str | None = None  # the same as a short code, for counting: empty | no_answer |
    #                            prompt_too_long

    @property
    def answer_ids(self) -> list[int]:
        return self.input_ids[self.n_prompt:]

    def labels(self) -> list[int]:
        """Training labels: unsupervised tokens masked with -100."""
        if self.label_ids is not None:
            return list(self.label_ids)
        return [-100] * self.n_prompt + self.answer_ids


def encode_spans(tok: PreTrainedTokenizerBase, spans: Spans, max_len: int,
                 add_bos: bool = True) -> Encoded:
    """Tokenise spans jointly; a token is supervised if its first character is.

    BOS is prepended when the tokenizer has one and the text does not already start with it.
    Too long: the tail is cut (`truncated`).
    """
    text = "".join(t for t, _ in spans)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(enc["input_ids"]), enc["offset_mapping"]
    bounds, at = [], 0
    for t, supervised in spans:
        bounds.append((at, at + len(t), supervised))
        at += len(t)
    labels = [tid if any(a <= s < b and sup for a, b, sup in bounds) else -100
              for tid, (s, _) in zip(ids, offsets, strict=True)]
    bos = tok.bos_token_id if add_bos and not text.startswith(tok.bos_token or "\0") else None
    if bos is not None:
        ids, labels = [bos, *ids], [-100, *labels]
    first = next((i for i, v in enumerate(labels) if v != -100), None)
    if first is None:
        return Encoded([], 0, error="the answer produced no tokens", reason="no_answer")
    if first + 1 > max_len:
        return Encoded([], 0, error=f"prompt alone has {first} tokens, max_len is {max_len}",
                       reason="prompt_too_long")
    return Encoded(ids[:max_len], first, labels[:max_len], truncated=len(ids) > max_len)


def encode(tok: PreTrainedTokenizerBase, prompt: str, answer: str, max_len: int) -> Encoded:
    """One prompt and its supervised answer (with its end-of-turn token, as `Template.pair`
    gives it): what IFD scores."""
    if not prompt.strip() or not answer.strip():
        return Encoded([], 0, error="empty instruction or response", reason="empty")
    return encode_spans(tok, [(prompt, False), (answer, True)], max_len)


def encode_turns(tok: PreTrainedTokenizerBase, template: Template, turns: list[tuple[str, str]],
                 max_len: int) -> Encoded:
    """A whole conversation (what training sees); every assistant turn supervised."""
    if any(not content.strip() for _, content in turns):
        return Encoded([], 0, error="empty instruction or response", reason="empty")
    return encode_spans(tok, template.spans(tok, turns), max_len)
