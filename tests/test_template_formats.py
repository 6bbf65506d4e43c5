"""Prompt formats: which special token ends a reply.

Tokenizers are built locally: a byte-level BPE (`train_tokenizer`) given a family's special
tokens, with PAD falling back to EOS as `load_tokenizer` does. No model.
"""

from __future__ import annotations

import copy

import pytest

from codesift.templates import load_template
from tests.conftest import ROOT

TEMPLATES = ROOT / "templates"

U1, A1 = "Add a and b.", "return a + b"
U2, A2 = "And a - b?", "return a - b"
MULTI = [("user", U1), ("assistant", A1), ("user", U2), ("assistant", A2)]


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
