"""Judging an evalplus test set: evalplus's comparison, in the evaluator's own process.

Hand-written because evalplus fuses it with running the sample: `unsafe_execute` compares
each output right after the call, inside the (unsandboxed) test process. Here the sample runs
in the sandbox and only its outputs cross, as plain data (`_wire`); `judge_set` is a port of
that comparison loop of evalplus 0.3.1, statement for statement, on those outputs, and
`final_status` the rest of `untrusted_check`. The oracles and `is_floats` are evalplus's own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesift.evaluation._wire import Opaque, read_fields

PASS, FAIL, TIMEOUT = "pass", "fail", "timeout"  # evalplus's status strings
_VIEWS = ("out", "inp", "set")


@dataclass(frozen=True)
class SetResult:
    """One sample's verdict on one test set."""

    status: str  # pass | fail | timeout
    fail_index: int | None
    why: str


def _matches(dataset: str, entry_point: str, atol: float, view: dict, exp: object) -> bool:
    """`exact_match` with evalplus's special oracles (MBPP's, by entry point)."""
    from evalplus.eval._special_oracle import (
        MBPP_OUTPUT_NOT_NONE_TASKS,
        MBPP_OUTPUT_SET_EQ_TASKS,
        _digit_distance_nums,
        _surface_Area,
    )

    out, inp = view["out"], view["inp"]
    exact_match = out == exp
    if dataset == "mbpp":
        if "are_equivalent" == entry_point:  # Mbpp/164 special oracle
            exact_match = exact_match or True
        elif "sum_div" == entry_point:  # Mbpp/295 special oracle
            exact_match = exact_match or out == 0
        elif "surface_Area" == entry_point:  # Mbpp/581 special oracle
            exact_match = exact_match or abs(out - _surface_Area(*inp)) <= atol
        elif "digit_distance_nums" == entry_point:  # Mbpp/558 special oracle
            exact_match = exact_match or out == _digit_distance_nums(*inp)
        elif entry_point in MBPP_OUTPUT_SET_EQ_TASKS:
            exact_match = view["set"] == set(exp)  # set(out), taken in the sandbox
        elif entry_point in MBPP_OUTPUT_NOT_NONE_TASKS:
            if isinstance(out, bool):
                exact_match = out == exp
            else:
                exact_match = exp == (out is not None)
    return exact_match


def judge_set(dataset: str, task: dict, inputs: list, expected: list, stream: dict | None
              ) -> SetResult:
    """The set's result from the driver's stream ({"calls", "end"}), as evalplus's
    untrusted_check with fast_check: including the `atol` that stays raised once a float
    output was seen and find_zero's `continue` past the bookkeeping (so HumanEval/32 never
    passes, as in evalplus)."""
    from evalplus.eval import is_floats
    from evalplus.eval._special_oracle import _poly

    stream = stream or {"calls": [], "end": None}
    entry_point, atol = task["entry_point"], task["atol"]
    details, progress = [False] * len(inputs), 0
    for i, (_head, body) in enumerate(stream["calls"][:len(inputs)]):
        out = None
        try:
            view = read_fields(body, _VIEWS)
            if "out" not in view:
                raise ValueError("malformed output frame")
            out, exp = view["out"], expected[i]
            view.setdefault("inp", inputs[i])
            exact_match = _matches(dataset, entry_point, atol, view, exp)
            if dataset == "humaneval":
                if "find_zero" == entry_point:
                    assert abs(_poly(*view["inp"], out)) <= atol
                    continue
            if atol == 0 and is_floats(exp):
                atol = 1e-6  # enforce atol for float comparison
            if not exact_match and atol != 0:
                assert type(out) is type(exp)
                if isinstance(exp, (list, tuple)):
                    assert len(out) == len(exp)
                assert np.allclose(out, exp, rtol=1e-07, atol=atol)
            else:
                assert exact_match
        except Exception as e:
            why = f"{out.type_name} is not plain data" if isinstance(out, Opaque) else repr(e)
            return SetResult(FAIL, i, f"test {i}: wrong output ({why[:200]})")
        details[i] = True
        progress += 1
    return final_status(stream, inputs, details, progress)


def final_status(stream: dict, inputs: list, details: list[bool], progress: int) -> SetResult:
    """The rest of untrusted_check: what ended the run, then 'all tests ran and passed'."""
    end = stream["end"]
    if end is None:  # killed at the deadline, or died: evalplus's status stays unknown
        return SetResult(TIMEOUT, len(stream["calls"]), "no result (time limit or crash)")
    error = str(end.get("error", ""))[:300]
    if end["end"] == "exec_error":
        return SetResult(FAIL, None, f"solution did not load: {error}")
    if end["end"] == "raised":
        i = end.get("i")
        return SetResult(FAIL, i if isinstance(i, int) else None, f"test {i}: {error}")
    if end["end"] != "done" or len(stream["calls"]) != len(inputs):
        return SetResult(FAIL, None, "malformed result channel")
    if progress != len(inputs) or not all(details):
        return SetResult(FAIL, progress, "not every test was counted (evalplus bookkeeping)")
    return SetResult(PASS, None, "")
