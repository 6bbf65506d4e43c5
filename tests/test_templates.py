import pytest

from codesift.templates import encode, load_template


def test_rendering_leaves_braces_in_code_alone(tiny, template):
    _, tok = tiny
    prompt = template.prompt(tok, "use {x} and {}")
    assert prompt == "### Instruction:\nuse {x} and {}\n\n### Response:\n"


def test_answer_tokens_start_at_or_after_prompt_end(tiny, template):
    _, tok = tiny
    # The answer starts with newlines and spaces, which byte-level BPE merges with the
    # prompt's trailing newline: the straddling token must count as prompt.
    prompt, answer = template.pair(tok, "Add two numbers.", "\n\n    return a + b")
    assert answer == "\n\n    return a + b" + tok.eos_token
    enc = encode(tok, prompt, answer, max_len=512)
    ids = tok(prompt + answer, add_special_tokens=False, return_offsets_mapping=True)
    starts = [s for s, _ in ids["offset_mapping"]]
    n_prompt_text = enc.n_prompt - 1  # minus BOS
    assert all(s < len(prompt) for s in starts[:n_prompt_text])
    assert all(s >= len(prompt) for s in starts[n_prompt_text:])
    assert enc.input_ids[0] == tok.bos_token_id and enc.input_ids[-1] == tok.eos_token_id
    assert tok.decode(enc.answer_ids[:-1]) in answer
    assert enc.labels()[:enc.n_prompt] == [-100] * enc.n_prompt


def test_straddling_token_is_prompt(tiny):
    _, tok = tiny
    # Pick a boundary inside a word: "retu" | "rn x". Whatever token covers "retu|rn"
    # starts in the prompt, so the answer is what follows that token.
    enc = encode(tok, "please retu", "rn x", max_len=64)
    off = tok("please return x", add_special_tokens=False, return_offsets_mapping=True)
    first_answer = off["offset_mapping"][enc.n_prompt - 1][0]
    assert first_answer >= len("please retu")


def test_truncation_cuts_answer_tail(tiny, template):
    _, tok = tiny
    prompt, answer = template.pair(tok, "Write a long function.", "x = 1\n" * 200)
    full = encode(tok, prompt, answer, max_len=4096)
    cut = encode(tok, prompt, answer, max_len=full.n_prompt + 10)
    assert cut.truncated and not full.truncated
    assert cut.input_ids == full.input_ids[:full.n_prompt + 10]


def test_empty_fields_and_too_long_prompt_are_errors(tiny, template):
    _, tok = tiny
    assert encode(tok, "   ", "x", 64).error
    assert encode(tok, "prompt", "\n ", 64).error
    assert encode(tok, *template.pair(tok, "ok", "   "), 64).error
    long = encode(tok, "word " * 500, "x = 1", max_len=32)
    assert long.error and "prompt alone" in long.error and long.input_ids == []
    assert long.reason == "prompt_too_long"


def test_unknown_template_names_the_known_ones(tmp_path):
    from codesift import CodesiftError

    (tmp_path / "mine.jinja").write_text("{{ messages[0]['content'] }}")
    with pytest.raises(CodesiftError, match=r"'nope' has no file .*known: mine, chat"):
        load_template(tmp_path, "nope")
