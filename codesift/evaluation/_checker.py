"""The evalplus test driver that runs *inside* the sandbox (stdlib only; see evalplus_exec.py).

`evalplus_exec.program` appends `main(<payload>)` to this file's source and runs the result
with `sandbox.run_program`. Per test set (base, plus) the driver forks a child that does what
evalplus's `unsafe_execute` does (a temp dir, `reliability_guard`, `exec` of the solution with
IO swallowed, each input under evalplus's per-test `time_limit`), and is killed at evalplus's
per-set deadline. The child does not judge: it pickles each output right after its call and
streams it to the result channel; the parent unpickles with a whitelist and compares. So the
expected outputs never enter the sandbox, and an object whose `__eq__` always answers True
never reaches a comparison.

Frames on the channel: MAGIC, two little-endian uint32 (header and body sizes), a JSON header
`{"set", "i"}` (an output) or `{"set", "end": "done" | "raised" | "exec_error", ...}`, a body.
"""

import base64
import collections
import importlib.util
import io
import json
import os
import pickle
import resource
import signal
import struct
import sys
import time

MAGIC = b"CSR1"


class _Opaque:
    """Stands in for an output that cannot be pickled (a generator, a re.Match, ...)."""

    def __init__(self, type_name):
        self.type_name = type_name

    def __reduce__(self):
        return (_Opaque, (self.type_name,))


class _NpScalar:
    """Pickle name for a numpy scalar: (dtype str, Python value); rebuilt by the parent."""


class _NpArray:
    """Pickle name for a numpy array: (dtype str, shape, nested list); rebuilt by the parent."""


class _DefaultDict:
    """Pickle name for a defaultdict (its factory is often an unpicklable lambda)."""


class _OutputPickler(pickle.Pickler):
    """Pickles builtins natively; maps numpy values and defaultdicts to names the parent knows.

    `reducer_override` is not called for exact builtins, so big lists keep the C fast path.
    """

    def reducer_override(self, obj):
        kind = type(obj)
        if kind is collections.defaultdict:
            return (_DefaultDict, (dict(obj),))
        if kind.__module__ == "numpy" and "numpy" in sys.modules:
            np = sys.modules["numpy"]
            if isinstance(obj, np.generic):
                return (_NpScalar, (obj.dtype.str, obj.item()))
            if isinstance(obj, np.ndarray):
                return (_NpArray, (obj.dtype.str, obj.shape, obj.tolist()))
        return NotImplemented


def dumps(obj):
    """Pickle obj, or an _Opaque naming its type if it cannot be pickled."""
    for candidate in (obj, _Opaque(type(obj).__name__)):
        buf = io.BytesIO()
        try:
            _OutputPickler(buf, protocol=5).dump(candidate)
            return buf.getvalue()
        except BaseException:
            continue
    raise AssertionError("unreachable")


def send(fd, header, body=b""):
    head = json.dumps(header).encode()
    view = memoryview(MAGIC + struct.pack("<II", len(head), len(body)) + head + body)
    while view:
        view = view[os.write(fd, view):]


def describe(exc):
    try:
        return f"{type(exc).__name__}: {exc}"[:300]
    except BaseException:  # a hostile __str__
        return "exception"


def view_of(out, inp, extras):
    """What the parent needs to judge one output the way evalplus does."""
    fields = {"out": dumps(out)}
    if extras.get("inp"):  # oracles that evaluate the inputs after the call (find_zero, ...)
        fields["inp"] = dumps(inp)
    if extras.get("set"):  # MBPP set-equality tasks compare set(out): works for generators
        try:
            fields["set"] = dumps(set(out))
        except BaseException as exc:
            fields["set_error"] = describe(exc).encode()
    return pickle.dumps(fields, protocol=5)


def load_evalplus_utils(path):
    """evalplus/eval/utils.py by path: the same code, without its package's numpy import."""
    spec = importlib.util.spec_from_file_location("evalplus_eval_utils", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def limit_memory(nbytes):
    """evalplus's reliability_guard caps AS, DATA and STACK; here clamped to the hard limits."""
    for name in ("RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_STACK"):
        res = getattr(resource, name)
        hard = resource.getrlimit(res)[1]
        value = nbytes if hard == resource.RLIM_INFINITY else min(nbytes, hard)
        resource.setrlimit(res, (value, value))


def run_set(cfg, tests, fd):
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


def wait_or_kill(pid, deadline_s):
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


def fork(wait_s):
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


def main(payload):
    cfg = pickle.loads(base64.b85decode(payload))
    fd = int(os.environ["CODESIFT_CHANNEL_FD"])
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
