"""Run untrusted, model-generated Python programs (HumanEval/MBPP tests) in a sandbox.

Why: generated code is arbitrary code. It may loop forever, eat memory, fork, delete files,
open sockets or kill its parent, and a careless harness counts ``sys.exit(0)`` as a pass.

How one run works (``run_program``):

* A fresh ``tempfile.mkdtemp()`` dir gets ``program.py`` and ``runner.py``. The parent starts
  ``[unshare ...] python -s -P runner.py SETTINGS FDS`` in a new session
  (``start_new_session``), cwd that dir, stdin ``/dev/null``, a minimal env (PATH, HOME=the
  dir, PYTHONHASHSEED=0, LANG) and stdout+stderr going to an unnamed temp file.
  ``-s -P`` is ``-I`` (isolated mode) minus ``-E``: ``-E`` would drop PYTHONHASHSEED=0 and
  make hash order vary per run, and the env is built from scratch here anyway.
* ``runner.py`` (the *supervisor*, source in ``_RUNNER``) runs as root if we are root. It
  sets up the filesystem view, then forks the *program process*, which sets the rlimits
  (CPU, AS, FSIZE, NPROC, CORE=0), drops to uid/gid 65534 (nobody, no groups, no capabilities,
  ``no_new_privs``), ``exec``s the code compiled under the name ``program.py`` as
  ``__main__``, and only then writes a "done" byte to a pipe. The supervisor passes the run
  iff the program exited 0 *and* the done byte came; it then writes a per-run random token,
  read from a pipe only after the fork so the program's memory never held it, to a result
  pipe that only the parent and the supervisor hold. So ``sys.exit(0)``, ``os._exit(0)``,
  closing or redirecting stdout, or printing a guessed token before the tests all fail.
  Code that deliberately hunts for the done pipe in its own process can still fake
  completion; nothing inside one process stops that. Outputs compared by value belong in
  the evaluator's own process.
* The supervisor enforces the wall-clock limit (SIGALRM). The parent keeps a backstop
  deadline (timeout + ``_GRACE_S``) and then SIGKILLs the sandbox itself.

Mechanisms, real vs. fallback (``isolation_mode()`` says which one is active):

* **namespaces** (root, and ``unshare --net --pid --fork --kill-child --mount --mount-proc
  --ipc`` works; probed once by actually sandboxing a small program):
  - network: a new net namespace with only a loopback that is down, so every connect fails;
  - processes: the supervisor is PID 1 of a new PID namespace. When it exits, or when
    ``--kill-child`` SIGKILLs it because ``unshare`` died, the kernel kills every process in
    the namespace, including ones that called ``setsid()``. The supervisor stays root, so
    the program (nobody) cannot kill it, and its parent-death signal is not cleared by a uid
    change. On the backstop deadline the parent SIGKILLs that PID 1 and waits for
    ``unshare`` to exit, which happens only after the namespace is empty;
  - files: a private mount namespace where ``/`` is remounted read-only and ``/tmp``,
    ``/var/tmp``, ``/dev/shm`` and the working dir are fresh size-capped tmpfs mounts.
    Together with the uid drop, nothing outside the sandbox is writable or deletable:
    root-owned files are protected by ordinary permissions, world-writable ones by the
    read-only ``/`` and the private tmpfs. Test dirs under ``/tmp`` are not even visible.
    Files the program writes vanish with the namespace, and the tmpfs cap bounds disk use.
    If the Python install is under a dir nobody cannot traverse (pyenv in ``/root``), a
    read-only tmpfs hides that dir and the install is bound back read-only. Without this,
    the program could not import anything;
  - IPC: a private IPC namespace, so SysV shared memory and queues do not outlive the run;
  - fork bombs: RLIMIT_NPROC is enforced because the program runs as nobody (it is *not*
    enforced for root). The limit counts all of uid 65534's processes, so concurrent
    sandboxes share it.
* **fallback** (no usable ``unshare``, or not root), with a one-time warning:
  - no network isolation, and no private ``/tmp``;
  - if root: still the uid drop (permissions protect root-owned files, not world-writable
    ones such as ``/tmp``) and an enforced RLIMIT_NPROC. The install cannot be bound back,
    so with Python under ``/root`` the program's imports fail (a warning says so);
  - processes: the supervisor is a child subreaper and SIGKILLs every remaining descendant
    (even ``setsid()`` ones, which get re-parented to it) when the program ends or times out.
    The parent also SIGKILLs the process group. If the supervisor itself dies (the parent's
    backstop kill, or a program that is not dropped to nobody kills it), ``setsid()``
    descendants can escape;
  - not root: no uid drop, and RLIMIT_NPROC counts all of the user's own processes;
  - concurrent sandboxes share one uid and one PID namespace, so they can signal each other.

Result channel (opt-in, ``channel_mb > 0``): a pipe whose write end the program finds in
``$CODESIFT_CHANNEL_FD``; a parent thread drains it (so the writer never blocks on a full pipe)
and keeps at most ``channel_mb`` MB, returned as ``Outcome.channel``. The supervisor closes its
copy, so only the program and its descendants can write. It carries bulky machine-readable
results (an evaluator's serialised outputs) apart from the human-readable tail below; being
written from inside the program, it is data *from* the program, never a verdict.

Output: stdout and stderr go to one unnamed file. RLIMIT_FSIZE bounds its size (past it, writes
fail with EFBIG: Python ignores SIGXFSZ), so the parent waits on the process, not on
``communicate()``, and reads only the tail. The working dir is removed after every run,
whatever permissions the program left.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import suppress
from dataclasses import dataclass, replace

from tqdm import tqdm

log = logging.getLogger(__name__)

_UNSHARE_ARGS = ("--net", "--pid", "--fork", "--kill-child", "--mount", "--mount-proc", "--ipc")
_PRIVATE_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
_SANDBOX_UID = 65534  # nobody
_GRACE_S = 5.0  # the parent's backstop deadline beyond the supervisor's own timeout
_DETAIL_CHARS = 2000
_PROBE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Limits:
    """Per-program resource limits."""

    timeout_s: float = 10.0  # wall clock
    cpu_s: int = 10  # RLIMIT_CPU
    memory_mb: int = 2048  # RLIMIT_AS
    file_size_mb: int = 16  # RLIMIT_FSIZE; also bounds captured output
    max_procs: int = 64  # RLIMIT_NPROC for uid 65534 (not enforced when not dropping root)


@dataclass(frozen=True)
class Outcome:
    """What happened to one program."""

    status: str  # "passed" | "failed" | "timeout" | "error" (the sandbox itself failed)
    returncode: int | None  # exit code, 128+N for signal N; None on timeout
    detail: str  # last ~2000 chars of stderr/stdout, for humans
    channel: bytes = b""  # what the program wrote to its result channel (if one was requested)


_RUNNER = r'''"""codesift sandbox supervisor, written by codesift/evaluation/sandbox.py.

Sets up the filesystem view, forks the program as an unprivileged child with rlimits, enforces
the wall clock and reports the verdict on a pipe only the parent and this process hold.
"""
import ctypes
import json
import os
import resource
import signal
import sys
import time
import traceback  # imported as root: error reports must not depend on what nobody can read
import types

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND = 1, 2, 4, 32, 4096
KEEP = 2 | 4 | 8 | 1024 | 2048 | 4096  # nosuid nodev noexec noatime nodiratime relatime
PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 36, 38
LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]


class Deadline(Exception):
    """The wall-clock budget is spent."""


def on_alarm(signum, frame):
    raise Deadline


def mount(src, target, fstype, flags, data=None):
    enc = [None if s is None else s.encode() for s in (src, target, fstype, data)]
    if LIBC.mount(enc[0], enc[1], enc[2], flags, enc[3]) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "mount %s: %s" % (target, os.strerror(err)))


def prctl(option, value):
    if LIBC.prctl(option, ctypes.c_ulong(value), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl %d failed" % option)


def blocking_ancestor(path):
    """The topmost ancestor of path that others cannot traverse (e.g. /root), or None."""
    parts = path.split("/")
    for i in range(2, len(parts)):
        anc = "/".join(parts[:i])
        if not os.stat(anc).st_mode & 0o001:
            return anc
    return None


def ro_remount(target):
    flags = os.statvfs(target).f_flag & KEEP
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)


def expose(paths):
    """Let nobody reach the Python install (e.g. pyenv under /root): a read-only tmpfs over the
    blocking ancestor hides the rest of it; the install dirs are bound back, read-only."""
    todo = [(p, blocking_ancestor(p), os.open(p, os.O_PATH | os.O_DIRECTORY)) for p in paths]
    covered = set()
    for path, anc, fd in todo:
        if anc is not None and anc not in covered:
            mount("tmpfs", anc, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
            covered.add(anc)
        if anc is not None:
            os.makedirs(path, mode=0o755, exist_ok=True)
            mount("/proc/self/fd/%d" % fd, path, None, MS_BIND)
            ro_remount(path)
        os.close(fd)
    for anc in covered:
        ro_remount(anc)


def under_private(paths, private_dirs):
    """Install dirs that a private tmpfs would hide (a checkout or venv under /tmp), each with
    an O_PATH fd opened before the tmpfs goes on, to bind it back afterwards."""
    hidden = [p for p in paths
              if any(p == d or p.startswith(d.rstrip("/") + "/") for d in private_dirs)]
    return [(p, os.open(p, os.O_PATH | os.O_DIRECTORY)) for p in hidden]


def private_fs(cfg, source):
    """Read-only /, and fresh size-capped tmpfs on the temp dirs and the working dir."""
    expose(cfg["expose"])
    keep = under_private(cfg["install"], cfg["private_dirs"])
    opts = "size=%dm,nr_inodes=16384" % cfg["tmpfs_mb"]
    for d in cfg["private_dirs"]:
        if os.path.isdir(d) and not os.path.islink(d):
            mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, opts + ",mode=1777")
    for path, fd in keep:
        os.makedirs(path, mode=0o755, exist_ok=True)
        mount("/proc/self/fd/%d" % fd, path, None, MS_BIND)
        ro_remount(path)
        os.close(fd)
    wd, uid = cfg["workdir"], cfg["uid"]
    os.makedirs(wd, exist_ok=True)  # it was hidden if it lived in one of the dirs above
    own = "%s,mode=700,uid=%d,gid=%d" % (opts, uid, uid)
    mount("tmpfs", wd, "tmpfs", MS_NOSUID | MS_NODEV, own)
    with open(cfg["program"], "w", encoding="utf-8") as f:  # for tracebacks (linecache)
        f.write(source)
    os.chmod(cfg["program"], 0o644)
    ro_remount("/")


def children_of(ppid):
    kids = []
    for name in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                if int(f.read().rsplit(b")", 1)[1].split()[1]) == ppid:
                    kids.append(int(name))
        except (OSError, ValueError, IndexError):
            pass
    return kids


def kill_descendants():
    """SIGKILL all descendants; orphans are re-parented to us (subreaper), so loop until none."""
    me = os.getpid()
    while True:
        for pid in children_of(me):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                time.sleep(0.001)
        except ChildProcessError:
            return


def run_child(cfg, source, done_w):
    """The program process: limits, drop to nobody, run the code as __main__, then 'done'."""
    os.close(cfg["result_fd"])
    os.close(cfg["token_fd"])
    for name, value in cfg["rlimits"].items():
        resource.setrlimit(getattr(resource, name), tuple(value))
    os.chdir(cfg["workdir"])
    if cfg["uid"] is not None:
        os.setgroups([])
        os.setgid(cfg["uid"])
        os.setuid(cfg["uid"])
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    main = types.ModuleType("__main__")
    main.__file__ = path = cfg["program"]
    sys.modules["__main__"], sys.argv = main, [path]
    try:
        exec(compile(source, path, "exec"), main.__dict__)
    except SystemExit:
        raise
    except BaseException as exc:
        try:
            sys.stdout.flush()  # so the traceback lands after the output, at the tail
        except Exception:
            pass
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
        sys.exit(1)
    os.write(done_w, b"D")


def wait_child(pid):
    """Reap children (orphans too, so zombies do not eat RLIMIT_NPROC) until pid exits."""
    while True:
        got, status = os.waitpid(-1, 0)
        if got == pid:
            return status


def read_nowait(fd):
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 16)
    except BlockingIOError:
        return b""


def supervise(cfg, pid, done_r):
    if cfg.get("channel_fd") is not None:
        os.close(cfg["channel_fd"])  # only the program and its descendants may write results
    token = os.read(cfg["token_fd"], 64)
    os.close(cfg["token_fd"])
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, cfg["timeout_s"])
    try:
        status = wait_child(pid)
        signal.setitimer(signal.ITIMER_REAL, 0)
    except Deadline:
        verdict, code = b"T", 128 + signal.SIGKILL
    else:
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU:
            verdict = b"T"
        else:
            verdict = token if code == 0 and read_nowait(done_r) == b"D" else b""
    if not cfg["pidns"]:
        kill_descendants()  # with a PID namespace, our exit kills everything instead
    os.write(cfg["result_fd"], verdict)
    os._exit(code)


def main():
    cfg = {**json.loads(sys.argv[1]), **json.loads(sys.argv[2])}  # settings, then fds
    os.umask(0o022)  # dirs made for the bind mounts must be traversable by nobody
    with open(cfg["program"], encoding="utf-8") as f:
        source = f.read()
    if cfg["pidns"]:
        private_fs(cfg, source)
    else:
        prctl(PR_SET_CHILD_SUBREAPER, 1)
    os.write(cfg["result_fd"], b"R")
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(done_r)
        run_child(cfg, source, done_w)
        return  # normal interpreter exit, so the program's atexit hooks and flushes run
    os.close(done_w)
    supervise(cfg, pid, done_r)


if __name__ == "__main__":
    main()
'''


def _children_of(ppid: int) -> list[int]:
    """PIDs whose parent is ppid (/proc scan: /proc/PID/task/TID/children may be missing)."""
    kids = []
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                if int(f.read().rsplit(b")", 1)[1].split()[1]) == ppid:
                    kids.append(int(name))
        except (OSError, ValueError, IndexError):
            pass
    return kids


@functools.cache
def _install_dirs() -> tuple[str, ...]:
    """Where the interpreter and its packages live (a venv and its base)."""
    return tuple(sorted({os.path.realpath(p) for p in
                         (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix)}))


def _unreachable_install_dirs() -> tuple[str, ...]:
    """Python install dirs that uid 65534 cannot reach because a parent lacks o+x."""
    dirs = {os.path.realpath(p) for p in
            (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix)}
    return tuple(sorted(d for d in dirs if not all(
        os.stat(a).st_mode & 0o001 for a in _ancestors(d))))


def _ancestors(path: str) -> list[str]:
    """'/a/b/c' -> ['/a', '/a/b'] (the root and the path itself excluded)."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(2, len(parts))]


def _rlimits(limits: Limits) -> dict[str, list[int]]:
    """Soft limits the program cannot raise; CPU gets a 1 s SIGXCPU-to-SIGKILL margin."""
    mb = 1024 * 1024
    return {
        "RLIMIT_CPU": [limits.cpu_s, limits.cpu_s + 1],
        "RLIMIT_AS": [limits.memory_mb * mb] * 2,
        "RLIMIT_FSIZE": [limits.file_size_mb * mb] * 2,
        "RLIMIT_NPROC": [limits.max_procs] * 2,
        "RLIMIT_CORE": [0, 0],
    }


def _env(workdir: str, channel_fd: int | None = None) -> dict[str, str]:
    """A minimal environment: nothing of ours (proxies, tokens, TMPDIR) leaks in."""
    path = f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin"
    env = {"PATH": path, "HOME": workdir, "PYTHONHASHSEED": "0", "LANG": "C.UTF-8"}
    if channel_fd is not None:
        env["CODESIFT_CHANNEL_FD"] = str(channel_fd)
    return env


class _Channel:
    """The result pipe: a thread drains it as the program writes, keeping at most `cap` bytes.

    Draining concurrently matters: a program writing more than a pipe buffer would otherwise
    block until its timeout. Past the cap, data is read and dropped (and the channel voided).
    """

    def __init__(self, cap_mb: int) -> None:
        self.read_fd, self.write_fd = os.pipe()
        with suppress(OSError, AttributeError):  # bigger pipe: fewer wake-ups for bulk data
            import fcntl
            fcntl.fcntl(self.write_fd, fcntl.F_SETPIPE_SZ, 1 << 20)
        self.cap, self.size, self.overflow = cap_mb << 20, 0, False
        self.chunks: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        poller = select.poll()
        poller.register(self.read_fd, select.POLLIN)
        while not self._stop.is_set():
            if not poller.poll(100):
                continue
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                return
            self.size += len(chunk)
            if self.size > self.cap:
                self.overflow, self.chunks = True, []
            else:
                self.chunks.append(chunk)

    def collect(self, timeout_s: float = 5.0) -> bytes:
        """All the program wrote (b"" after an overflow); call once the sandbox has exited.

        In fallback mode an escaped descendant may still hold the write end: stop waiting
        for EOF after `timeout_s`.
        """
        self._thread.join(timeout_s)
        self._stop.set()
        self._thread.join()
        os.close(self.read_fd)
        return b"" if self.overflow else b"".join(self.chunks)


def _prepare(workdir: str, code: str, uid: int | None) -> tuple[str, str]:
    """Write program.py and runner.py (read-only to the program); let the sandbox user in."""
    paths = []
    for name, text in (("program.py", code), ("runner.py", _RUNNER)):
        path = os.path.join(workdir, name)
        with open(path, "w", encoding="utf-8", errors="replace") as f:
            f.write(text)
        os.chmod(path, 0o644)
        paths.append(path)
    if uid is not None:
        os.chown(workdir, uid, uid)
    return paths[0], paths[1]


def _await_exit(proc: subprocess.Popen, timeout: float) -> bool:
    """Wait for proc to exit *without reaping it*, so its PGID cannot be reused meanwhile."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # no pidfd (old kernel): reaping is the only way to wait
        try:
            proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        poller = select.poll()  # not select.select: fd numbers may exceed FD_SETSIZE
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(max(0.0, timeout) * 1000))
    finally:
        os.close(fd)


def _killpg(proc: subprocess.Popen) -> None:
    """SIGKILL the sandbox's process group; only while proc is unreaped (PGID still ours)."""
    if proc.returncode is None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def _finish(proc: subprocess.Popen, deadline_s: float, namespaced: bool) -> bool:
    """Wait for the sandbox and leave nothing running; True if the backstop had to kill it."""
    if _await_exit(proc, deadline_s):
        _killpg(proc)  # stragglers still in the group (fallback mode)
        proc.wait()
        return False
    if namespaced:  # SIGKILL the namespace's PID 1: the kernel then kills everything in it,
        for pid in _children_of(proc.pid):  # and unshare exits once the namespace is empty
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _await_exit(proc, 10.0)
    _killpg(proc)
    proc.wait()
    return True


def _read_report(fd: int) -> bytes:
    """Whatever the supervisor wrote to the result pipe (never blocks)."""
    os.set_blocking(fd, False)
    chunks = []
    with suppress(BlockingIOError):
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
    return b"".join(chunks)


def _tail(out) -> str:
    """The last _DETAIL_CHARS characters of the captured output."""
    size = out.seek(0, os.SEEK_END)
    out.seek(max(0, size - 4 * _DETAIL_CHARS))
    return out.read().decode("utf-8", errors="replace")[-_DETAIL_CHARS:]


def _verdict(proc: subprocess.Popen, report: bytes, token: bytes, killed: bool, detail: str,
             limits: Limits) -> Outcome:
    """Map the supervisor's report and the exit code to an Outcome."""
    if killed or report[1:2] == b"T":
        note = f"\n[sandbox: time limit hit ({limits.timeout_s:g} s wall / {limits.cpu_s} s cpu)]"
        return Outcome("timeout", None, (detail + note)[-_DETAIL_CHARS:])
    rc = proc.returncode
    rc = 128 - rc if rc is not None and rc < 0 else rc
    if not report.startswith(b"R"):
        return Outcome("error", rc, detail)
    if rc == 0 and report[1:] == token:
        return Outcome("passed", rc, detail)
    return Outcome("failed", rc, detail)


def _launch(argv: list[str], workdir: str, limits: Limits, namespaced: bool,
            channel_mb: int = 0) -> Outcome:
    """Start the supervisor with the token and result pipes, wait, and judge."""
    token = secrets.token_hex(16).encode()
    res_r, res_w = os.pipe()
    channel = _Channel(channel_mb) if channel_mb > 0 else None
    try:
        tok_r, tok_w = os.pipe()
        try:
            os.write(tok_w, token)
        finally:
            os.close(tok_w)
        fds = {"result_fd": res_w, "token_fd": tok_r}
        if channel is not None:
            fds["channel_fd"] = channel.write_fd
        with tempfile.TemporaryFile() as out:
            try:
                proc = subprocess.Popen(
                    [*argv, json.dumps(fds)], cwd=workdir,
                    env=_env(workdir, fds.get("channel_fd")), stdin=subprocess.DEVNULL,
                    stdout=out, stderr=subprocess.STDOUT, pass_fds=tuple(fds.values()),
                    start_new_session=True)
            finally:
                os.close(res_w)
                os.close(tok_r)
                if channel is not None:
                    os.close(channel.write_fd)
            killed = _finish(proc, limits.timeout_s + _GRACE_S, namespaced)
            outcome = _verdict(proc, _read_report(res_r), token, killed, _tail(out), limits)
    finally:
        os.close(res_r)
        data = channel.collect() if channel is not None else b""
    if channel is not None and channel.overflow:
        note = f"\n[sandbox: result channel over {channel_mb} MB, dropped]"
        return replace(outcome, detail=(outcome.detail + note)[-_DETAIL_CHARS:])
    return replace(outcome, channel=data)


def _execute(code: str, limits: Limits, prefix: tuple[str, ...] | None,
             channel_mb: int = 0) -> Outcome:
    """One run in a fresh working dir, with unshare prefix or (None) in fallback mode."""
    workdir = tempfile.mkdtemp(prefix="codesift-sbx-")
    try:
        uid = _SANDBOX_UID if os.geteuid() == 0 else None
        program, runner = _prepare(workdir, code, uid)
        cfg = {"workdir": workdir, "program": program, "uid": uid, "pidns": prefix is not None,
               "rlimits": _rlimits(limits), "timeout_s": limits.timeout_s,
               "private_dirs": list(_PRIVATE_DIRS), "expose": list(_unreachable_install_dirs()),
               "install": list(_install_dirs()),
               "tmpfs_mb": max(16, 4 * limits.file_size_mb)}
        argv = [*(prefix or ()), sys.executable, "-s", "-P", runner, json.dumps(cfg)]
        return _launch(argv, workdir, limits, prefix is not None, channel_mb)
    finally:
        _remove_tree(workdir)


def _remove_tree(path: str) -> None:
    """rmtree, then, if the program chmod'ed things (matters when not root), fix and retry."""
    shutil.rmtree(path, ignore_errors=True)
    if not os.path.lexists(path):
        return
    with suppress(OSError):
        os.chmod(path, 0o700)
    for root, dirs, _ in os.walk(path):
        for d in dirs:
            full = os.path.join(root, d)
            if not os.path.islink(full):  # chmod follows links: never touch anything outside
                with suppress(OSError):
                    os.chmod(full, 0o700)
    shutil.rmtree(path, ignore_errors=True)


def _probe() -> tuple[str, ...] | None:
    """The unshare prefix that really sandboxes a small program here, or None (warned once)."""
    exe = shutil.which("unshare")
    if os.geteuid() != 0 or exe is None:
        return _fallback("not running as root" if os.geteuid() != 0 else "no unshare binary")
    check = (f"import decimal, os\n"  # decimal: an import the runner did not already do
             f"assert os.getuid() == {_SANDBOX_UID} and os.getpid() == 2\n")
    outcome = None
    for args in (_UNSHARE_ARGS, tuple(a for a in _UNSHARE_ARGS if a != "--kill-child")):
        outcome = _execute(check, Limits(timeout_s=30), (exe, *args, "--"))
        if outcome.status == "passed":
            return (exe, *args, "--")
    return _fallback(f"unshare does not work here: {outcome.status}: {outcome.detail[-300:]}")


def _fallback(why: str) -> None:
    """Log, once, that runs get no network/PID/mount isolation, and why."""
    log.warning("sandbox fallback (%s): no network, PID or mount isolation", why)
    if os.geteuid() == 0 and _unreachable_install_dirs():  # only a mount namespace fixes that
        log.warning("sandbox: uid %d cannot reach %s, so programs' imports will fail",
                    _SANDBOX_UID, ", ".join(_unreachable_install_dirs()))


@functools.cache
def _cached_probe() -> tuple[str, ...] | None:
    return _probe()


def _isolation() -> tuple[str, ...] | None:
    """The cached unshare prefix (thread-safe: the probe runs once)."""
    with _PROBE_LOCK:
        return _cached_probe()


def isolation_mode() -> str:
    """'namespaces' or 'fallback' (see the module docstring for what each one guarantees)."""
    return "namespaces" if _isolation() is not None else "fallback"


def run_program(code: str, limits: Limits = Limits(), channel_mb: int = 0) -> Outcome:
    """Run one program in the sandbox; 'passed' iff it exits 0 after running to its end.

    `channel_mb` > 0 opens the result channel (see the module docstring).
    """
    return _execute(code, limits, _isolation(), channel_mb)


def run_many(programs: list[str], limits: Limits = Limits(), workers: int = 2,
             desc: str = "execute", channel_mb: int = 0) -> list[Outcome]:
    """run_program over many programs on a thread pool; outcomes in input order."""
    prefix = _isolation()  # probe before the threads start
    outcomes: list[Outcome | None] = [None] * len(programs)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool, \
            tqdm(total=len(programs), desc=desc, unit="prog") as bar:
        futures = {pool.submit(_execute, code, limits, prefix, channel_mb): i
                   for i, code in enumerate(programs)}
        for future in as_completed(futures):
            outcomes[futures[future]] = future.result()
            bar.update(1)
    return outcomes  # type: ignore[return-value]
