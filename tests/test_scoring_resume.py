"""Kill -9 a scoring job mid-way; the rerun resumes from the last flushed chunk and ends
with the same scores as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from codesift.io import ChunkLog
from codesift.scoring import score_resumable
from tests.conftest import ROOT

N = 40

JOB = """
import sys, time
sys.path.insert(0, {root!r})
import codesift.scoring as s
from codesift.io import ChunkLog, read_jsonl
from codesift.models import load_model, load_tokenizer
from codesift.templates import load_template
slow = s.score
def score(*a, **k):  # slow each chunk down so the test can kill the job between chunks
    out = slow(*a, **k)
    time.sleep(0.3)
    return out
s.score = score
recs = read_jsonl({data!r})[:{n}]
model, tok = load_model({model!r}, "float32"), load_tokenizer({model!r})
template = load_template({templates!r}, "alpaca")
pairs = [template.pair(tok, r["instruction"], r["response"]) for r in recs]
s.score_resumable(model, tok, [r["id"] for r in recs], pairs, 256, 2048,
                  ChunkLog({log!r}, "fp"), chunk_size=4)
"""


def _chunks(path) -> int:
    return path.read_text().count('"_chunk_end"') if path.exists() else 0


def test_kill_and_resume_gives_the_same_scores(tiny, tiny_dir, sample_records, template,
                                               tmp_path):
    log = tmp_path / "resume.jsonl"
    code = JOB.format(root=str(ROOT), data=str(ROOT / "data/sample/train.jsonl"), n=N,
                      templates=str(ROOT / "templates"), model=str(tiny_dir), log=str(log))
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    deadline = time.time() + 120
    while _chunks(log) < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with open(log, "a") as f:
        f.write('{"id": "torn')  # a kill can land mid-line
    killed_at = _chunks(log)
    assert 3 <= killed_at < N // 4, "the job was not killed mid-way"

    model, tok = tiny
    recs = sample_records[:N]
    ids = [r["id"] for r in recs]
    pairs = [template.pair(tok, r["instruction"], r["response"]) for r in recs]
    resumed_log = ChunkLog(log, "fp")
    assert len(resumed_log.rows) == 4 * killed_at
    rows, stats = score_resumable(model, tok, ids, pairs, 256, 2048, resumed_log, chunk_size=4)
    assert stats.n_resumed == 4 * killed_at and stats.n_scored + stats.n_failed == N
    fresh, _ = score_resumable(model, tok, ids, pairs, 256, 2048,
                               ChunkLog(tmp_path / "fresh.jsonl", "fp"), chunk_size=4)
    assert [r["id"] for r in rows] == ids
    for a, b in zip(rows, fresh, strict=True):
        assert a == b or abs(a["ifd"] - b["ifd"]) < 1e-6
    assert len(ChunkLog(log, "fp").rows) == N  # the log is whole again, torn line gone


def test_log_for_other_inputs_is_discarded(tmp_path):
    log = ChunkLog(tmp_path / "x.jsonl", "a")
    log.append([{"id": "1", "ifd": 0.5}])
    assert ChunkLog(tmp_path / "x.jsonl", "a").rows == [{"id": "1", "ifd": 0.5}]
    assert ChunkLog(tmp_path / "x.jsonl", "b").rows == []
    assert not (tmp_path / "x.jsonl").exists()
