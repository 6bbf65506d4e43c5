"""Sample files as experiments: how specs name files and benchmarks, and (with ../shared/data)
the published DeepSeek-Coder generations through the CLI, full92K against ours-sn10K."""

from __future__ import annotations

import json

import pytest

from codesift import CodesiftError
from codesift.compare.samples import evaluate_files, sample_files
from codesift.evaluation.settings import JudgeSettings
from tests.conftest import ROOT, SHARED

KNOWN = ["humaneval", "humaneval_plus", "mbpp", "mbpp_plus"]
PEER, EVALPLUS = SHARED / "peer_samples", SHARED / "evalplus"
FULL, OURS = "full92K-full_vllm_temp0.0-sanitized", "ours-sn10K_vllm_temp0.0-sanitized"
# Published pass@1 in % (base tests, base + plus tests), ../shared/data/README.md
PUBLISHED = {(FULL, "humaneval_plus"): (67.1, 62.2), (OURS, "humaneval_plus"): (69.5, 63.4),
             (FULL, "mbpp_plus"): (74.9, 61.6), (OURS, "mbpp_plus"): (77.2, 63.2)}


def test_specs_name_their_benchmark_files_folders_and_globs(tmp_path):
    for sub in ("he", "mb"):
        (tmp_path / sub).mkdir()
        for stem in ("a", "b"):
            (tmp_path / sub / f"{stem}.jsonl").write_text("")
    (tmp_path / "he/notes.json").write_text("{}")
    files = sample_files([str(tmp_path / "he"), f"mbpp={tmp_path}/mb/b*.jsonl",
                          f"mbpp={tmp_path / 'mb/a.jsonl'}"], "humaneval_plus", KNOWN)
    assert {k: [p.relative_to(tmp_path).as_posix() for p in v] for k, v in files.items()} == {
        "humaneval_plus": ["he/a.jsonl", "he/b.jsonl"], "mbpp": ["mb/b.jsonl", "mb/a.jsonl"]}
    with pytest.raises(CodesiftError, match="name its benchmark"):
        sample_files([str(tmp_path / "he")], None, KNOWN)
    with pytest.raises(CodesiftError, match="name its benchmark"):
        sample_files([f"humaneval_pluss={tmp_path / 'he'}"], None, KNOWN)
    with pytest.raises(CodesiftError, match="no .jsonl sample file there"):
        sample_files([f"mbpp={tmp_path}/none*.jsonl"], None, KNOWN)


def test_one_experiment_per_file_name_across_benchmarks(tmp_path):
    """humaneval (packaged tasks, no dataset file): the first 3 tasks, as completions."""
    from codesift.evaluation.benchmarks import load_benchmark

    tasks = load_benchmark("humaneval").tasks[:3]
    good = [{"task_id": t["task_id"], "completion": t["canonical_solution"]} for t in tasks]
    bad = [{"task_id": t["task_id"], "completion": "    return None\n"} for t in tasks]
    for name, rows in (("good", good), ("bad", bad)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = JudgeSettings(sanitize=False, cache_dir=str(tmp_path / "cache"))
    exps = evaluate_files({"humaneval": [tmp_path / "good.jsonl", tmp_path / "bad.jsonl"]}, cfg,
                          {}, limit=3)
    assert [e.name for e in exps] == ["good", "bad"]
    assert [[v["passed"] for v in e.verdicts["humaneval"]] for e in exps] == [[True] * 3,
                                                                              [False] * 3]
    # each row keeps the code judged, for the page's task flips
    assert [v["solution"] for v in exps[1].verdicts["humaneval"]] == [
        t["prompt"] + "    return None\n" for t in tasks]


def _cells(md: str, name: str) -> list[str]:
    line = next(x for x in md.splitlines() if x.startswith(f"| {name} |"))
    return [c.strip() for c in line.strip("|").split("|")][1:]


@pytest.mark.slow
@pytest.mark.skipif(not (PEER.is_dir() and EVALPLUS.is_dir()),
                    reason="needs ../shared/data (peer samples, evalplus files)")
def test_peer_samples_reproduce_the_published_figures_with_their_tests(tmp_path):
    """Both runs on HumanEval(+) and MBPP(+), as `python -m codesift.compare --samples` runs
    them (ground truth in the pipeline's cache, computed once per machine): every task's
    verdict is the published one, the table shows the published figures, and each difference
    carries its paired test. (The one full reproduction of the published verdicts.)"""
    from codesift.compare.__main__ import template_path
    from codesift.compare.page import write_report
    from codesift.compare.results import compare
    from codesift.evaluation.reference import differences, published_statuses

    files = sample_files([f"humaneval_plus={PEER}/humaneval/*-sanitized.jsonl",
                          f"mbpp_plus={PEER}/mbpp/*-sanitized.jsonl"], None, KNOWN)
    cfg = JudgeSettings(sanitize=False, cache_dir=str(ROOT / JudgeSettings().cache_dir))
    exps = evaluate_files(files, cfg, {
        "humaneval_plus": str(EVALPLUS / "HumanEvalPlus-v0.1.10.jsonl.gz"),
        "mbpp_plus": str(EVALPLUS / "MbppPlus-v0.2.0.jsonl.gz")})
    for exp in exps:
        for bench, verdicts in exp.verdicts.items():
            sub = "humaneval" if bench.startswith("humaneval") else "mbpp"
            published = published_statuses(PEER / sub / f"{exp.name}_eval_results.json")
            assert differences(verdicts, published, plus=True) == [], (exp.name, bench)
    args = type("Args", (), {"html_template": None, "repo": ROOT})()
    md_path, _ = write_report(compare(exps, "full92K", 2000, 0), tmp_path,
                              template_path(args))
    md = md_path.read_text()
    assert f"Baseline: **{FULL}**" in md
    for (name, bench), published in PUBLISHED.items():
        cells = _cells(md, name)
        col = ["humaneval_plus", "mbpp_plus"].index(bench) * 4
        for got, want in zip((cells[col], cells[col + 2]), published, strict=True):
            value = float(got.split(" [")[0])
            assert value == want, (name, bench, got, want)
            low, high = map(float, got.split(" [")[1].rstrip("]").split(", "))
            assert low < value < high
        tests = (cells[col + 1], cells[col + 3])
        assert tests == ("baseline", "baseline") if name == FULL else \
            all(t.startswith("+") and ", p=" in t for t in tests)
