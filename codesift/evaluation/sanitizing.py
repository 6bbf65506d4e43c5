"""evalplus's sanitizer with a time limit: batches of samples in the sandbox (`_sanitizer.py`).

A sample the sanitizer cannot finish within `SANITIZE_TIMEOUT_S` fails with that reason
instead of stalling the evaluation; the samples after it in its batch are sanitized again in
a fresh sandbox, so each sandbox start (evalplus's import, about a second) serves many samples.
"""

from __future__ import annotations

import base64
import json
import math
import pickle

from codesift import CodesiftError
from codesift.evaluation.programs import embedded
from codesift.evaluation.sandbox import Limits, Outcome, run_many

SANITIZE_TIMEOUT_S = 30.0  # per sample; honest samples of a few hundred lines take seconds
BATCH = 200  # samples per sandbox
STARTUP_S = 60.0  # the sandbox's start and evalplus's import, on a loaded machine
CHANNEL_MB = 256

Result = tuple[str | None, str | None]  # (sanitized code, or why there is none)


def _program(items: list[tuple[int, str, str]]) -> str:
    blob = base64.b85encode(pickle.dumps({"items": items, "timeout_s": SANITIZE_TIMEOUT_S}))
    return (f"{embedded(('_wire', '_sanitizer'))}"
            f"from codesift.evaluation._sanitizer import main\nmain({blob!r})\n")


def _results(outcome: Outcome) -> dict[int, Result]:
    """The batch's result lines (a line cut off by a kill is dropped)."""
    out: dict[int, Result] = {}
    for line in outcome.channel.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        out[row["i"]] = (row.get("code"), row.get("error"))
    return out


def sanitize_all(items: list[tuple[str, str]], workers: int, memory_mb: int) -> list[Result]:
    """(code, entry point) -> (sanitized code, None) or (None, why it failed), in order."""
    done: dict[int, Result] = {}
    pending = list(range(len(items)))
    while pending:
        size = min(BATCH, math.ceil(len(pending) / max(1, workers)))
        batches = [pending[i:i + size] for i in range(0, len(pending), size)]
        wall = size * SANITIZE_TIMEOUT_S + STARTUP_S
        outcomes = run_many([_program([(i, *items[i]) for i in b]) for b in batches],
                            Limits(timeout_s=wall, cpu_s=math.ceil(wall) + 1,
                                   memory_mb=memory_mb), workers, "sanitize", CHANNEL_MB)
        found = [_results(o) for o in outcomes]
        if not done and not any(found) and all(o.status != "timeout" for o in outcomes):
            raise CodesiftError("evalplus's sanitizer could not run in the sandbox "
                                f"({outcomes[0].status}): {outcomes[0].portable_detail(300)}")
        pending = []
        for batch, outcome, got in zip(batches, outcomes, found, strict=True):
            done.update(got)
            missing = [i for i in batch if i not in got]
            if missing:  # the first one stopped the batch; the rest go again
                done[missing[0]] = (None, _why(outcome))
                pending += missing[1:]
    return [done[i] for i in range(len(items))]


def _why(outcome: Outcome) -> str:
    if outcome.status == "timeout":
        return f"the sanitizer did not finish in {SANITIZE_TIMEOUT_S:g} s"
    return f"the sanitizer stopped ({outcome.status}): {outcome.portable_detail(200)}"
