"""A prepared record's kind decides every question the pipeline asks of it."""

import pytest

from codesift import CodesiftError
from codesift.data.record import dedup_key, embed_text, kind, pair, scorable, turns

INSTR = {"id": "a", "instruction": "Add two numbers.", "response": "def add(a, b): ..."}
CHAT = {"id": "b", "instruction": "And subtract?", "response": "def sub(a, b): ...",
        "chat_rounds": [{"role": "human", "content": "Add?"}, {"role": "bot", "content": "+"},
                        {"role": "human", "content": "And subtract?"},
                        {"role": "bot", "content": "def sub(a, b): ..."}]}
TEXT = {"id": "c", "text": "def f():\n    return 1\n"}


def test_kinds_and_what_each_answers():
    assert [kind(r) for r in (INSTR, CHAT, TEXT)] == ["instruction", "chat", "text"]
    assert [scorable(r) for r in (INSTR, CHAT, TEXT)] == [True, True, False]
    assert pair(CHAT) == ("And subtract?", "def sub(a, b): ...")  # the last exchange
    assert turns(INSTR) == [("user", "Add two numbers."), ("assistant", "def add(a, b): ...")]
    assert turns(CHAT)[0] == ("human", "Add?") and len(turns(CHAT)) == 4
    assert embed_text(TEXT, "instruction") == TEXT["text"]
    assert embed_text(INSTR, "instruction_response") == "Add two numbers.\n\ndef add(a, b): ..."
    with pytest.raises(CodesiftError, match="record c: raw code has no instruction"):
        pair(TEXT)
    with pytest.raises(CodesiftError, match="record d: neither"):
        kind({"id": "d", "prompt": "x"})


def test_dedup_keys_the_whole_conversation():
    other_history = {**CHAT, "chat_rounds": [*CHAT["chat_rounds"][:1],
                                             {"role": "bot", "content": "-"},
                                             *CHAT["chat_rounds"][2:]]}
    assert pair(other_history) == pair(CHAT) and dedup_key(other_history) != dedup_key(CHAT)
    assert dedup_key({**INSTR, "response": INSTR["response"] + "  "}) == dedup_key(INSTR)
    assert dedup_key(TEXT) == ("def f():\n    return 1",)
