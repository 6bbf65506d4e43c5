"""The sandbox against plain and hostile programs.

Each hostile program must end as a non-pass while the harness lives on, with nothing outside
the sandbox changed and no process left behind. Most tests run in both modes: "namespaces"
(the real one: root and a working unshare) and "fallback" (forced by patching the probe).
As root the fallback still drops to uid 65534. When the Python install sits under a dir
nobody can traverse (pyenv in /root here), only the namespaces mode can bind it back, so
fallback programs use only modules the runner already imported: os, sys, time, resource.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import tempfile
import textwrap
import threading
import time

import pytest

from codesift.evaluation import sandbox
from codesift.evaluation.sandbox import Limits, run_many, run_program
from tests.helpers.procs import nobody_pids, proc_stat, procs_with

ROOT = os.geteuid() == 0
NAMESPACES = sandbox.isolation_mode() == "namespaces"
needs_ns = pytest.mark.skipif(not NAMESPACES, reason="needs root and a working unshare")
needs_root = pytest.mark.skipif(not ROOT, reason="needs root, to drop the program to nobody")
FAST = Limits(timeout_s=2, cpu_s=5, memory_mb=512, file_size_mb=4, max_procs=32)


@pytest.fixture(params=["namespaces", "fallback"])
def mode(request, monkeypatch) -> str:
    """Run the test under both isolation modes."""
    if request.param == "namespaces" and not NAMESPACES:
        pytest.skip("namespaces mode unavailable here (needs root and a working unshare)")
    if request.param == "fallback":
        monkeypatch.setattr(sandbox, "_isolation", lambda: None)
    return request.param


@pytest.fixture(autouse=True)
def no_leftover_workdirs(tmp_path, monkeypatch):
    """Every test: the sandbox makes its working dirs in this test's own dir (concurrent runs
    elsewhere on the machine do not matter), and none may survive a run."""
    root = tmp_path / "workdirs"
    root.mkdir()
    monkeypatch.setattr(sandbox, "WORKDIR_ROOT", str(root))
    yield str(root)
    assert list(root.iterdir()) == []


def run(code: str, limits: Limits = FAST):
    return run_program(textwrap.dedent(code), limits)


# --- verdicts ----------------------------------------------------------------------------

def test_plain_pass_and_fail(mode):
    ok = run("def add(a, b):\n    return a + b\nassert add(2, 3) == 5\nprint('fine')\n")
    assert (ok.status, ok.returncode) == ("passed", 0) and "fine" in ok.detail
    bad = run("def add(a, b):\n    return a - b\nassert add(2, 3) == 5\n")
    assert (bad.status, bad.returncode) == ("failed", 1)
    assert "program.py" in bad.detail and "AssertionError" in bad.detail  # readable traceback
    assert "runner.py" not in bad.detail
    chatty = run("print('x' * 5000)\nassert False, 'boom'\n")
    assert chatty.detail.rstrip().endswith("AssertionError: boom")  # the traceback is the tail


def test_syntax_error_fails(mode):
    out = run("def f(:\n")
    assert out.status == "failed" and "SyntaxError" in out.detail


@pytest.mark.parametrize("early_exit", [
    "import sys\nsys.exit(0)",
    "import os\nos._exit(0)",
    "raise SystemExit",
    "import os\nos.close(1)\nos.close(2)\nraise SystemExit(0)",
])
def test_exit_zero_before_the_tests_is_a_failure(mode, early_exit):
    code = f"def candidate():\n    return 4\n{early_exit}\nassert candidate() == 5\n"
    out = run(code)
    assert (out.status, out.returncode) == ("failed", 0)


def test_always_equal_object_passes_by_design(mode):
    # A naive harness is fooled by __eq__ returning True, and so is this one: the program runs
    # to its end and exits 0, and the sandbox only reports that. Guarding against it is the
    # evaluator's job (evalplus compares outputs by value in its own process); here we just
    # check that the Outcome honestly says what the program did.
    code = """
    class A:
        def __eq__(self, other):
            return True
    def candidate():
        return A()
    assert candidate() == 5
    """
    assert run(code).status == "passed"


def test_run_many_preserves_order(mode):
    programs = [f"import time\ntime.sleep({(6 - i) * 0.05})\nprint('index', {i})\n"
                f"assert {i} % 2 == 0\n" for i in range(6)]
    outcomes = run_many(programs, FAST, workers=2, desc="test")
    assert [o.status for o in outcomes] == ["passed", "failed"] * 3
    assert all(f"index {i}" in o.detail for i, o in enumerate(outcomes))


# --- requirement 1: session, cwd, env, stdin, interpreter flags ---------------------------

def test_process_setup(mode, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")  # must not leak in
    monkeypatch.setenv("SECRET_TOKEN", "hunter2")
    uid_check = "assert os.getuid() == 65534 and os.getgroups() == []" if ROOT else ""
    # In a PID namespace the session leader (unshare) is outside it, so getsid/getpgrp read 0
    # there whatever the session; test_sandbox_leads_its_own_session checks it from outside.
    session_check = ("assert os.getpid() == 2 and os.getsid(0) == os.getpgrp() == 0"
                     if mode == "namespaces" else
                     "assert os.getsid(0) == os.getpgrp() == os.getppid()  # the runner leads")
    code = f"""
    import os, sys
    assert os.getcwd() == os.environ["HOME"]
    assert os.path.basename(os.getcwd()).startswith("codesift-sbx-")
    assert sorted(os.environ) == ["HOME", "LANG", "PATH", "PYTHONHASHSEED"], dict(os.environ)
    assert os.environ["PYTHONHASHSEED"] == "0" and sys.flags.hash_randomization == 0
    assert sys.flags.no_user_site and sys.flags.safe_path  # -I without -E (see sandbox.py)
    assert sys.executable == {sys.executable!r}
    assert os.readlink("/proc/self/fd/0") == "/dev/null"
    {uid_check}
    {session_check}
    """
    out = run(code)
    assert out.status == "passed", out.detail


def test_sandbox_leads_its_own_session(mode):
    """From outside: the process the harness starts heads a new session and process group."""
    tag = secrets.token_hex(6)
    thread = threading.Thread(target=run, args=(f"import time\ntime.sleep(3)  # {tag}\n",))
    thread.start()
    try:
        deadline, top = time.monotonic() + 10, []
        while not top and time.monotonic() < deadline:
            top = [stat for stat in map(proc_stat, procs_with("codesift-sbx-"))
                   if stat and stat[0] == os.getpid()]  # our direct children
            time.sleep(0.05)
    finally:
        thread.join()
    assert top, "no sandbox process seen"
    for _ppid, pid, pgrp, sid in top:
        assert sid == pgrp == pid != os.getsid(0)


# --- requirement 2: resource limits ---------------------------------------------------------

def test_rlimits_are_set(mode):
    mb = 1024 * 1024
    limits = Limits(timeout_s=5, cpu_s=7, memory_mb=300, file_size_mb=3, max_procs=20)
    code = f"""
    import resource as r
    assert r.getrlimit(r.RLIMIT_CPU) == (7, 8)
    assert r.getrlimit(r.RLIMIT_AS) == ({300 * mb}, {300 * mb})
    assert r.getrlimit(r.RLIMIT_FSIZE) == ({3 * mb}, {3 * mb})
    assert r.getrlimit(r.RLIMIT_NPROC) == (20, 20)
    assert r.getrlimit(r.RLIMIT_CORE) == (0, 0)
    """
    out = run(code, limits)
    assert out.status == "passed", out.detail


def test_cpu_limit_is_a_timeout(mode):
    start = time.monotonic()
    out = run("while True:\n    pass\n", Limits(timeout_s=20, cpu_s=1, memory_mb=512))
    assert out.status == "timeout" and time.monotonic() - start < 10


def test_file_size_and_output_are_capped(mode):
    big_file = run("open('big', 'wb').write(b'x' * (8 << 20))\n")  # 8 MB > file_size_mb=4
    # Python ignores SIGXFSZ, so the write fails with EFBIG instead of killing the program
    assert big_file.status == "failed" and "File too large" in big_file.detail
    chatty = run("while True:\n    print('spam' * 1000)\n")
    assert chatty.status == "failed" and len(chatty.detail) <= 2000


@pytest.mark.parametrize("bomb", [
    "x = bytearray(10**11)\n",
    "x = []\nwhile True:\n    x.append(bytearray(10**6))\n",
])
def test_memory_bombs(mode, bomb):
    out = run(bomb)
    assert out.status == "failed" and "MemoryError" in out.detail


# --- requirement 3: network ----------------------------------------------------------------

@needs_ns
def test_unshare_probe_supports_kill_child():
    prefix = sandbox._isolation()
    assert "--net" in prefix and "--pid" in prefix and "--kill-child" in prefix


@needs_ns  # the fallback has no network isolation: a connect to a local listener would work
def test_no_network():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        code = f"""
        import socket
        s = socket.create_connection(("127.0.0.1", {port}), timeout=2)
        s.sendall(b"escaped")
        """
        out = run(code)
        assert out.status == "failed" and "Network is unreachable" in out.detail
        server.settimeout(0.2)
        with pytest.raises(TimeoutError):
            server.accept()


# --- requirement 4: no process left behind ---------------------------------------------------

def spawner(marker: str, popen: bool, tail: str) -> str:
    """A program that starts sleepers (argv[0] carries marker) in every way it can, then tail.

    Kinds: a fork+exec child, an os.fork() loop, a setsid() double-forked daemon whose parent
    exits, and (namespaces mode, where `import subprocess` works) subprocess.Popen.
    """
    n = 8 if popen else 7
    pop = (f"import subprocess\nsubprocess.Popen([{marker + '-popen'!r}, '1000'], "
           f"executable='/bin/sleep')\n") if popen else ""
    return f"""import os, time
def sleeper(tag):
    os.execv("/bin/sleep", [{marker!r} + tag, "1000"])
if os.fork() == 0:
    sleeper("-plain")
for _ in range(5):
    if os.fork() == 0:
        sleeper("-loop")
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        sleeper("-daemon")
    os._exit(0)
{pop}
def count():
    n = 0
    for p in os.listdir("/proc"):
        try:
            n += {marker!r}.encode() in open("/proc/%s/cmdline" % p, "rb").read()
        except OSError:
            pass
    return n
deadline = time.time() + 2
while count() < {n} and time.time() < deadline:
    time.sleep(0.02)
assert count() >= {n}, count()
print("spawned", flush=True)
{tail}
"""


@pytest.mark.parametrize("tail,status", [("", "passed"), ("time.sleep(1000)", "timeout")])
def test_no_process_left_behind(mode, tail, status):
    marker = f"codesift-test-{secrets.token_hex(6)}"
    out = run(spawner(marker, mode == "namespaces", tail), Limits(timeout_s=3))
    assert out.status == status, out.detail
    assert "spawned" in out.detail
    assert procs_with(marker) == []


@needs_ns  # fallback: the parent can only kill the process group, setsid() children escape
def test_parent_backstop_kill_leaves_nothing(monkeypatch):
    monkeypatch.setattr(sandbox, "_GRACE_S", -1.5)  # the parent fires before the supervisor
    marker = f"codesift-test-{secrets.token_hex(6)}"
    start = time.monotonic()
    out = run(spawner(marker, True, "time.sleep(1000)"), Limits(timeout_s=3.5))
    assert out.status == "timeout" and time.monotonic() - start < 3.0
    assert "spawned" in out.detail
    assert procs_with(marker) == []


@needs_root  # as root the program runs as nobody, so RLIMIT_NPROC is really enforced
def test_fork_bomb_is_bounded_and_cleaned_up(mode, no_leftover_workdirs):
    # Safe for the machine: at most max_procs=32 processes of uid 65534 exist (RLIMIT_NPROC,
    # which the kernel does not enforce for root, hence the uid drop), for at most 2 s.
    before = nobody_pids(among=no_leftover_workdirs)
    bomb = """
    import os
    assert os.getuid() == 65534, "not dropped to nobody: refusing to fork-bomb as root"
    print(os.getcwd(), flush=True)
    while True:
        try:
            os.fork()
        except OSError:
            pass
    """
    out = run(bomb, FAST)
    assert out.status == "timeout"
    workdir = out.detail.splitlines()[0]
    assert workdir.startswith(tempfile.gettempdir()) and procs_with(workdir) == []
    assert nobody_pids(among=no_leftover_workdirs) <= before


@pytest.mark.parametrize("target", ["os.getppid()", str(os.getpid()), "0"],
                         ids=["parent", "harness", "group"])  # ids: xdist workers have own pids
def test_killing_the_harness_fails_and_harness_survives(mode, target):
    out = run(f"import os\nos.kill({target}, 9)\nimport time\ntime.sleep(0.2)\n")
    assert out.status == "failed"
    os.kill(os.getpid(), 0)  # still here
    assert run("print('still working')").status == "passed"


# --- files: requirement 5 and attacks on the file system -----------------------------------

def test_workdir_removed_despite_chmod(mode):
    code = """
    import os
    os.makedirs("a/b")
    with open("a/b/f", "w") as f:
        f.write("x")
    os.symlink("/etc", "a/etc_link")
    for p in ("a/b/f", "a/b", "a"):
        os.chmod(p, 0)
    os.chmod(".", 0o500)
    print(os.getcwd())
    """
    out = run(code)
    assert out.status == "passed", out.detail
    assert not os.path.exists(out.detail.splitlines()[0])  # also the autouse fixture's check
    assert os.path.isdir("/etc") and os.stat("/etc").st_mode & 0o777 == 0o755


@pytest.fixture
def victim():
    """A root-owned dir in the host /tmp that others may read (0755) but not change."""
    path = tempfile.mkdtemp(prefix="codesift-test-victim-")
    os.chmod(path, 0o755)
    with open(os.path.join(path, "keep.txt"), "w") as f:
        f.write("precious")
    yield path
    sandbox._remove_tree(path)


@needs_root
def test_rm_rf_outside_the_sandbox(mode, victim):
    # namespaces: the host /tmp is not even visible; fallback: visible, but nobody may not delete
    code = f"""
    import os
    assert os.path.exists({victim + '/keep.txt'!r}), "victim not visible"
    os.system("rm -rf {victim}")
    assert not os.path.exists({victim!r}), "rm -rf failed"
    """
    out = run(code)
    assert out.status == "failed"
    assert ("not visible" if mode == "namespaces" else "rm -rf failed") in out.detail
    with open(os.path.join(victim, "keep.txt")) as f:
        assert f.read() == "precious"


@needs_root
def test_write_outside_the_workdir(mode, victim):
    out = run(f"open({victim + '/planted'!r}, 'w').write('x')\n")
    assert out.status == "failed"
    assert ("No such file" if mode == "namespaces" else "Permission denied") in out.detail
    assert os.listdir(victim) == ["keep.txt"]


@needs_ns  # fallback as root: nobody could write to the host's world-writable /tmp
def test_private_tmp_and_read_only_root():
    # /tmp, /var/tmp and /dev/shm are private tmpfs mounts (writes succeed but stay inside);
    # / is read-only, which protects world-writable dirs on it such as /run/lock; a test dir
    # in the host /tmp, even a world-writable one, is not visible at all.
    marker = f"codesift-test-{secrets.token_hex(6)}"
    exposed = tempfile.mkdtemp(prefix=marker)
    os.chmod(exposed, 0o777)
    with open(os.path.join(exposed, "keep.txt"), "w") as f:
        f.write("precious")
    os.chmod(os.path.join(exposed, "keep.txt"), 0o666)
    paths = [f"/tmp/{marker}", f"/var/tmp/{marker}", f"/dev/shm/{marker}"]
    code = f"""
    import os
    for p in {paths!r}:
        open(p, "w").write("x")
    assert not os.path.exists({exposed!r}), "host /tmp visible"
    os.system("rm -rf /tmp/{marker}*")
    open("/run/lock/{marker}", "w").write("x")
    """
    try:
        out = run(code)
        assert out.status == "failed" and "Read-only file system" in out.detail, out.detail
        for p in [*paths, f"/run/lock/{marker}"]:
            assert not os.path.exists(p)
        with open(os.path.join(exposed, "keep.txt")) as f:
            assert f.read() == "precious"
    finally:
        for p in [*paths, f"/run/lock/{marker}"]:
            if os.path.exists(p):
                os.remove(p)
        sandbox._remove_tree(exposed)


def test_infinite_loop_times_out(mode):
    start = time.monotonic()
    out = run("while True:\n    pass\n")
    assert out.status == "timeout" and out.returncode is None
    assert time.monotonic() - start < FAST.timeout_s + 2
    assert "time limit" in out.detail


@needs_ns
def test_imports_work_for_the_unprivileged_program():
    # The install here is under /root (0700): the mount namespace binds it back read-only.
    out = run("import decimal, json, subprocess\nprint(json.dumps([1]))\n")
    assert out.status == "passed", out.detail


def test_portable_detail_hides_what_differs_between_runs(mode):
    code = ("import os, sys, tempfile\nd = tempfile.mkdtemp()\n"
            "print(os.getcwd(), d, object(), sys.prefix)\nassert False\n")
    if mode == "fallback":  # only the runner's modules: the install may be unreachable here
        code = "import os, sys\nprint(os.getcwd(), object(), sys.prefix)\nassert False\n"
    out = run(code)
    portable = out.portable_detail()
    assert out.workdir in out.detail and out.workdir not in portable
    assert "<sandbox>" in portable and " at 0x?>" in portable and "<python>" in portable
    assert "/tmp/tmp" not in portable and portable.endswith("AssertionError\n")
