"""Multi-task fine-tuning (MFTCoder): records carry a task, select can keep the same share of
each task, and the task-balanced loss is MFTCoder's, checked by hand."""

import json

import numpy as np
import pytest
import torch

from codesift.config import DataConfig, SelectConfig, TrainConfig
from codesift.data.prepare import prepare
from codesift.data.sources import read_source
from codesift.selection import Pool, select_per_task
from codesift.training import Collator, build_examples, task_balanced_loss, token_nll, train


def test_task_balanced_loss_by_hand():
    # row 0: task 0, three scored tokens with NLL 1, 2, 3; row 1: task 1, one token, NLL 10
    labels = torch.tensor([[-100, 5, 6, 7], [-100, 8, -100, -100]])
    task_ids = torch.tensor([[0, 0, 0, 0], [1, 1, -1, -1]])
    nll = torch.tensor([[0.0, 1.0, 2.0, 3.0], [0.0, 10.0, 0.0, 0.0]])
    assert float(task_balanced_loss(nll, labels, task_ids)) == pytest.approx((2.0 + 10.0) / 2)
    assert float(nll[labels != -100].mean()) == pytest.approx(4.0)  # the token mean differs


def test_token_nll_is_cross_entropy_of_the_next_token():
    torch.manual_seed(0)
    logits = torch.randn(1, 4, 7)
    labels = torch.tensor([[-100, 2, 5, -100]])
    nll = token_nll(logits, labels)
    want = torch.nn.functional.cross_entropy(logits[0, :2], labels[0, 1:3], reduction="none")
    assert torch.allclose(nll[0, 1:3], want) and nll[0, 0] == 0 and nll[0, 3] == 0


def _two_tasks(sample_records, n_a=24, n_b=6):
    recs = [dict(r, task="a") for r in sample_records[:n_a]]
    return recs + [dict(r, task="b") for r in sample_records[n_a:n_a + n_b]]


def test_first_logged_loss_is_the_task_balanced_loss_of_the_first_batch(
        tiny_dir, tiny, template, sample_records, tmp_path):
    model, tok = tiny
    records = _two_tasks(sample_records)
    tasks = ["a", "b"]
    examples, _ = build_examples(records, tok, template, 256, tasks)
    cfg = TrainConfig(method="full", loss="task_balanced", max_steps=1, batch_size=30,
                      logging_steps=1, lr=1e-3, warmup_steps=0, save_steps=0,
                      pad_mode="dynamic_pack", max_seq_len=256)
    run = train(str(tiny_dir), examples, tok, cfg, None, tmp_path / "ck", tasks=tasks)
    batch = Collator("dynamic_pack", tok.pad_token_id, 256)(examples)  # one batch: all of them
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                       use_cache=False).logits
    nll = token_nll(logits, batch["labels"])
    want = float(task_balanced_loss(nll, batch["labels"], batch["task_ids"]))
    [entry] = run.history
    assert entry["loss"] == pytest.approx(want, rel=1e-4)
    scored = torch.nn.functional.pad(batch["labels"][:, 1:] != -100, (1, 0))
    for k, name in enumerate(tasks):
        on = scored & (batch["task_ids"] == k)
        assert entry[f"loss_{name}"] == pytest.approx(float(nll[on].mean()), rel=1e-4)


def test_select_per_task_keeps_the_same_share_of_each_task():
    rng = np.random.default_rng(0)
    pool = Pool(embeddings=None, ifd=rng.uniform(0, 1, 100), ppl=rng.uniform(1, 9, 100))
    tasks = ["big"] * 80 + ["small"] * 20
    picked = select_per_task(pool, tasks, 25, SelectConfig(method="ifd"))
    chosen = np.asarray(tasks)[picked]
    assert (chosen == "big").sum() == 20 and (chosen == "small").sum() == 5
    small = np.arange(80, 100)
    assert set(picked[picked >= 80]) == set(small[np.argsort(-pool.ifd[small])[:5]])


def test_prepare_reads_the_task_column(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [{"instruction": "q1", "response": "a1", "kind": "codegen"},
            {"instruction": "q2", "response": "a2", "kind": "review"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    records, _ = prepare(read_source(str(path)), DataConfig(task_column="kind"), {})
    assert [r["task"] for r in records] == ["codegen", "review"]
