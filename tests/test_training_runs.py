"""bfd packing, QLoRA on CPU, resume after kill -9, and two-process data parallelism."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from codesift.config import TrainConfig
from codesift.packing import best_fit_decreasing
from codesift.training import Collator, build_examples, dataset_items, pad_fraction, train
from tests.conftest import ROOT


def test_best_fit_decreasing_fills_bins():
    lengths = [7, 5, 4, 3, 3, 2, 1, 5]
    bins = best_fit_decreasing(lengths, 10)
    assert sorted(i for b in bins for i in b) == list(range(len(lengths)))
    assert [sum(lengths[i] for i in b) for b in bins] == [10, 10, 10]


def test_bfd_rows_are_nearly_padding_free(tiny, sample_records, template):
    _, tok = tiny
    examples, _ = build_examples(sample_records[:400], tok, template, 1024)
    bins = dataset_items(examples, "bfd", 1024)
    assert sorted(id(m) for b in bins for m in b["members"]) == sorted(map(id, examples))
    col = Collator("bfd", tok.pad_token_id, 1024)
    pads, total = 0, 0
    for start in range(0, len(bins), 8):
        batch = col(bins[start:start + 8])
        assert batch["input_ids"].shape[1] <= 1024 and "attention_mask" not in batch
        pads += pad_fraction(batch) * batch["input_ids"].numel()
        total += batch["input_ids"].numel()
    assert pads / total < 0.02


def test_flatten_makes_one_padding_free_row(tiny, sample_records, template):
    _, tok = tiny
    examples, _ = build_examples(sample_records[:6], tok, template, 256)
    batch = Collator("dynamic_pack", tok.pad_token_id, 256, flatten=True)(examples)
    assert batch["input_ids"].shape == (1, sum(len(e["input_ids"]) for e in examples))
    assert int((batch["position_ids"] == 0).sum()) == len(examples)


def test_qlora_trains_on_cpu_and_saves_a_standalone_model(tiny_dir, tiny, sample_records,
                                                          template, tmp_path):
    pytest.importorskip("bitsandbytes")
    _, tok = tiny
    examples, _ = build_examples(sample_records[:16], tok, template, 256)
    cfg = TrainConfig(method="qlora", max_steps=3, batch_size=4, logging_steps=1,
                      warmup_steps=0, lr=1e-2, save_steps=0)
    m = train(str(tiny_dir), examples, tok, cfg, tmp_path / "out", tmp_path / "ckpt").metrics
    assert m["steps"] == 3 and m["final_loss"] > 0
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    assert not any("lora" in n for n, _ in merged.named_parameters())
    assert (tmp_path / "out" / "adapter" / "adapter_config.json").exists()


JOB = """
import sys, time
sys.path.insert(0, {root!r})
from transformers import TrainerCallback
from codesift.config import TrainConfig
from codesift.io import read_jsonl
from codesift.models import load_tokenizer
from codesift.templates import load_template
from codesift.training import build_examples, train
from pathlib import Path
class Slow(TrainerCallback):  # gives the test time to kill between checkpoints
    def on_step_end(self, *a, **k):
        time.sleep({sleep})
tok = load_tokenizer({model!r})
template = load_template({templates!r}, "alpaca")
examples, _ = build_examples(read_jsonl({data!r})[:64], tok, template, 256)
cfg = TrainConfig(**{cfg!r})
out = None if {rank_out!r} is None else Path({rank_out!r})
m = train({model!r}, examples, tok, cfg, out, Path({ckpt!r}), callbacks=[Slow()]).metrics
import torch, os
rank = int(os.environ.get("RANK", 0))
if {dump!r}:
    torch.save({{"metrics": m}}, Path({dump!r}) / f"metrics{{rank}}.pt")
"""

CFG = dict(method="lora", pad_mode="dynamic_pack", max_steps=10, batch_size=4, save_steps=2,
           logging_steps=1, warmup_steps=0, lr=1e-3, max_seq_len=256)


def _job(tiny_dir, ckpt, out, cfg=CFG, sleep=0.0, dump=None) -> str:
    return JOB.format(root=str(ROOT), sleep=sleep, model=str(tiny_dir),
                      templates=str(ROOT / "templates"),
                      data=str(ROOT / "data/sample/train.jsonl"), cfg=cfg, ckpt=str(ckpt),
                      rank_out=None if out is None else str(out), dump=dump)


def test_resume_after_kill_reaches_the_same_final_loss(tiny_dir, template, tmp_path):
    ckpt = tmp_path / "ckpt"
    proc = subprocess.Popen([sys.executable, "-c", _job(tiny_dir, ckpt, tmp_path / "a", sleep=1)],
                            start_new_session=True)
    deadline = time.time() + 180
    while not (ckpt / "checkpoint-4").exists() and proc.poll() is None \
            and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # let the checkpoint finish writing, or not: either must be safe
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "a").exists(), "the job finished before it was killed"
    from codesift.io import read_jsonl
    from codesift.models import load_tokenizer

    tok = load_tokenizer(str(tiny_dir))
    examples, _ = build_examples(read_jsonl(ROOT / "data/sample/train.jsonl")[:64], tok,
                                 template, 256)
    resumed = train(str(tiny_dir), examples, tok, TrainConfig(**CFG), tmp_path / "a", ckpt)
    fresh = train(str(tiny_dir), examples, tok, TrainConfig(**CFG), tmp_path / "b",
                  tmp_path / "ckpt2")
    r, f = resumed.metrics, fresh.metrics
    assert r["resumed_from_step"] and r["resumed_from_step"] % 2 == 0
    assert f["resumed_from_step"] is None and r["steps"] == f["steps"] == 10
    assert r["final_loss"] == pytest.approx(f["final_loss"], rel=1e-3)
    # The whole run is reported, as if it had never stopped (timings aside).
    for key in ("supervised_tokens", "padded_tokens", "epochs_trained"):
        assert r[key] == f[key], key
    assert r["train_loss"] == pytest.approx(f["train_loss"], rel=1e-6)
    assert [h["step"] for h in resumed.history] == [h["step"] for h in fresh.history]
    for a, b in zip(resumed.history, fresh.history, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)


def _params(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(path / "model.safetensors")


@pytest.mark.slow
def test_two_process_ddp_matches_single_process_with_doubled_batch(tiny_dir, tmp_path):
    cfg = dict(CFG, method="full", max_steps=3, save_steps=0, batch_size=2)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    job = tmp_path / "job.py"
    job.write_text(_job(tiny_dir, tmp_path / "ck", tmp_path / "ddp", cfg=cfg, dump=str(tmp_path)))
    torchrun = Path(sys.executable).parent / "torchrun"
    subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", str(job)], env=env,
                   check=True, timeout=600)
    single = dict(cfg, batch_size=4)
    subprocess.run([sys.executable, "-c", _job(tiny_dir, tmp_path / "ck1", tmp_path / "one",
                                                cfg=single)], env=env, check=True, timeout=600)
    m0 = torch.load(tmp_path / "metrics0.pt")["metrics"]
    m1 = torch.load(tmp_path / "metrics1.pt")["metrics"]
    assert m0["world_size"] == m1["world_size"] == 2
    assert m0["final_loss"] == m1["final_loss"]  # logged loss is reduced across ranks
    ddp, one = _params(tmp_path / "ddp"), _params(tmp_path / "one")
    base = _params(tiny_dir)
    moved = max((ddp[k] - base[k]).abs().max().item() for k in ddp)
    assert moved > 1e-4
    for k in ddp:
        assert torch.allclose(ddp[k], one[k], atol=1e-5, rtol=1e-4), k
    assert json.dumps(m0["steps"]) == "3"


def test_eval_during_training_keeps_the_best_checkpoint(tiny_dir, tiny, sample_records,
                                                        template, tmp_path):
    """A learning rate that diverges after the first evaluation: the best step is the first
    one, the saved model is that checkpoint's, and the curve logs every evaluation."""
    _, tok = tiny
    examples, _ = build_examples(sample_records[:48], tok, template, 256)
    valid, _ = build_examples(sample_records[48:56], tok, template, 256)
    cfg = TrainConfig(method="full", max_steps=6, batch_size=8, logging_steps=1, lr=3.0,
                      lr_scheduler="constant", warmup_steps=0, eval_steps=2,
                      early_stopping_patience=1, max_seq_len=256)
    run = train(str(tiny_dir), examples, tok, cfg, tmp_path / "out", tmp_path / "ck",
                valid=valid)
    evals = [h for h in run.history if "eval_loss" in h]
    assert [h["step"] for h in evals] == [2, 4] and evals[1]["eval_loss"] > evals[0]["eval_loss"]
    assert run.metrics["best_step"] == 2 and run.metrics["steps"] == 4  # stopped early
    assert run.metrics["best_eval_loss"] == pytest.approx(evals[0]["eval_loss"])
    best = _params(tmp_path / "ck" / "checkpoint-2")
    saved = _params(tmp_path / "out")
    assert all(torch.equal(best[k], saved[k]) for k in saved)
