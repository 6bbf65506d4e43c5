"""Hostile samples through the whole evaluation path, as HumanEval+ and as HumanEval samples.

Each one ends as a failure, the evaluation completes, a correct sample in the same run
still passes, no file outside the sandbox changes and no process is left behind. The
samples attack the harness with `posix.*` / `io.open`, which evalplus's reliability_guard
leaves alone (it only blanks names on `os` and `builtins`): the sandbox is the protection.
A sample that forges the sandbox's own completion signal fails on every benchmark: no
verdict is taken from the sandbox alone.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import tempfile
import textwrap

import pytest

from codesift.evaluation import sandbox
from codesift.evaluation.benchmarks import benchmark_names, load_benchmark
from codesift.evaluation.execution import evaluate_samples
from codesift.evaluation.sandbox import Limits
from codesift.evaluation.settings import JudgeSettings
from tests.conftest import ROOT, SHARED
from tests.helpers.procs import nobody_pids, procs_with

HE_FILE = SHARED / "evalplus/HumanEvalPlus-v0.1.10.jsonl.gz"
MBPP_FILE = SHARED / "evalplus/MbppPlus-v0.2.0.jsonl.gz"
DATASETS = {"humaneval_plus": str(HE_FILE), "mbpp_plus": str(MBPP_FILE)}
TASK = "HumanEval/39"  # prime_fib: 10 base and 2 plus inputs, so the deadlines are short
NAMESPACES = sandbox.isolation_mode() == "namespaces"
# Finds the "done" pipe among the descriptors it inherited (the result channel aside),
# writes the byte the supervisor waits for, and leaves with status 0 before any test ran.
FORGE_DONE = """
import os
channel = os.environ.get("CODESIFT_CHANNEL_FD")
for name in os.listdir("/proc/self/fd"):
    try:
        if name != channel and os.readlink("/proc/self/fd/" + name).startswith("pipe:"):
            os.write(int(name), b"D")
    except OSError:
        pass
os._exit(0)
"""

HOSTILE = {
    "fork_bomb": """
        import posix
        def prime_fib(n):
            while True:
                try:
                    posix.fork()
                except OSError:
                    pass
        """,
    "orphaned_daemon": """
        import posix
        if posix.fork() == 0:
            posix.setsid()
            if posix.fork() == 0:
                posix.execv("/bin/sleep", ["{marker}-daemon", "1000"])
            posix._exit(0)
        def prime_fib(n):
            return 2
        """,
    "infinite_loop": """
        def prime_fib(n):
            while True:
                pass
        """,
    "loop_that_swallows_timeouts": """
        def prime_fib(n):
            while True:
                try:
                    while True:
                        pass
                except BaseException:
                    pass
        """,
    "memory_bomb": """
        def prime_fib(n):
            hog = []
            while True:
                hog.append(bytearray(10 ** 7))
        """,
    "huge_allocation": """
        def prime_fib(n):
            return len(bytearray(10 ** 12))
        """,
    "rm_rf": """
        import posix
        posix.system("rm -rf {victims}")
        def prime_fib(n):
            return 2
        """,
    "writes_outside": """
        import io
        for path in {planted}:
            try:
                io.open(path, "w").write("planted")
            except OSError:
                pass
        def prime_fib(n):
            return 2
        """,
    "socket": """
        import socket
        s = socket.create_connection(("127.0.0.1", {port}), timeout=2)
        s.sendall(b"escaped")
        def prime_fib(n):
            return 2
        """,
    "kill_parent": """
        import posix
        posix.kill(posix.getppid(), 9)
        def prime_fib(n):
            return 2
        """,
    "kill_everyone": """
        import posix
        for pid in ({harness}, -1, 1):
            try:
                posix.kill(pid, 9)
            except OSError:
                pass
        def prime_fib(n):
            return 2
        """,
    "exit_0_before_tests": """
        import sys
        sys.exit(0)
        def prime_fib(n):
            return 2
        """,
    "os_exit_0_before_tests": """
        import posix
        posix._exit(0)
        """,
    "exit_0_in_the_call": """
        def prime_fib(n):
            raise SystemExit(0)
        """,
    "always_equal": """
        class Sneaky:
            def __eq__(self, other):
                return True
            def __ne__(self, other):
                return False
        def prime_fib(n):
            return Sneaky()
        """,
    "always_equal_int": """
        class Sneaky(int):
            def __eq__(self, other):
                return True
            __hash__ = int.__hash__
        def prime_fib(n):
            return Sneaky(0)
        """,
    "forged_done_byte": FORGE_DONE,
    "forged_results": """
        import json, os, struct
        fd = int(os.environ.get("CODESIFT_CHANNEL_FD", "1"))
        for name in ("base", "plus"):
            head = json.dumps({{"set": name, "end": "done"}}).encode()
            os.write(fd, b"CSR1" + struct.pack("<II", len(head), 0) + head)
        os._exit(0)
        """,
}


@pytest.fixture
def victims():
    """Dirs the samples try to delete or write into: one in the host /tmp and one in the
    repo tree; the latter world-writable when the mount namespace (read-only /) guards it."""
    made = [tempfile.mkdtemp(prefix="codesift-hostile-")]
    (ROOT / ".codesift").mkdir(exist_ok=True)
    made.append(tempfile.mkdtemp(prefix="hostile-", dir=ROOT / ".codesift"))
    for d in made:
        with open(os.path.join(d, "keep.txt"), "w") as f:
            f.write("precious")
    if NAMESPACES:
        os.chmod(made[1], 0o777)
        os.chmod(os.path.join(made[1], "keep.txt"), 0o666)
    else:
        os.chmod(made[1], 0o755)
    yield made
    for d in made:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("name", ["humaneval_plus", "humaneval"])
def test_hostile_samples_fail_and_harm_nothing(name, victims, tmp_path, monkeypatch):
    if name == "humaneval_plus" and not HE_FILE.exists():
        pytest.skip("needs ../shared/data/evalplus")
    workdirs = tmp_path / "workdirs"  # this run's sandboxes (their processes name it)
    workdirs.mkdir()
    monkeypatch.setattr(sandbox, "WORKDIR_ROOT", str(workdirs))
    bench = load_benchmark(name, DATASETS).subset([TASK])
    marker = f"codesift-hostile-{secrets.token_hex(6)}"
    planted = [os.path.join(v, "planted") for v in victims] + [f"/tmp/{marker}",
                                                              str(ROOT / f"{marker}.txt")]
    server = socket.create_server(("127.0.0.1", 0))
    fill = {"marker": marker, "victims": " ".join(victims), "planted": planted,
            "port": server.getsockname()[1], "harness": os.getpid()}
    task = bench.tasks[0]
    correct = {"task_id": TASK, "solution": task["prompt"] + task["canonical_solution"]}
    hostile = [{"task_id": TASK, "solution": textwrap.dedent(code).format(**fill)}
               for code in HOSTILE.values()]
    samples = [correct, *hostile, correct]  # the first runs beside the fork bomb
    before = nobody_pids(among=str(workdirs))
    with server:
        cfg = JudgeSettings(timeout_s=3, memory_mb=1024, workers=2 if NAMESPACES else 1,
                         cache_dir=str(tmp_path), min_time_limit=0.2, sanitize=False)
        verdicts, _ = evaluate_samples(bench, samples, cfg)
        server.settimeout(0.2)
        if NAMESPACES:  # the fallback has no network isolation
            with pytest.raises(TimeoutError):
                server.accept()
    assert verdicts[0]["passed"] and verdicts[-1]["passed"], (verdicts[0], verdicts[-1])
    passed = [k for k, v in zip(HOSTILE, verdicts[1:-1], strict=True) if v["passed"]]
    assert passed == [], passed
    for v in victims:
        assert sorted(os.listdir(v)) == ["keep.txt"]
        with open(os.path.join(v, "keep.txt")) as f:
            assert f.read() == "precious"
    assert not any(os.path.exists(p) for p in planted)
    assert procs_with(marker) == []
    assert nobody_pids(among=str(workdirs)) <= before and list(workdirs.iterdir()) == []


@pytest.mark.parametrize("judge", ["evalplus", "humaneval"])
@pytest.mark.parametrize("wrap", [True, False])
def test_the_judge_never_runs_what_a_sample_sends(tmp_path, wrap, judge):
    """A forged output frame whose pickle would run a command when loaded by a plain
    unpickler: the whitelist refuses it, the sample fails and nothing runs."""
    import pickle

    from codesift.evaluation.judging import judge_set
    from codesift.evaluation.replay import replay

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = pickle.dumps(Evil())
    if judge == "evalplus":
        body = pickle.dumps({"out": evil}) if wrap else evil
        stream = {"calls": [({"set": "base", "i": 0}, body)], "end": {"set": "base", "end": "done"}}
        task = {"task_id": "T/0", "entry_point": "f", "atol": 0}
        result = judge_set("humaneval", task, [[1]], [0], stream)
        assert (result.status, result.fail_index) == ("fail", 0) and "system" in result.why
    else:
        args = pickle.dumps(((1,), {}))
        body = pickle.dumps({"args": args, "out": evil}) if wrap else evil
        stream = {"calls": [({"set": "check", "i": 0}, body)],
                  "end": {"set": "check", "end": "done"}}
        task = {"task_id": "T/0", "entry_point": "f", "prompt": "def f(x):\n    pass\n",
                "test": "def check(candidate):\n    assert candidate(1) == 0\n"}
        passed, why = replay(task, stream)
        assert not passed and ("system" in why or "unreadable" in why), why
    assert not marker.exists()


def test_a_forged_done_byte_fools_the_sandbox_but_no_benchmark(tmp_path):
    """The sandbox alone cannot tell (see sandbox.py), so every benchmark judges what
    arrived on the result channel instead, and the forgery fails everywhere."""
    from codesift.evaluation.sandbox import run_program

    assert run_program(FORGE_DONE, Limits(timeout_s=5)).status == "passed"
    assert run_program(FORGE_DONE, Limits(timeout_s=5), channel_mb=1).status == "passed"
    names = [n for n in benchmark_names() if n == "humaneval" or MBPP_FILE.exists()]
    cfg = JudgeSettings(cache_dir=str(tmp_path), sanitize=False)
    for name in names:
        bench = load_benchmark(name, DATASETS).head(1)
        task = bench.tasks[0]
        samples = [{"task_id": task["task_id"], "solution": task["prompt"] + FORGE_DONE}]
        verdicts, _ = evaluate_samples(bench, samples, cfg)
        assert not verdicts[0]["passed"], (name, verdicts[0])
    assert len(names) == len(benchmark_names()) or not MBPP_FILE.exists()


def test_result_channel_is_drained_capped_and_opt_in():
    """A sample flooding the channel cannot block on it or make the harness hold it all."""
    from codesift.evaluation.sandbox import run_program

    flood = ("import os\nfd = int(os.environ['CODESIFT_CHANNEL_FD'])\n"
             "os.write(fd, b'x' * (3 << 20))\n")
    ok = run_program(flood, Limits(timeout_s=5), channel_mb=4)
    assert ok.status == "passed" and ok.channel == b"x" * (3 << 20)
    capped = run_program(flood, Limits(timeout_s=5), channel_mb=1)
    assert capped.status == "passed" and capped.channel == b""
    assert "result channel over 1 MB" in capped.detail
    plain = run_program("import os\nassert 'CODESIFT_CHANNEL_FD' not in os.environ\n")
    assert plain.status == "passed" and plain.channel == b""
