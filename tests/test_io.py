import os

import pytest

from codesift import CodesiftError
from codesift.io import BadLine, ChunkLog, atomic_path, iter_jsonl, read_jsonl, write_jsonl


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.jsonl"
    write_jsonl(target, [{"a": 1}])

    def rows():
        yield {"a": 2}
        raise KeyboardInterrupt  # a killed stage

    with pytest.raises(KeyboardInterrupt):
        write_jsonl(target, rows())
    assert read_jsonl(target) == [{"a": 1}]
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "model", is_dir=True) as d:
        (d / "weights").write_text("half")
        raise RuntimeError
    assert not (tmp_path / "model").exists()


def test_a_killed_writers_temp_dir_is_removed_by_the_next_write(tmp_path):
    (tmp_path / ".model.abcd1234").mkdir()  # what kill -9 inside atomic_path leaves
    (tmp_path / ".model.abcd1234" / "weights").write_text("half")
    (tmp_path / ".modelx.abcd1234").mkdir()  # another output's: not ours to remove
    with atomic_path(tmp_path / "model", is_dir=True) as d:
        (d / "weights").write_text("whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".modelx.abcd1234", "model"]


def test_bad_lines_name_file_and_line_or_come_back_as_values(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": \n\xff\n')
    with pytest.raises(CodesiftError, match=r"d.jsonl:2: invalid JSON"):
        list(iter_jsonl(path))
    rows = list(iter_jsonl(path, keep_bad=True))
    assert rows[0] == (1, {"a": 1})
    assert [(n, v.reason) for n, v in rows[1:]] == [(2, "bad_json"), (3, "bad_utf8")]
    assert all(isinstance(v, BadLine) and f"d.jsonl:{n}:" in v.message for n, v in rows[1:])


def test_chunk_log_discards_a_damaged_tail(tmp_path, caplog):
    log = ChunkLog(tmp_path / "r.jsonl", "fp")
    log.append([{"id": "1"}, {"id": "2"}])
    log.append([{"id": "3"}])
    with open(tmp_path / "r.jsonl", "ab") as f:
        f.write(b"garbage \xff not json\n")
    size = os.path.getsize(tmp_path / "r.jsonl")
    again = ChunkLog(tmp_path / "r.jsonl", "fp")
    assert [r["id"] for r in again.rows] == ["1", "2", "3"]
    assert "damaged" in caplog.text and os.path.getsize(tmp_path / "r.jsonl") < size
    assert [r["id"] for r in ChunkLog(tmp_path / "r.jsonl", "fp").rows] == ["1", "2", "3"]
