"""The filter chain on hand-made records: each filter removes what it should and nothing else,
and the chain reports what each one removed, by label."""

from __future__ import annotations

import numpy as np
import pytest

from codesift import CodesiftError
from codesift.config import SelectConfig
from codesift.selection import Pool
from codesift.selection.filters import FILTERS, apply_filters
from codesift.selection.filters.names import asked_names

GOOD = {"instruction": "Write a Python function `add(a, b)` that adds two numbers.",
        "response": "def add(a, b):\n    return a + b\n"}
TRUNCATED = {"instruction": "Write a Python function `sub(a, b)`.", "response": "def sub(a, b):"}
MISMATCHED = {"instruction": "Write a Python function `mul(a, b)` to multiply.",
              "response": "def items(self):\n    return list(self.data)\n"}
TERSE = {"instruction": "Write the function `getcontext`.",
         "response": "def getcontext():\n    return _ctx\n"}
MARKDOWN = {"instruction": "Implement `Stack` with push and pop.",
            "response": "Here it is:\n```python\nclass Stack:\n    def push(self, x):\n"
                        "        self.items.append(x)\n```\nDone."}
OTHER_LANGUAGE = {"instruction": "Write `main()` in Rust.",
                  "response": "```rust\nfn main() { println!(\"hi\") }\n```"}
RAW_CODE = {"text": "def broken(:\n"}
CHAT = {"instruction": "Now write `neg(x)`.", "response": "def neg(x):\n    return -x\n",
        "chat_rounds": [{"role": "user", "content": "Write `pos(x)`."},
                        {"role": "assistant", "content": "def pos(x):\n    return x\n"},
                        {"role": "user", "content": "Now write `neg(x)`."},
                        {"role": "assistant", "content": "def neg(x):\n    return -x\n"}]}


def run(name: str, records: list[dict], pool: Pool | None = None, **knobs) -> list[bool]:
    pool = pool or Pool(None, np.full(len(records), 0.5), np.ones(len(records)))
    cfg = SelectConfig(**knobs)
    return FILTERS.get(name).obj(records, pool, cfg).tolist()


def test_filters_are_found_by_discovery():
    assert {"ifd_max", "parses", "names", "alignment"} <= set(FILTERS.names())


def test_parses_drops_truncated_code_and_judges_only_python():
    records = [GOOD, TRUNCATED, MARKDOWN, OTHER_LANGUAGE, RAW_CODE, CHAT]
    assert run("parses", records) == [True, False, True, True, True, True]


def test_names_drops_an_answer_to_another_question():
    records = [GOOD, TRUNCATED, MISMATCHED, TERSE, MARKDOWN, OTHER_LANGUAGE, RAW_CODE, CHAT]
    # the truncated answer still visibly defines sub(); a Rust answer is not judged
    assert run("names", records) == [True, True, False, True, True, True, True, True]


def test_names_checks_every_turn_of_a_conversation():
    wrong = {**CHAT, "chat_rounds": [*CHAT["chat_rounds"][:1],
                                     {"role": "assistant", "content": "def other(x):\n    x\n"},
                                     *CHAT["chat_rounds"][2:]]}
    assert run("names", [CHAT, wrong]) == [True, False]


def test_asked_names_prefers_signatures_over_other_backticked_words():
    assert asked_names("Write `set(self, value)`. It is a method of the `Spinbox` class.") \
        == {"set"}
    assert asked_names("Write the function `getcontext`.") == {"getcontext"}
    stub = ("Complete the following Python function. It is a method of the `LZMAFile` class."
            "\n\n```python\ndef readline(self, size=-1):\n    \"\"\"Read a line.\"\"\"\n```")
    assert asked_names(stub) == {"readline"}  # the stub to complete, not the class it is in
    assert asked_names("Add a method to the `Stack` class.") == set()
    assert asked_names("Sort a list of numbers.") == set()


def test_ifd_max_drops_ifd_at_or_above_the_limit_and_unscored_records():
    pool = Pool(None, np.array([0.2, 0.99, 1.0, 1.7, np.nan]), np.ones(5))
    assert run("ifd_max", [GOOD] * 5, pool, ifd_max=1.0) == [True, True, False, False, False]
    assert run("ifd_max", [GOOD] * 5, pool, ifd_max=0.5) == [True, False, False, False, False]


def test_alignment_drops_responses_that_do_not_predict_their_instruction():
    pool = Pool(None, np.full(4, 0.5), np.ones(4), align=np.array([0.3, 0.89, 0.9, np.nan]))
    assert run("alignment", [GOOD] * 4, pool, alignment_max=0.9) == [True, True, False, False]
    assert run("alignment", [GOOD] * 4, pool, alignment_max=0.4) == [True, False, False, False]
    with pytest.raises(CodesiftError, match="ifd.alignment"):
        run("alignment", [GOOD] * 4)


def test_the_chain_counts_what_each_filter_removed_by_label():
    records = [GOOD, TRUNCATED, MISMATCHED, TERSE, GOOD]
    labels = ["good", "truncated", "mismatched", "terse", "good"]
    pool = Pool(None, np.array([0.3, 0.4, 0.5, 1.2, 0.6]), np.ones(5),
                align=np.array([0.2, 0.3, 0.95, 0.4, 0.5]))
    cfg = SelectConfig(ifd_max=1.0, alignment_max=0.9)
    kept, report = apply_filters(["ifd_max", "parses", "names", "alignment"], records, pool,
                                 cfg, labels)
    assert kept.tolist() == [0, 4]
    assert report == [
        {"name": "ifd_max", "removed": 1, "removed_by_label": {"terse": 1}},
        {"name": "parses", "removed": 1, "removed_by_label": {"truncated": 1}},
        {"name": "names", "removed": 1, "removed_by_label": {"mismatched": 1}},
        {"name": "alignment", "removed": 0, "removed_by_label": {}}]


def test_an_unknown_filter_is_one_line():
    with pytest.raises(CodesiftError, match="unknown filter 'typo'"):
        apply_filters(["typo"], [GOOD], Pool(None, np.ones(1), np.ones(1)), SelectConfig())
