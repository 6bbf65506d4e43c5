"""evalplus's benchmarks, reported as evalplus reports them.

* `humaneval_plus`, `mbpp_plus`: base and plus tests ("HumanEval" / "MBPP" = base tests,
  "HumanEval+" / "MBPP+" = base and plus tests);
* `mbpp`: MBPP+'s tasks with base tests only (what evalplus reports as "MBPP").

Files come from `eval.datasets` (`evalplus_data.py`), the expected outputs from evalplus's
ground truth (`ground_truth.py`). Each solution runs on every test set in one sandbox
(`programs.evalplus_program`), and its outputs are judged here with evalplus's comparison
(`judging.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from codesift.evaluation._wire import read_streams
from codesift.evaluation.benchmarks import Benchmark, Judge, Verdict, register
from codesift.evaluation.evalplus_data import (
    HUMANEVAL_PLUS,
    MBPP_PLUS,
    EvalplusFile,
    checked_file,
    read_problems,
)
from codesift.evaluation.ground_truth import expected_outputs
from codesift.evaluation.judging import FAIL, PASS, SetResult, judge_set
from codesift.evaluation.programs import (
    CHANNEL_MB,
    cpu_budget,
    evalplus_program,
    sandbox_budget,
    test_sets,
)
from codesift.evaluation.sandbox import Limits, Outcome, run_program
from codesift.evaluation.settings import JudgeSettings


@dataclass(frozen=True)
class EvalplusBenchmark(Benchmark):
    spec: EvalplusFile = HUMANEVAL_PLUS
    path: str = ""  # the dataset file
    digest: str = ""  # md5 of its content: the ground-truth cache key
    problems: Mapping[str, dict] = field(default_factory=dict)  # all of the file's tasks

    @property
    def dataset_key(self) -> str:
        return self.spec.key

    def completion_stops(self) -> list[str]:
        from evalplus.provider.utility import extra_eos_for_direct_completion

        return extra_eos_for_direct_completion(self.spec.dataset)

    def ground_truth(self, cache_dir: str | Path) -> dict[str, dict]:
        """evalplus's expected outputs and reference times of the tasks (cached)."""
        ids = [t["task_id"] for t in self.tasks]
        return expected_outputs(self.spec, dict(self.problems), self.digest, ids, cache_dir)

    def judge(self, cfg: JudgeSettings, expected: dict[str, dict] | None = None) -> Judge:
        """`expected`: the ground truth if already loaded (else read from eval.cache_dir)."""
        if expected is None:
            expected = self.ground_truth(cfg.cache_dir)

        def judge(task: dict, solution: str) -> Verdict:
            results, outcome = check_solution(self.spec.dataset, task, solution,
                                              expected[task["task_id"]], self.sets, cfg)
            return verdict(results, outcome)
        return judge


def check_solution(dataset: str, task: dict, solution: str, expected: dict,
                   names: tuple[str, ...], cfg: JudgeSettings
                   ) -> tuple[dict[str, SetResult], Outcome]:
    """Run one solution on the named test sets in one sandbox; judge each set."""
    sets = test_sets(task, expected, names, cfg)
    wall = sandbox_budget(sets)
    limits = Limits(timeout_s=wall, cpu_s=cpu_budget(wall), memory_mb=cfg.memory_mb)
    outcome = run_program(evalplus_program(solution, task, dataset, sets, cfg), limits,
                          CHANNEL_MB)
    try:
        streams = read_streams(outcome.channel)
    except Exception as e:  # anything but the driver's frames: the sample wrote there
        bad = SetResult(FAIL, None, f"{type(e).__name__}: {e}"[:300])
        return {name: bad for name in names}, outcome
    return {t["name"]: judge_set(dataset, task, t["inputs"], expected[t["name"]],
                                 streams.get(t["name"])) for t in sets}, outcome


def verdict(results: dict[str, SetResult], outcome: Outcome) -> Verdict:
    base, plus = results["base"], results.get("plus")
    passed = base.status == PASS and (plus is None or plus.status == PASS)
    why = "; ".join(f"{n}: {r.status}, {r.why}" for n, r in results.items() if r.why)
    why = outcome.portable(why)  # errors the sample raised may name its dir or addresses
    if not passed and outcome.detail.strip():
        why += f"\n[sandbox {outcome.status}] {outcome.portable_detail(300)}"
    return Verdict(passed, base.status, plus.status if plus else None, why[-800:])


def _load(name: str, spec: EvalplusFile, sets: tuple[str, ...],
          datasets: Mapping[str, str]) -> EvalplusBenchmark:
    path, digest = checked_file(spec, datasets)
    problems = read_problems(spec, path)
    return EvalplusBenchmark(name, list(problems.values()), sets, spec, str(path), digest,
                             problems)


@register("humaneval_plus")
def humaneval_plus(datasets: Mapping[str, str]) -> EvalplusBenchmark:
    return _load("humaneval_plus", HUMANEVAL_PLUS, ("base", "plus"), datasets)


@register("mbpp_plus")
def mbpp_plus(datasets: Mapping[str, str]) -> EvalplusBenchmark:
    return _load("mbpp_plus", MBPP_PLUS, ("base", "plus"), datasets)


@register("mbpp")
def mbpp(datasets: Mapping[str, str]) -> EvalplusBenchmark:
    return _load("mbpp", MBPP_PLUS, ("base",), datasets)
