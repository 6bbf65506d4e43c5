import itertools
from math import comb

import pytest

from codesift import CodesiftError
from codesift.evaluation.benchmarks import load_benchmark
from codesift.evaluation.execution import evaluate, pass_at_k
from codesift.evaluation.sandbox import Limits


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
    verdicts, summary = evaluate(bench, good + bad + exit0, ks=[1, 2, 3], limits=Limits())
    assert [v["passed"] for v in verdicts] == [True] * 8 + [False] * 16
    assert summary["n_tasks"] == 8
    assert summary["pass@1"] == pytest.approx(1 / 3)
    assert summary["pass@2"] == pytest.approx(1 - comb(2, 2) / comb(3, 2))
    assert summary["pass@3"] == 1.0


def test_every_task_needs_a_sample_and_unknown_tasks_are_errors():
    bench = load_benchmark("humaneval").head(2)
    with pytest.raises(CodesiftError, match="1 tasks have no sample"):
        evaluate(bench, [{"task_id": bench.tasks[0]["task_id"], "solution": ""}], [1], Limits())
    with pytest.raises(CodesiftError, match="not in humaneval"):
        evaluate(bench, [{"task_id": "HumanEval/999", "solution": ""}], [1], Limits())


def test_pass_at_k_is_omitted_when_n_is_smaller_than_k():
    bench = load_benchmark("humaneval").head(1)
    task = bench.tasks[0]
    s = [{"task_id": task["task_id"], "solution": task["prompt"] + "    pass\n"}]
    _, summary = evaluate(bench, s, ks=[1, 10], limits=Limits())
    assert "pass@1" in summary and "pass@10" not in summary


def test_checks_see_prompt_helpers_that_the_sanitizer_drops():
    # HumanEval/38's check calls encode_cyclic, defined in the prompt; evalplus's sanitizer
    # keeps only what decode_cyclic reaches, so the program must start with the prompt.
    bench = load_benchmark("humaneval").subset(["HumanEval/38"])
    task = bench.tasks[0]
    sample = {"task_id": task["task_id"], "solution": task["prompt"] + task["canonical_solution"]}
    verdicts, _ = evaluate(bench, [sample], [1], sanitize=True)
    assert verdicts[0]["passed"], verdicts[0]["detail"]
