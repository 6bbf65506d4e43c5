"""Prompt formats per model family (templates/<name>.jinja) and `chat`.

Each family's template must render what the family's official instruct chat template renders
(the expected strings below are written out from it), and each reply must end with a special
token of the family's tokenizer, so that the supervised tokens are exactly the replies and their
end-of-turn token. The tokenizers are built locally: a byte-level BPE (`train_tokenizer`) given
the family's special tokens, with PAD falling back to EOS as `load_tokenizer` does. No model.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest

from codesift import CodesiftError
from codesift.templates import encode, encode_spans, load_template, template_names
from tests.conftest import ROOT

TEMPLATES = ROOT / "templates"

U1, A1 = "Add a and b.", "return a + b"
U2, A2 = "And a - b?", "return a - b"
SYS = "Be brief."
SINGLE = [("user", U1), ("assistant", A1)]
MULTI = [("user", U1), ("assistant", A1), ("user", U2), ("assistant", A2)]
MULTI_SYS = [("system", SYS), *MULTI]

DEEPSEEK_SYSTEM = (
    "You are an AI programming assistant, utilizing the Deepseek Coder model, developed by "
    "Deepseek Company, and you only answer questions related to computer science. For "
    "politically sensitive questions, security and privacy issues, and other non-computer "
    "science questions, you will refuse to answer\n")
STARCODER2_PREAMBLE = (
    "You are an exceptionally intelligent coding assistant that consistently delivers accurate "
    "and reliable responses to user instructions.\n\n")
QWEN_SYSTEM = ("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. "
               "You are a helpful assistant.<|im_end|>\n")


@dataclass(frozen=True)
class Family:
    special: dict[str, str]  # bos/eos/pad as the family's tokenizer_config sets them
    extra: tuple[str, ...]  # further special tokens the format uses
    end: str  # the end-of-turn token
    answer: str  # a reply as supervised: "{}" is the reply
    single: str  # SINGLE rendered
    multi_sys: str  # MULTI_SYS rendered
    prompt: str  # the generation prompt for U1
    prompt_sys: str  # the same with template.system = SYS
    trims: bool = False  # the format strips the reply's surrounding whitespace


FAMILIES = {
    "deepseek-coder-instruct": Family(
        special={"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<|EOT|>",
                 "pad_token": "<｜end▁of▁sentence｜>"},
        extra=(),
        end="<|EOT|>",
        answer="{}\n<|EOT|>",
        single=("<｜begin▁of▁sentence｜>" + DEEPSEEK_SYSTEM
                + "### Instruction:\nAdd a and b.\n### Response:\nreturn a + b\n<|EOT|>\n"),
        multi_sys=("<｜begin▁of▁sentence｜>Be brief.### Instruction:\nAdd a and b.\n"
                   "### Response:\nreturn a + b\n<|EOT|>\n### Instruction:\nAnd a - b?\n"
                   "### Response:\nreturn a - b\n<|EOT|>\n"),
        prompt=("<｜begin▁of▁sentence｜>" + DEEPSEEK_SYSTEM
                + "### Instruction:\nAdd a and b.\n### Response:\n"),
        prompt_sys=("<｜begin▁of▁sentence｜>Be brief.### Instruction:\nAdd a and b.\n"
                    "### Response:\n"),
    ),
    "codellama-instruct": Family(
        special={"bos_token": "<s>", "eos_token": "</s>"},
        extra=(),
        end="</s>",
        answer=" {} </s>",
        single="<s>[INST] Add a and b. [/INST] return a + b </s>",
        multi_sys=("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nAdd a and b. [/INST] return a + b "
                   "</s><s>[INST] And a - b? [/INST] return a - b </s>"),
        prompt="<s>[INST] Add a and b. [/INST]",
        prompt_sys="<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nAdd a and b. [/INST]",
        trims=True,
    ),
    "starcoder2-instruct": Family(
        special={"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"},
        extra=(),
        end="<|endoftext|>",
        answer="{}<|endoftext|>",
        single=("<|endoftext|>" + STARCODER2_PREAMBLE + "### Instruction\nAdd a and b.\n\n"
                "### Response\nreturn a + b<|endoftext|>\n\n### Response\n"),
        multi_sys=("<|endoftext|>Be brief.\n\n### Instruction\nAdd a and b.\n\n### Response\n"
                   "return a + b<|endoftext|>\n\n### Instruction\nAnd a - b?\n\n### Response\n"
                   "return a - b<|endoftext|>\n\n### Response\n"),
        prompt=("<|endoftext|>" + STARCODER2_PREAMBLE
                + "### Instruction\nAdd a and b.\n\n### Response\n"),
        prompt_sys="<|endoftext|>Be brief.\n\n### Instruction\nAdd a and b.\n\n### Response\n",
    ),
    "qwen2.5-coder": Family(
        special={"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
        extra=("<|im_start|>",),
        end="<|im_end|>",
        answer="{}<|im_end|>",
        single=(QWEN_SYSTEM + "<|im_start|>user\nAdd a and b.<|im_end|>\n"
                "<|im_start|>assistant\nreturn a + b<|im_end|>\n"),
        multi_sys=("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nAdd a and b."
                   "<|im_end|>\n<|im_start|>assistant\nreturn a + b<|im_end|>\n"
                   "<|im_start|>user\nAnd a - b?<|im_end|>\n"
                   "<|im_start|>assistant\nreturn a - b<|im_end|>\n"),
        prompt=QWEN_SYSTEM + "<|im_start|>user\nAdd a and b.<|im_end|>\n<|im_start|>assistant\n",
        prompt_sys=("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nAdd a and b."
                    "<|im_end|>\n<|im_start|>assistant\n"),
    ),
    "llama3": Family(
        special={"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
        extra=("<|start_header_id|>", "<|end_header_id|>", "<|end_of_text|>"),
        end="<|eot_id|>",
        answer="{}<|eot_id|>",
        single=("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nAdd a and b."
                "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nreturn a + b"
                "<|eot_id|>"),
        multi_sys=("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief."
                   "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAdd a and b."
                   "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nreturn a + b"
                   "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnd a - b?"
                   "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nreturn a - b"
                   "<|eot_id|>"),
        prompt=("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nAdd a and b."
                "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"),
        prompt_sys=("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief."
                    "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAdd a and b."
                    "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"),
        trims=True,
    ),
}
NAMES = list(FAMILIES)


@pytest.fixture(scope="module")
def base_tok(sample_records):
    from codesift.models import train_tokenizer

    return train_tokenizer([r["instruction"] + "\n" + r["response"] for r in sample_records[:300]],
                           vocab_size=400)


def _family_tok(base, special: dict[str, str], extra: tuple[str, ...] = ()):
    tok = copy.deepcopy(base)
    tok.add_special_tokens({**special, "additional_special_tokens": list(extra)})
    for key in ("bos_token", "pad_token"):
        if key not in special:
            setattr(tok, key, None)
    if tok.pad_token_id is None:  # as codesift.models.load_tokenizer does
        tok.pad_token = tok.eos_token
    return tok


@pytest.fixture(scope="module")
def toks(base_tok):
    return {name: _family_tok(base_tok, f.special, f.extra) for name, f in FAMILIES.items()}


def _supervised_runs(tok, enc) -> list[str]:
    runs, run = [], []
    for tid, label in zip(enc.input_ids, enc.labels(), strict=True):
        if label != -100:
            assert label == tid
            run.append(tid)
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    return [tok.decode(r, clean_up_tokenization_spaces=False) for r in runs]


def test_every_family_is_a_template_name():
    names = template_names(TEMPLATES)
    assert set(NAMES) | {"alpaca", "chat"} <= set(names)


@pytest.mark.parametrize("name", NAMES)
def test_rendering_is_the_official_text(name, toks):
    fam, tok = FAMILIES[name], toks[name]
    t = load_template(TEMPLATES, name)
    assert t.render(tok, t.messages(SINGLE)) == fam.single
    assert t.render(tok, t.messages(MULTI_SYS)) == fam.multi_sys
    assert t.prompt(tok, U1) == fam.prompt
    # template.system gives what a record's own system turn gives
    ts = load_template(TEMPLATES, name, system=SYS)
    assert ts.prompt(tok, U1) == fam.prompt_sys
    assert ts.render(tok, ts.messages(MULTI)) == fam.multi_sys


@pytest.mark.parametrize("name", NAMES)
def test_end_of_turn_is_one_special_token(name, toks):
    fam, tok = FAMILIES[name], toks[name]
    special = {t.content for t in tok.added_tokens_decoder.values() if t.special}
    assert fam.end in special
    assert fam.end == tok.eos_token  # as in the family's instruct tokenizer
    end_id = tok.convert_tokens_to_ids(fam.end)
    assert tok(fam.end, add_special_tokens=False)["input_ids"] == [end_id]


@pytest.mark.parametrize("turns", [SINGLE, MULTI, MULTI_SYS], ids=["single", "multi", "multi_sys"])
@pytest.mark.parametrize("name", NAMES)
def test_supervised_tokens_are_the_replies_and_their_end(name, turns, toks):
    fam, tok = FAMILIES[name], toks[name]
    t = load_template(TEMPLATES, name)
    spans = t.spans(tok, turns)
    replies = [c for r, c in turns if r == "assistant"]
    assert [s for s, sup in spans if sup] == [fam.answer.format(a) for a in replies]
    # the spans are the official text up to the last reply's end-of-turn token
    full = t.render(tok, t.messages(turns))
    text = "".join(s for s, _ in spans)
    assert full.startswith(text) and text.endswith(fam.end)

    enc = encode_spans(tok, spans, max_len=512)
    assert not enc.truncated and enc.error is None
    assert _supervised_runs(tok, enc) == [fam.answer.format(a) for a in replies]
    assert enc.input_ids[-1] == tok.convert_tokens_to_ids(fam.end)
    if tok.bos_token is not None:  # one BOS: the text's own
        assert enc.input_ids[0] == tok.bos_token_id and enc.input_ids[1] != tok.bos_token_id
    assert tok.decode(enc.input_ids, clean_up_tokenization_spaces=False) == text


@pytest.mark.parametrize("system", ["", SYS])
@pytest.mark.parametrize("name", NAMES)
def test_each_generation_prompt_is_a_prefix_of_the_conversation(name, system, toks):
    tok = toks[name]
    t = load_template(TEMPLATES, name, system=system)
    messages = t.messages(MULTI)
    full = t.render(tok, messages)
    for i, m in enumerate(messages):
        if m["role"] == "assistant":
            before = t.render(tok, messages[:i], generation_prompt=True)
            assert full.startswith(before + FAMILIES[name].answer.format(m["content"]))


@pytest.mark.parametrize("name", NAMES)
def test_ifd_pair_is_the_generation_prompt_and_the_reply_with_its_end(name, toks):
    fam, tok = FAMILIES[name], toks[name]
    t = load_template(TEMPLATES, name)
    prompt, answer = t.pair(tok, U1, A1)
    assert prompt == t.prompt(tok, U1) == fam.prompt
    assert answer == fam.answer.format(A1) and answer.endswith(fam.end)
    enc = encode(tok, prompt, answer, max_len=512)
    assert enc.answer_ids[-1] == tok.convert_tokens_to_ids(fam.end)
    assert tok.decode(enc.answer_ids, clean_up_tokenization_spaces=False) == answer
    assert tok.decode(enc.input_ids[:enc.n_prompt], clean_up_tokenization_spaces=False) == prompt


@pytest.mark.parametrize("name", [n for n, f in FAMILIES.items() if f.trims])
def test_trimming_formats_supervise_the_trimmed_reply(name, toks):
    fam, tok = FAMILIES[name], toks[name]
    t = load_template(TEMPLATES, name)
    _, answer = t.pair(tok, U1, "\n  " + A1 + "  \n")
    assert answer == fam.answer.format(A1)


def test_codeact_single_turn_prompts_are_ours_without_bos_and_system(toks):
    # Kyle-Lyu/data-efficient-finetuning utils/dataset.py PROMPT_TEMPLATE
    codeact = {
        "codellama-instruct": "[INST] {text} [/INST]",
        "qwen2.5-coder": "<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n",
        "llama3": ("<|start_header_id|>user<|end_header_id|>\n\n{text}<|eot_id|>"
                   "<|start_header_id|>assistant<|end_header_id|>\n\n"),
    }
    for name, fmt in codeact.items():
        prompt = load_template(TEMPLATES, name).prompt(toks[name], U1)
        assert prompt.endswith(fmt.format(text=U1)), name
    for name in ("codellama-instruct", "llama3"):
        prompt = load_template(TEMPLATES, name).prompt(toks[name], U1)
        assert prompt == toks[name].bos_token + codeact[name].format(text=U1)


@pytest.mark.parametrize("name", NAMES)
def test_chat_is_the_tokenizers_own_template(name, toks):
    tok = copy.deepcopy(toks[name])
    tok.chat_template = (TEMPLATES / f"{name}.jinja").read_text(encoding="utf-8")
    for system in ("", SYS):
        chat = load_template(TEMPLATES, "chat", system=system)
        file = load_template(TEMPLATES, name, system=system)
        for turns in (SINGLE, MULTI):
            assert chat.spans(tok, turns) == file.spans(tok, turns)
        assert chat.pair(tok, U1, A1) == file.pair(tok, U1, A1)
    chat = load_template(TEMPLATES, "chat", system=SYS)
    rendered = chat.render(tok, chat.messages(MULTI))
    assert chat.messages(MULTI)[0] == {"role": "system", "content": SYS}
    assert -1 < rendered.index(SYS) < rendered.index(U1)


def test_chat_without_a_chat_template_is_an_error(toks):
    tok = copy.deepcopy(toks["llama3"])
    tok.chat_template = None
    chat = load_template(TEMPLATES, "chat")
    with pytest.raises(CodesiftError, match="template.name: chat, but the tokenizer has no chat"):
        chat.prompt(tok, U1)
    with pytest.raises(CodesiftError, match="no chat template"):
        chat.spans(tok, SINGLE)


@pytest.mark.parametrize("special", [{"bos_token": "<s>", "eos_token": "</s>"},
                                     {"bos_token": "</s>", "eos_token": "</s>"}],
                         ids=["pad=eos", "bos=pad=eos"])
@pytest.mark.parametrize("name", ["alpaca", "codeact", "efficode"])
def test_eos_ends_the_reply_when_it_is_also_the_pad_or_bos(name, special, base_tok):
    # load_tokenizer sets PAD = EOS when a tokenizer has none, and StarCoder2's BOS is its EOS:
    # EOS must still end the reply (efficode renders "\n" after it, which is not the reply's)
    tok = _family_tok(base_tok, special)
    assert tok.pad_token == tok.eos_token == "</s>"
    t = load_template(TEMPLATES, name)
    assert [s for s, sup in t.spans(tok, MULTI) if sup] == [A1 + "</s>", A2 + "</s>"]
    assert t.pair(tok, U1, A1)[1] == A1 + "</s>"


def test_eos_ends_the_reply_when_it_is_also_the_bos(toks):
    # StarCoder2: BOS = EOS = PAD = <|endoftext|>; the reply stops at it, not at the next turn
    tok = toks["starcoder2-instruct"]
    assert tok.bos_token == tok.eos_token == tok.pad_token
    spans = load_template(TEMPLATES, "starcoder2-instruct").spans(tok, MULTI)
    assert [s for s, sup in spans if sup] == [A1 + "<|endoftext|>", A2 + "<|endoftext|>"]
    between = "\n\n### Instruction\nAnd a - b?\n\n### Response\n"
    assert [s for s, sup in spans if not sup][1] == between
