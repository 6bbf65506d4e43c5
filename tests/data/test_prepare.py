import json

import pytest

from codesift import CodesiftError
from codesift.config import DataConfig
from codesift.data.prepare import prepare
from codesift.data.sources import read_source


def _write(tmp_path, name, lines: list[str] | bytes):
    path = tmp_path / name
    path.write_bytes(lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode())
    return path


def _prep(path, cfg=None, bench=None):
    return prepare(read_source(str(path)), cfg or DataConfig(), bench or {})


GOOD = json.dumps({"instruction": "Add numbers.", "response": "def add(a, b):\n    return a + b"})


@pytest.mark.parametrize("bad, message", [
    ('{"instruction": "x", "response": ', "train.jsonl:2: invalid JSON"),
    ('{"instruction": "x"}', "train.jsonl:2: missing field 'response'"),
    ('{"instruction": "  ", "response": "y"}', "train.jsonl:2: field 'instruction' is empty"),
    ('{"instruction": "x", "response": 3}', "train.jsonl:2: field 'response' must be a string"),
    ('[1, 2]', "train.jsonl:2: expected a JSON object"),
])
def test_malformed_input_names_file_line_and_field(tmp_path, bad, message):
    path = _write(tmp_path, "train.jsonl", [GOOD, bad])
    with pytest.raises(CodesiftError, match=message):
        _prep(path)


def test_non_utf8_names_the_line(tmp_path):
    path = _write(tmp_path, "train.jsonl", GOOD.encode() + b"\n" + b'{"instruction": "\xff"}\n')
    with pytest.raises(CodesiftError, match=r"train.jsonl:2: not valid UTF-8"):
        _prep(path)


def test_skip_mode_counts_every_skip(tmp_path):
    path = _write(tmp_path, "train.jsonl", [GOOD, '{"instruction": "x"}', '{"response": "y"}'])
    records, report = _prep(path, DataConfig(on_invalid="skip"))
    assert len(records) == 1 and report.n_invalid == 2
    assert sum(report.invalid_reasons.values()) == 2


def test_skip_mode_covers_malformed_lines_and_bad_bytes_by_reason_and_line(tmp_path):
    lines = (GOOD + "\n" + '{"instruction": "x", "response": \n' + '{"instruction": "\xff"}\n'
             + "[1]\n" + '{"instruction": "x"}\n').encode("latin-1")
    path = _write(tmp_path, "train.jsonl", lines)
    records, report = _prep(path, DataConfig(on_invalid="skip"))
    assert len(records) == 1 and report.n_invalid == 4
    d = report.as_dict()
    assert d["invalid_reasons"] == {"bad_json": 1, "bad_utf8": 1, "missing_field": 1,
                                    "not_an_object": 1}
    assert d["invalid_where"]["bad_utf8"] == [f"{path}:3"]
    assert d["invalid_where"]["missing_field"] == [f"{path}:5"]


def test_duplicate_ids_are_reported_with_their_lines(tmp_path):
    rows = [json.dumps({"id": "a", "instruction": f"q{i}", "response": "r"}) for i in range(2)]
    path = _write(tmp_path, "train.jsonl", rows)
    with pytest.raises(CodesiftError, match=r"'a' at .*train.jsonl:1, .*train.jsonl:2"):
        _prep(path)


def test_exact_duplicates_are_removed_and_counted(tmp_path):
    other = json.dumps({"instruction": "Sub.", "response": "def sub(a, b):\n    return a - b"})
    path = _write(tmp_path, "train.jsonl", [GOOD, other, GOOD, GOOD])
    records, report = _prep(path)
    assert [r["instruction"] for r in records] == ["Add numbers.", "Sub."]
    assert report.n_duplicates == 2 and report.n_kept == 2
    assert records[0]["source"].endswith("train.jsonl:1")
    assert set(records[0]) == {"id", "instruction", "response", "source"}


def test_decontamination_drops_benchmark_copies(tmp_path):
    from codesift.evaluation.benchmarks import decontamination_texts, load_benchmark

    task = load_benchmark("humaneval").tasks[0]
    leaked = json.dumps({"instruction": "Solve this.", "response": task["prompt"]})
    path = _write(tmp_path, "train.jsonl", [GOOD, leaked])
    texts = {"humaneval": decontamination_texts("humaneval")}
    records, report = _prep(path, bench=texts)
    assert len(records) == 1 and report.n_contaminated == 1
    assert report.contaminated_by == {"humaneval": 1}


def test_column_mapping_and_json_array(tmp_path):
    rows = [{"problem": "Sum.", "solution": "sum(x)", "input": "x = [1]"},
            {"problem": "Max.", "solution": "max(x)", "input": ""}]
    path = tmp_path / "oss.json"
    path.write_text(json.dumps(rows))
    cfg = DataConfig(instruction_column="problem", response_column="solution",
                     input_column="input")
    records, _ = _prep(path, cfg)
    assert records[0]["instruction"] == "Sum.\n\nx = [1]" and records[1]["instruction"] == "Max."
    with pytest.raises(CodesiftError, match=r"oss.json\[record 0\]: missing field 'instruction'"):
        _prep(path)


def test_parquet_source(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist([{"instruction": "a", "response": "b"}]), path)
    records, _ = _prep(path)
    assert records[0]["response"] == "b"


def test_hub_id_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(CodesiftError, match="could not load dataset 'ise-uiuc/Magicoder"):
        list(read_source("unused", hub="ise-uiuc/Magicoder-OSS-Instruct-75K"))


def test_missing_or_unknown_local_files_are_clear_errors(tmp_path):
    with pytest.raises(CodesiftError, match=r"missing.csv: data file not found \(data.source"):
        list(read_source(str(tmp_path / "missing.csv")))
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(CodesiftError, match=r"d.xlsx: unsupported file type \(readers: .csv"):
        list(read_source(str(tmp_path / "d.xlsx")))
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(CodesiftError, match="bad.parquet: not a readable Parquet file"):
        list(read_source(str(tmp_path / "bad.parquet")))


def test_csv_files_and_directories_of_files(tmp_path):
    (tmp_path / "a.csv").write_text('instruction,response\n"Add.","a + b"\n')
    (tmp_path / "b.jsonl").write_text(GOOD + "\n")
    records, _ = _prep(tmp_path)
    assert [r["source"] for r in records] == [f"{tmp_path}/a.csv:2", f"{tmp_path}/b.jsonl:1"]
