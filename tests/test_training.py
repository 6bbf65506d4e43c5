import json

import pytest
from transformers import TrainerCallback

from codesift.config import LoraConfig, TrainConfig
from codesift.training import Collator, build_examples, pad_fraction, train


def test_build_examples_masks_prompt_and_counts_skips(tiny, sample_records, template):
    _, tok = tiny
    records = sample_records[:5] + [{"instruction": "x", "response": "  "}]
    examples, skipped = build_examples(records, tok, template, 512)
    assert len(examples) == 5 and skipped == {"empty": 1}
    for ex in examples:
        n_masked = next(i for i, v in enumerate(ex["labels"]) if v != -100)
        prompt_ids = tok("### Instruction", add_special_tokens=False)["input_ids"]
        assert ex["input_ids"][1:1 + len(prompt_ids)] == prompt_ids
        assert n_masked > len(prompt_ids)
        assert ex["labels"][n_masked:] == ex["input_ids"][n_masked:]
        assert ex["input_ids"][-1] == tok.eos_token_id


@pytest.mark.parametrize("mode", ["pad", "dynamic_pad", "dynamic_pack"])
def test_collator_keeps_every_supervised_token(tiny, sample_records, template, mode):
    _, tok = tiny
    examples, _ = build_examples(sample_records[:8], tok, template, 256)
    col = Collator(mode, tok.pad_token_id, 256)
    batch = col(examples)
    want = sum(sum(v != -100 for v in ex["labels"][1:]) for ex in examples)
    assert int((batch["labels"] != -100).sum()) == want
    assert ("position_ids" in batch) == (mode == "dynamic_pack")
    assert ("attention_mask" in batch) != (mode == "dynamic_pack")
    if mode == "dynamic_pack":  # fewer rows, none wider than the longest sample
        assert batch["input_ids"].shape[0] < len(examples)
        assert batch["input_ids"].shape[1] == max(len(ex["input_ids"]) for ex in examples)
    if mode == "pad":
        assert batch["input_ids"].shape[1] == 256
    assert 0 <= pad_fraction(batch) < 1


class _Losses(TrainerCallback):
    def __init__(self):
        self.losses = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.losses.append(logs["loss"])


def _run(tiny_dir, tok, examples, mode, method, tmp_path):
    cfg = TrainConfig(method=method, pad_mode=mode, max_seq_len=256, max_steps=4, batch_size=8,
                      grad_accum=2, logging_steps=1, lr=1e-3, warmup_steps=0, save_steps=0,
                      lora=LoraConfig(dropout=0.0))  # dropout masks depend on the layout
    cb = _Losses()
    run = train(str(tiny_dir), examples, tok, cfg, tmp_path / mode / "out",
                tmp_path / mode / "work", callbacks=[cb])
    return cb.losses, run.metrics


def test_lora_training_is_seeded(tiny_dir, tiny, sample_records, template, tmp_path):
    """Same seed, same losses to the bit (LoRA init and dropout included); a new seed differs."""
    _, tok = tiny
    examples, _ = build_examples(sample_records[:32], tok, template, 256)

    def losses(seed: int, name: str) -> list[float]:
        cfg = TrainConfig(method="lora", max_seq_len=256, max_steps=3, batch_size=8,
                          logging_steps=1, lr=1e-3, warmup_steps=0, save_steps=0, seed=seed)
        cb = _Losses()
        train(str(tiny_dir), examples, tok, cfg, None, tmp_path / name, callbacks=[cb])
        return cb.losses

    first = losses(0, "a")
    assert losses(0, "b") == first
    assert losses(1, "c") != first


@pytest.mark.parametrize("method", ["lora", "full"])
def test_dynamic_pad_and_pack_optimise_the_same_loss(tiny_dir, tiny, sample_records, template,
                                                      tmp_path, method):
    _, tok = tiny
    examples, _ = build_examples(sample_records[:64], tok, template, 256)
    pad_losses, pad_m = _run(tiny_dir, tok, examples, "dynamic_pad", method, tmp_path)
    pack_losses, pack_m = _run(tiny_dir, tok, examples, "dynamic_pack", method, tmp_path)
    assert len(pad_losses) == 4
    # The same objective, step for step (both runs start from the same seeded LoRA init).
    for a, b in zip(pad_losses, pack_losses, strict=True):
        assert a == pytest.approx(b, rel=1e-5)
    assert pack_m["pad_fraction"] < pad_m["pad_fraction"]
    assert pack_m["supervised_tokens"] == pad_m["supervised_tokens"]
    assert (tmp_path / "dynamic_pack" / "out" / "config.json").exists()
    for key in ("train_loss", "train_seconds", "tokens_per_second", "pad_fraction",
                "peak_memory_mb", "steps"):
        assert key in pack_m
    if method == "lora":
        config = json.loads((tmp_path / "dynamic_pack/out/adapter/adapter_config.json").read_text())
        assert config["target_modules"] == sorted(config["target_modules"])  # not set order


CHAT = {"chat_rounds": [
    {"role": "system", "content": "You write Python."},
    {"role": "human", "content": "Add two numbers."},
    {"role": "bot", "content": "def add(a, b):\n    return a + b"},
    {"role": "human", "content": "Now subtract."},
    {"role": "bot", "content": "def sub(a, b):\n    return a - b"},
]}


def test_multi_turn_supervises_only_assistant_turns(tiny, template):
    _, tok = tiny
    [ex], skipped = build_examples([CHAT], tok, template, 512)
    assert not skipped
    ids, labels = ex["input_ids"], ex["labels"]
    supervised = [i for i, v in enumerate(labels) if v != -100]
    spans, start = [], supervised[0]
    for a, b in zip(supervised, supervised[1:] + [None], strict=True):
        if b != a + 1:
            spans.append((start, a + 1))
            start = b
    assert len(spans) == 2  # exactly the two assistant turns
    texts = [tok.decode(ids[a:b], skip_special_tokens=True) for a, b in spans]
    assert "return a + b" in texts[0] and "return a - b" in texts[1]
    assert "subtract" not in "".join(texts) and "Python" not in "".join(texts)
    assert ids[spans[0][1] - 1] == tok.eos_token_id and ids.count(tok.bos_token_id) == 1
    assert "You write Python." in tok.decode(ids[:spans[0][0]])


def test_chat_records_are_validated_and_keep_their_rounds(tmp_path):
    import json

    from codesift import CodesiftError
    from codesift.config import DataConfig
    from codesift.data.prepare import prepare
    from codesift.data.sources import read_source

    path = tmp_path / "chat.jsonl"
    path.write_text(json.dumps(CHAT) + "\n")
    [rec], _ = prepare(read_source(str(path)), DataConfig(), {})
    assert rec["instruction"] == "Now subtract." and rec["chat_rounds"] == CHAT["chat_rounds"]
    bad = {"chat_rounds": [{"role": "human", "content": "x"}, {"role": "robot", "content": "y"}]}
    path.write_text(json.dumps(bad) + "\n")
    with pytest.raises(CodesiftError, match=r"chat.jsonl:1: field 'chat_rounds\[1\].role'"):
        prepare(read_source(str(path)), DataConfig(), {})
