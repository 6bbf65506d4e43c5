"""DEITA's expected ratings, batched, against its one-prompt-at-a-time `infer_score` (the HF
generate path of efficode's deita/selection/scorer/base.py), with the real loading code on
the tiny local model standing in for the scorer LMs (the ratings mean nothing; the mechanics
are what is checked)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.special import softmax

from codesift.deita_scores import (
    complexity_prompt,
    expected_ratings,
    quality_prompt,
    rating_ids,
)
from tests.conftest import ROOT


def infer_score(model, tok, user_input: str) -> float:
    input_ids = tok.encode(user_input, return_tensors="pt")
    outputs = model.generate(input_ids, max_new_tokens=2, num_return_sequences=1,
                             return_dict_in_generate=True, output_scores=True,
                             pad_token_id=tok.pad_token_id, do_sample=False)
    logprobs_list = outputs.scores[0][0].detach().cpu().numpy()
    score_logits = np.array([logprobs_list[k] for k in rating_ids(tok)])
    return float(np.sum(softmax(score_logits, axis=0) * np.array([1, 2, 3, 4, 5, 6])))


def test_batched_ratings_equal_deitas_one_at_a_time(tiny, sample_records):
    model, tok = tiny
    recs = sample_records[:10]
    prompts = [complexity_prompt(r["instruction"]) for r in recs[:5]] + \
        [quality_prompt(r["instruction"], r["response"]) for r in recs[5:]]
    got = expected_ratings(model, tok, prompts, max_len=2048, batch_tokens=4096)
    for p, g in zip(prompts, got, strict=True):
        assert 1 <= g <= 6
        assert g == pytest.approx(infer_score(model, tok, p), abs=1e-5)
    assert quality_prompt("Q?", "A.").endswith("#Question#:\nQ?\n#Response#:\nA. \n##Quality: ")


def test_stage_scores_every_record_with_both_scorers(tiny_dir, sample_records, tmp_path):
    data = tmp_path / "p.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in sample_records[:6]))
    params = tmp_path / "params.yaml"
    params.write_text(f"select:\n  deita:\n    scorer_complexity: {tiny_dir}\n"
                      f"    scorer_quality: {tiny_dir}\n")
    out = subprocess.run([sys.executable, "-m", "stages.deita_score", "--params", str(params),
                          "--data", str(data), "--out", str(tmp_path / "d.jsonl"),
                          "--metrics", str(tmp_path / "m.json")],
                         cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr
    rows = [json.loads(x) for x in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [r["id"] for r in sample_records[:6]]
    for r in rows:
        assert r["score"] == pytest.approx(r["complexity"] * r["quality"])
        assert 1 <= r["complexity"] <= 6 and 1 <= r["quality"] <= 6
