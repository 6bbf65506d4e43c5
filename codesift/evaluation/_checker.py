"""The evalplus test driver that runs *inside* the sandbox (stdlib only).

`programs.evalplus_program` installs this module and `_wire` into the sandboxed program and
calls `main(<payload>)`. Per test set (base, plus) the driver forks a child that does what
evalplus's `unsafe_execute` does (a temp dir, `reliability_guard`, `exec` of the solution with
IO swallowed, each input under evalplus's per-test `time_limit`), and is killed at evalplus's
per-set deadline. The child does not judge: it pickles each output right after its call and
streams it to the result channel (`_wire`'s frames, one stream per set); the evaluator
compares (`judging.py`). So the expected outputs never enter the sandbox, and an object whose
`__eq__` always answers True never reaches a comparison.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import os
import pickle
import resource
import signal
import time
import types

from codesift.evaluation._wire import channel_fd, describe, dumps, fields, send


def view_of(out: object, inp: object, extras: dict) -> bytes:
    """What the evaluator needs to judge one output the way evalplus does."""
    views = {"out": dumps(out)}
    if extras.get("inp"):  # oracles that evaluate the inputs after the call (find_zero, ...)
        views["inp"] = dumps(inp)
    if extras.get("set"):  # MBPP set-equality tasks compare set(out): works for generators
        try:
            views["set"] = dumps(set(out))
        except BaseException as exc:
            views["set_error"] = describe(exc).encode()
    return fields(**views)


def load_evalplus_utils(path: str) -> types.ModuleType:
    """evalplus/eval/utils.py by path: the same code, without its package's numpy import."""
    spec = importlib.util.spec_from_file_location("evalplus_eval_utils", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def limit_memory(nbytes: int) -> None:
    """evalplus's reliability_guard caps AS, DATA and STACK; here clamped to the hard limits."""
    for name in ("RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_STACK"):
        res = getattr(resource, name)
        hard = resource.getrlimit(res)[1]
        value = nbytes if hard == resource.RLIM_INFINITY else min(nbytes, hard)
        resource.setrlimit(res, (value, value))


def run_set(cfg: dict, tests: dict, fd: int) -> None:
    """evalplus's unsafe_execute, reporting outputs instead of comparing them."""
    os.setpgid(0, 0)
    utils = load_evalplus_utils(cfg["utils_path"])
    name = tests["name"]
    with utils.create_tempdir():
        limit_memory(cfg["memory_bytes"])
        utils.reliability_guard()  # its disabled os/builtins shape verdicts as in evalplus
        env = {}
        try:
            with utils.swallow_io():
                exec(cfg["code"], env)
                fn = env[cfg["entry_point"]]
        except BaseException as exc:
            send(fd, {"set": name, "end": "exec_error", "error": describe(exc)})
            return
        for i, inp in enumerate(tests["inputs"]):
            try:
                with utils.time_limit(tests["time_limits"][i]):
                    with utils.swallow_io():
                        out = fn(*inp)
            except BaseException as exc:
                send(fd, {"set": name, "end": "raised", "i": i, "error": describe(exc)})
                return
            send(fd, {"set": name, "i": i}, view_of(out, inp, cfg["extras"]))
        send(fd, {"set": name, "end": "done"})


def wait_or_kill(pid: int, deadline_s: float) -> None:
    """Wait for the set's child until evalplus's per-set deadline, then kill its process group
    (the child, if still running, and whatever it started) and reap it. WNOWAIT: the child stays
    unreaped while its group is killed, so the ids cannot have been reused."""
    end = time.monotonic() + deadline_s
    flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
    while os.waitid(os.P_PID, pid, flags) is None and time.monotonic() < end:
        time.sleep(0.002)
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass
    os.waitpid(pid, 0)


def fork(wait_s: float) -> int:
    """os.fork, retried while uid 65534's process limit is full: RLIMIT_NPROC is shared with
    concurrent sandboxes, and a fork bomb there should not fail this sample. Fork bombs are
    short-lived (killed with their test set's process group), so waiting usually succeeds."""
    end = time.monotonic() + wait_s
    while True:
        try:
            return os.fork()
        except BlockingIOError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def main(payload: bytes) -> None:
    """Run every test set of the pickled payload, each in its own forked child."""
    cfg = pickle.loads(base64.b85decode(payload))
    fd = channel_fd()
    for name in cfg["preload"]:  # what evalplus's test process has loaded before its guard
        try:
            importlib.import_module(name)
        except BaseException:
            pass
    for tests in cfg["sets"]:
        pid = fork(cfg["fork_wait_s"])
        if pid == 0:
            try:
                run_set(cfg, tests, fd)
            finally:
                os._exit(0)
        wait_or_kill(pid, tests["deadline_s"])
