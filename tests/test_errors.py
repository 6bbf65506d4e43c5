"""Every bad input, param or fault a user met gets one clear line and exit code 2, before any
work starts where it can be known then. One row per case: what is wrong, the command, and
the words its error must say. The README's error table is these rows, as printed by running
every one of them: `python -m tests.test_errors` prints it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.helpers.records import jsonl, pool_files

CHECK = ["python", "-m", "codesift.check", "--check"]
PREPARE = ["python", "-m", "stages.prepare", "--source", "train.jsonl", "--out", "out/p.jsonl",
           "--valid", "out/v.jsonl", "--metrics", "out/m.json"]
SELECT = ["python", "-m", "stages.select", "--data", "p.jsonl", "--scores", "s.jsonl",
          "--deita", "d.jsonl", "--embeddings", "emb", "--rds", "rds", "--less", "rds",
          "--out", "out/sel.jsonl",
          "--metrics", "out/m.json", "--plots", "out/plots"]
MERGE = ["python", "-m", "stages.ifd_merge", "--shards", "shards", "--shard-metrics", "sm",
         "--data", "p.jsonl", "--out", "out/ifd.jsonl", "--metrics", "out/m.json", "--hist",
         "out/h.json"]
IFD = ["python", "-m", "stages.ifd", "--model", "m", "--data", "p.jsonl", "--templates",
       str(ROOT / "templates"), "--out", "o", "--metrics", "o.json", "--resume", "r"]
EVAL = ["python", "-m", "codesift.evaluation", "--benchmark", "humaneval", "--samples"]
GRID = ["python", "-m", "codesift.grid", "g.yaml", "--dry-run"]
COMPARE = ["python", "-m", "codesift.compare", "--samples", "humaneval=one.jsonl"]
TXT = {"data": {"text_column": "text", "valid_size": 0}, "train": {"objective": "fim"}}
BAD_BYTE = b"def f():\n    return '\xff'\n"
NO_PROMPT = ("{% for m in messages %}{% if m.role == 'assistant' %}{{ m.content }}{% endif %}"
             "{% endfor %}")
GOOD = {"instruction": "Add two numbers.", "response": "def add(a, b):\n    return a + b"}
HUMANEVAL_0 = ("from typing import List\n\n\ndef has_close_elements(numbers: List[float], "
               "threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are "
               "any two numbers closer to each other than\n    given threshold.")


@dataclass
class Case:
    id: str
    argv: list[str]
    says: str  # a substring of the one error line
    params: dict = field(default_factory=dict)  # overrides merged into params.yaml
    files: dict = field(default_factory=dict)  # relative path -> text or bytes (params.yaml too)
    kind: str = "input"  # the README table's group


CASES = [
    Case("memory_mb 0", CHECK, "eval.memory_mb: 0 is not in [64, inf)", {"eval": {"memory_mb": 0}}),
    Case("timeout_s 0", CHECK, "eval.timeout_s: 0.0 is not in (0, inf)",
         {"eval": {"timeout_s": 0}}),
    Case("limit -1", CHECK, "data.limit: -1 is not in [0, inf)", {"data": {"limit": -1}}),
    Case("ngram 0", CHECK, "data.ngram: 0 is not in [1, inf)", {"data": {"ngram": 0}}),
    Case("sample_num -5", CHECK, "select.sample_num: -5 is not in [0, inf)",
         {"select": {"sample_num": -5}}),
    Case("k above n_samples", CHECK, "eval.k: pass@5 needs at least 5 samples per task",
         {"eval": {"k": [5]}}),
    Case("num_shards 0", CHECK, "ifd.num_shards: 0 is not in [1, inf)",
         {"ifd": {"num_shards": 0}}),
    Case("misspelled section", CHECK, "params.yaml: selct: unknown section",
         {"selct": {"ratio": 0.3}}),
    Case("misspelled section in a profile", [*CHECK, "--profile", "p.yaml"],
         "p.yaml: selct: unknown section", files={"p.yaml": "selct:\n  ratio: 0.3\n"}),
    Case("unknown benchmark", CHECK, "eval.benchmarks[1]: 'humaneval_pluss' is not one of",
         {"eval": {"benchmarks": ["humaneval", "humaneval_pluss"]}}),
    Case("ratio 1.5", CHECK, "select.ratio: 1.5 is not in (0, 1]", {"select": {"ratio": 1.5}}),
    Case("ifd max_len 1", CHECK, "ifd.max_len: 1 is not in [2, inf)", {"ifd": {"max_len": 1}}),
    Case("lora r 0", CHECK, "train.lora.r: 0 is not in [1, inf)",
         {"train": {"lora": {"r": 0}}}),
    Case("max_seq_len 1", CHECK, "train.max_seq_len: 1 is not in [2, inf)",
         {"train": {"max_seq_len": 1}}),
    Case("stage checks too", PREPARE, "select.ratio: 1.5 is not in (0, 1]",
         {"select": {"ratio": 1.5}}, {"train.jsonl": jsonl(GOOD)}),
    Case("missing profile", [*CHECK, "--profile", "missing.yaml", "--apply"],
         "missing.yaml: not found"),
    Case("empty data file", PREPARE, "0 usable records remain, but the pipeline needs at least 1",
         {"data": {"valid_size": 0}}, {"train.jsonl": ""}),
    Case("too few for the validation split", PREPARE,
         "1 usable records remain, but the pipeline needs at least 101 (data.valid_size 100",
         files={"train.jsonl": jsonl(GOOD)}),
    Case("every record skipped", PREPARE, "2 invalid skipped", {"data": {"on_invalid": "skip"}},
         {"train.jsonl": '{"instruction": "x"}\nnot json\n'}),
    Case("decontamination removes all", PREPARE, "1 contaminated",
         files={"train.jsonl": jsonl({"instruction": "Do it.", "response": HUMANEVAL_0})}),
    Case("corrupt parquet", [*PREPARE[:4], "d.parquet", *PREPARE[5:]],
         "d.parquet: not a readable Parquet file", files={"d.parquet": b"PAR1 garbage"}),
    Case("missing csv", [*PREPARE[:4], "d.csv", *PREPARE[5:]],
         "d.csv: data file not found (data.source"),
    Case("read-only output", [*PREPARE[:6], "/sys/codesift-test/p.jsonl", *PREPARE[7:]],
         "error: /sys/codesift-test: ", {"data": {"valid_size": 0}},
         {"train.jsonl": jsonl(GOOD)}),
    Case("malformed line", PREPARE, "train.jsonl:2: invalid JSON",
         files={"train.jsonl": jsonl(GOOD) + "{oops\n"}),
    Case("duplicate ids", PREPARE, "'a' at train.jsonl:1, train.jsonl:2",
         files={"train.jsonl": jsonl({**GOOD, "id": "a"}, {"id": "a", "instruction": "x",
                                                             "response": "y"})}),
    Case("sample_num above the data", SELECT, "select.sample_num is 100000, but only 3 records",
         {"select": {"sample_num": 100000}}, pool_files()),
    Case("nothing scored", MERGE, "no sample could be scored: 3 x prompt alone has 9 tokens",
         files=pool_files(failed=True)),
    Case("bad shard", [*IFD, "--shard", "x"], "--shard 'x': expected a shard number or `auto`"),
    Case("evaluation CLI: missing samples", [*EVAL, "missing.jsonl"],
         "--samples missing.jsonl: file not found"),
    Case("evaluation CLI: pass@5 of one sample", [*EVAL, "one.jsonl", "--limit", "1", "--k", "5"],
         "--k 5: pass@5 needs at least 5 samples per task, but HumanEval/0 has 1",
         files={"one.jsonl": jsonl({"task_id": "HumanEval/0", "solution": "x = 1"})}),
    Case("evaluation CLI: memory 0", [*EVAL, "one.jsonl", "--memory-mb", "0"],
         "--memory-mb: 0 is below 64"),
    Case("evaluation CLI: negative limit", [*EVAL, "one.jsonl", "--limit", "-3"],
         "--limit: -3 is below 0"),
]

def _kind(kind: str, cases: list[Case]) -> list[Case]:
    for c in cases:
        c.kind = kind
    return cases


# --- second round: the check knows what a later stage would refuse ---------------------------
CASES += _kind("check", [
    Case("template without a file", CHECK, "template.name: 'nope' has no file",
     {"template": {"name": "nope"}}),
    Case("template with a Jinja syntax error", CHECK, "templates/bad.jinja: line 1: Jinja syntax",
     {"template": {"name": "bad"}}, {"templates/bad.jinja": "{% for m in messages %}"}),
    Case("template that renders no generation prompt", CHECK, "renders no generation prompt",
     {"template": {"name": "quiet"}}, {"templates/quiet.jinja": NO_PROMPT}),
    Case("unknown scheduler", CHECK, "train.lr_scheduler: 'cosin' is not one of",
     {"train": {"lr_scheduler": "cosin"}}),
    Case("unknown attention", CHECK, "model.attn_implementation: 'flash' is not one of",
     {"model": {"attn_implementation": "flash"}}),
    Case("no FIM tokens", CHECK, "train.fim_tokens: three different tokens", {"train": {
        "fim_tokens": []}}),
    Case("decontamination without its file", CHECK, "data.decontaminate[0]: humaneval_plus: "
     "HumanEval+ v0.1.10 needs its evalplus file", {"data": {"decontaminate": [
         "humaneval_plus"]}}),
    Case("unknown dataset key", CHECK, "eval.datasets.humaneval_pluss: unknown key",
     {"eval": {"datasets": {"humaneval_pluss": "he.jsonl"}}}),
    Case("infinite lr", CHECK, "train.lr: inf is not a finite number", {"train": {"lr": 1e999}}),
    Case("infinite timeout", CHECK, "eval.timeout_s: inf is not a finite number",
     {"eval": {"timeout_s": 1e999}}),
    Case("no k", CHECK, "eval.k: no k given", {"eval": {"k": []}}),
    Case("no benchmark", CHECK, "eval.benchmarks: no benchmark", {"eval": {"benchmarks": []}}),
    Case("key given twice", CHECK, "params.yaml:3: not valid YAML: key 'ratio' is given twice "
     "(lines 2 and 3)", files={"params.yaml": "select:\n  ratio: 0.3\n  ratio: 0.5\n"}),
    Case("grid: a stage would refuse", GRID, "g.yaml (experiment cosin): train.lr_scheduler",
     files={"g.yaml": "matrix:\n  train.lr_scheduler: [cosin]\n"}),
    Case("grid: its profile's value", GRID, "p.yaml (profile of experiment 1): "
     "model.attn_implementation", files={
         "p.yaml": "model: {attn_implementation: flash}\n",
         "g.yaml": "profile: p.yaml\nmatrix:\n  train.seed: [1]\n"}),
])

# --- second round: what raised a traceback ----------------------------------------------------
CASES += _kind("traceback", [
    Case("params.yaml not UTF-8", CHECK, "params.yaml: not valid UTF-8 (byte 18)",
     files={"params.yaml": b"select:\n  method: \xff\n"}),
    Case("profile not UTF-8", [*CHECK, "--profile", "p.yaml"], "p.yaml: not valid UTF-8",
     files={"p.yaml": b"select: {method: \xff}\n"}),
    Case("grid file not UTF-8", GRID, "g.yaml: not valid UTF-8", files={"g.yaml": b"\xff: 1\n"}),
    Case("raw code not UTF-8", [*PREPARE[:4], "t.txt", *PREPARE[5:]],
     "t.txt:2: not valid UTF-8", TXT, {"t.txt": BAD_BYTE}),
    Case("template error in a stage", [*IFD[:4], "{tiny}", *IFD[5:8], "templates", *IFD[9:]],
     "template bad: line 1: Unexpected end of template", {"template": {"name": "bad"},
                                                          "ifd": {"template": ""}},
     {"templates/bad.jinja": "{% for m in messages %}", "p.jsonl": jsonl({"id": "a", **GOOD})}),
    Case("evaluation CLI: unwritable --out", [*EVAL, "one.jsonl", "--out", "/sys/codesift/v.jsonl"],
     "error: /sys/codesift: ", files={"one.jsonl": jsonl({"task_id": "HumanEval/0",
                                                          "solution": "x = 1"})}),
    Case("compare CLI: --out is a file", [*COMPARE, "--out", "report"], "a file is there",
     files={"report": "", "one.jsonl": jsonl({"task_id": "HumanEval/0", "solution": "x"})}),
    Case("evaluation CLI: task_id a list", [*EVAL, "one.jsonl"],
     "one.jsonl:1: task_id must be a string", files={"one.jsonl": jsonl({"task_id": [0],
                                                                          "solution": "x"})}),
    Case("evaluation CLI: no k", [*EVAL, "one.jsonl", "--k", ","], "--k: expected at least one k"),
    Case("embeddings: a row missing", SELECT, "embeddings.npy: shape (2, 4), but there are 3",
     files={**pool_files(), "emb/embeddings.npy": pool_files(2)["emb/embeddings.npy"]}),
    Case("embeddings: NaN rows", SELECT, "1 rows are not finite (NaN or inf), e.g. ids ['r1']",
     files={**pool_files(), "emb/embeddings.npy": pool_files(nan_row=1)["emb/embeddings.npy"]}),
    Case("id not a string", PREPARE, "train.jsonl:1: field 'id' must be a non-empty string",
     {"data": {"valid_size": 0}}, {"train.jsonl": jsonl({**GOOD, "id": [1]})}),
])

# --- second round: messages that pointed the wrong way ---------------------------------------
CASES += _kind("message", [
    Case("bad sample after --limit", [*EVAL, "two.jsonl", "--limit", "1"],
     "two.jsonl:2: HumanEval/0: no string solution or completion",
     files={"two.jsonl": jsonl({"task_id": "HumanEval/0", "solution": "x"},
                               {"task_id": "HumanEval/0", "solution": 5})}),
    Case("another benchmark's samples under --limit", [*EVAL, "one.jsonl", "--limit", "1"],
     "samples name tasks not in humaneval, e.g. ['Mbpp/2'] (samples of another benchmark?)",
     files={"one.jsonl": jsonl({"task_id": "Mbpp/2", "solution": "x"})}),
])


def _params(overrides: dict) -> str:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for section, values in overrides.items():
        if isinstance(params.get(section), dict) and isinstance(values, dict):
            for k, v in values.items():
                old = params[section].get(k)
                params[section][k] = {**old, **v} if isinstance(old, dict) else v
        else:
            params[section] = values
    return yaml.safe_dump(params)


def _run(argv: list[str], cwd: Path, monkeypatch=None, capsys=None) -> tuple[int, str]:
    """The config CLI in this process (it is quick to call, once transformers is imported);
    stages and the other CLIs as real processes."""
    if argv[:3] == CHECK[:3] and capsys is not None:
        from codesift.check import main

        monkeypatch.chdir(cwd)
        with pytest.raises(SystemExit) as e:
            main(argv[3:])
        return e.value.code, capsys.readouterr().err
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, *argv[1:]], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=300)
    return out.returncode, out.stderr


def _setup(case: Case, tmp_path: Path, tiny: Path | None = None) -> list[str]:
    """The case's files in tmp_path (a git repo for the grid); its argv, with the tiny model."""
    (tmp_path / "params.yaml").write_text(_params(case.params))
    for rel, content in case.files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    if case.argv == GRID:
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
        for cmd in (["init", "-q"], ["add", "params.yaml"], ["commit", "-qm", "p"]):
            subprocess.run([*git, *cmd], check=True, capture_output=True)
    return [str(tiny) if a == "{tiny}" else a for a in case.argv]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_one_clear_line_and_exit_2(case, tmp_path, monkeypatch, capsys, request):
    tiny = request.getfixturevalue("tiny_dir") if "{tiny}" in case.argv else None
    code, stderr = _run(_setup(case, tmp_path, tiny), tmp_path, monkeypatch, capsys)
    assert code == 2 and "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and case.says in errors[0], stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.jsonl"))


def test_train_names_the_length_limit_in_one_short_line(tiny_dir, tmp_path):
    (tmp_path / "params.yaml").write_text(_params({"train": {"max_seq_len": 4}}))
    (tmp_path / "sel.jsonl").write_text(jsonl({"id": "a", **GOOD}, {"id": "b", **GOOD}))
    (tmp_path / "valid.jsonl").write_text("")
    argv = ["-m", "stages.train", "--model", str(tiny_dir), "--data", "sel.jsonl",
            "--valid", "valid.jsonl",
            "--templates", str(ROOT / "templates"), "--out", "out/model", "--metrics",
            "out/m.json", "--live", "out/live", "--checkpoints", "ck"]
    out = subprocess.run([sys.executable, *argv], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    [line] = [x for x in out.stderr.splitlines() if x.startswith("error: ")]
    assert "none of its records fits train.max_seq_len 4" in line and "2 prompt_too_long" in line
    assert len(line) < 300 and not Path(tmp_path / "out/model").exists()


def test_check_reports_every_problem_at_once_naming_each_file(tmp_path, monkeypatch, capsys):
    (tmp_path / "params.yaml").write_text(_params({"train": {"lr_scheduler": "cosin"}}))
    (tmp_path / "p.yaml").write_text("eval: {k: []}\nmodel: {attn_implementation: flash}\n")
    code, stderr = _run([*CHECK, "--profile", "p.yaml"], tmp_path, monkeypatch, capsys)
    lines = stderr.splitlines()
    assert code == 2 and len(lines) == 3 and lines[0].startswith("error: "), stderr
    assert any(x.startswith(("error: params.yaml: train.lr_scheduler", "params.yaml: train."
                             "lr_scheduler")) for x in lines), stderr
    assert sum(x.removeprefix("error: ").startswith("p.yaml: ") for x in lines) == 2, stderr


# --- nothing dropped unsaid ------------------------------------------------------------------

def _prepared(tmp_path: Path, source: str, params: dict | None = None) -> tuple[list, dict]:
    """Run the real prepare stage; (records, metrics)."""
    from codesift.io import read_json, read_jsonl

    (tmp_path / "params.yaml").write_text(_params({"data": {"valid_size": 0, **(params or {})}}))
    argv = [*PREPARE[:4], source, *PREPARE[5:]]
    code, stderr = _run(argv, tmp_path)
    assert code == 0, stderr
    return read_jsonl(tmp_path / "out/p.jsonl"), read_json(tmp_path / "out/m.json")


def test_a_folder_reads_compressed_and_upper_case_jsonl_and_lists_what_it_skips(tmp_path):
    import gzip

    src = tmp_path / "src"
    src.mkdir()
    (src / "a.JSONL").write_text(jsonl({**GOOD, "id": "upper"}))
    (src / "b.jsonl.gz").write_bytes(gzip.compress(jsonl({"id": "gz", "instruction": "Sub.",
                                                          "response": "a - b"}).encode()))
    (src / "notes.md").write_text("# not data\n")
    records, metrics = _prepared(tmp_path, "src")
    assert [r["id"] for r in records] == ["upper", "gz"]
    assert list(metrics["skipped_files"]) == ["src/notes.md"]
    assert "unsupported file type '.md'" in metrics["skipped_files"]["src/notes.md"]
    assert metrics["n_skipped_files"] == 1


def test_conversations_that_end_alike_are_two_records(tmp_path):
    def chat(first: str) -> dict:
        return {"chat_rounds": [{"role": "user", "content": first},
                                {"role": "assistant", "content": "Sure."},
                                {"role": "user", "content": "Now in Python."},
                                {"role": "assistant", "content": "def f(): pass"}]}
    (tmp_path / "c.jsonl").write_text(jsonl(chat("Sort a list."), chat("Reverse a string."),
                                            chat("Sort a list.")))
    records, metrics = _prepared(tmp_path, "c.jsonl")
    assert len(records) == 2 and metrics["n_duplicates"] == 1


def test_ids_are_kept_as_strings_and_a_bom_is_not_part_of_a_column(tmp_path):
    (tmp_path / "d.jsonl").write_text(jsonl({**GOOD, "id": 7}, {**GOOD, "id": "x",
                                                                "response": "pass"}))
    records, _ = _prepared(tmp_path, "d.jsonl")
    assert [r["id"] for r in records] == ["7", "x"]
    (tmp_path / "d.csv").write_bytes(b"\xef\xbb\xbfinstruction,response\nAdd.,a + b\n")
    records, _ = _prepared(tmp_path, "d.csv")
    assert [(r["instruction"], r["response"]) for r in records] == [("Add.", "a + b")]


def test_bad_bytes_in_raw_code_are_counted_with_skip(tmp_path):
    (tmp_path / "t.txt").write_bytes(b"def good():\n    return 1\n\n" + BAD_BYTE)
    (tmp_path / "params.yaml").write_text(_params({**TXT, "data": {**TXT["data"],
                                                                    "on_invalid": "skip"}}))
    code, stderr = _run([*PREPARE[:4], "t.txt", *PREPARE[5:]], tmp_path)
    metrics = json.loads((tmp_path / "out/m.json").read_text())
    assert code == 0 and metrics["n_kept"] == 1, stderr
    assert metrics["invalid_reasons"] == {"bad_utf8": 1}
    assert metrics["invalid_where"] == {"bad_utf8": ["t.txt:5"]}  # the bad byte's line


# --- the evaluator holds on odd samples ------------------------------------------------------

def test_odd_samples_fail_with_their_reason_and_loud_correct_ones_pass(monkeypatch):
    from codesift.evaluation import sanitizing
    from codesift.evaluation.benchmarks import load_benchmark
    from codesift.evaluation.execution import MAX_SOLUTION_BYTES, evaluate_samples
    from codesift.evaluation.settings import JudgeSettings

    bench = load_benchmark("humaneval").head(1)
    task = bench.tasks[0]
    good = task["prompt"] + task["canonical_solution"]
    loud = "for _ in range(200):\n    print('y' * 100_000)\n" + good  # 20 MB: past RLIMIT_FSIZE
    slow = good + "\n".join(f"z{i} = {i}" for i in range(300)) + "\n"  # the sanitizer: minutes
    huge = good + "#" + "a" * MAX_SOLUTION_BYTES + "\n"
    monkeypatch.setattr(sanitizing, "SANITIZE_TIMEOUT_S", 2.0)
    samples = [{"task_id": task["task_id"], "solution": s} for s in (good, loud, slow, huge)]
    verdicts, _ = evaluate_samples(bench, samples, JudgeSettings(sanitize=True))
    assert [v["passed"] for v in verdicts] == [True, True, False, False]
    assert verdicts[2]["detail"] == "the sanitizer did not finish in 2 s"
    assert "over the evaluator's limit of 65536 (not run)" in verdicts[3]["detail"]


def test_the_result_is_printed_even_when_out_cannot_be_written_after(tmp_path, monkeypatch):
    """--out is checked first; should the write still fail, the printed result stays."""
    task = "HumanEval/0"
    (tmp_path / "one.jsonl").write_text(jsonl({"task_id": task, "solution": "x = 1"}))
    script = ("import sys, codesift.io as io\n"
              "def boom(*a, **k): raise PermissionError(13, 'Permission denied', 'v.jsonl')\n"
              "io.write_jsonl = boom\n"
              "from codesift.evaluation.__main__ import main\n"
              "main(sys.argv[1:])\n")
    argv = ["--benchmark", "humaneval", "--samples", "one.jsonl", "--limit", "1", "--out",
            "v.jsonl", "--no-sanitize"]
    out = subprocess.run([sys.executable, "-c", script, *argv], cwd=tmp_path, text=True,
                         capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         timeout=300)
    assert out.returncode == 2 and "error: v.jsonl: Permission denied" in out.stderr
    assert json.loads(out.stdout.splitlines()[-1])["base"] == {"pass@1": 0.0}


# --- the README's table ----------------------------------------------------------------------

TABLE_HEAD = "| kind | case | command | error (as printed) |\n| --- | --- | --- | --- |"


def _command(argv: list[str]) -> str:
    return " ".join(a if a != "{tiny}" else "MODEL" for a in argv[2:4]) + (
        " ..." if len(argv) > 4 else "")


def table(lines: dict[str, str]) -> str:
    """The README's error table: each row's case, command and error line."""
    rows = [f"| {c.kind} | {c.id} | `{_command(c.argv)}` | {lines[c.id].replace('|', '/')} |"
            for c in CASES]
    return "\n".join([TABLE_HEAD, *rows])


def test_the_readme_table_is_these_rows():
    readme = (ROOT / "README.md").read_text()
    assert TABLE_HEAD in readme, "regenerate it: python -m tests.test_errors"
    rows = readme.split(TABLE_HEAD, 1)[1].strip().split("\n\n")[0].splitlines()
    assert [r.split(" | ")[1] for r in rows] == [c.id for c in CASES]
    for row, case in zip(rows, CASES, strict=True):
        assert case.says.replace("|", "/") in row, case.id


def _print_table() -> None:
    """Run every row (in a fresh folder each) and print the table with what each printed."""
    import tempfile

    lines = {}
    tiny = None
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            if "{tiny}" in case.argv and tiny is None:
                tiny = Path(tempfile.mkdtemp())
                _tiny_model(tiny)
            code, stderr = _run(_setup(case, Path(tmp), tiny), Path(tmp))
            errors = [x for x in stderr.splitlines() if x.startswith("error: ")]
            line = errors[0] if errors else f"exit {code}"
            lines[case.id] = line.replace(tmp + "/", "").replace(str(ROOT) + "/", "")
    print(table(lines))


def _tiny_model(out: Path) -> None:
    from codesift.io import read_jsonl
    from tests.conftest import make_tiny

    make_tiny(out, read_jsonl(ROOT / "data/sample/train.jsonl"))


if __name__ == "__main__":
    _print_table()
