"""/proc scans the sandbox tests use to prove no process is left behind (no psutil)."""

from __future__ import annotations

import glob
import os


def procs_with(needle: str) -> list[int]:
    """PIDs other than ours whose argv contains needle."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if needle.encode() in f.read():
                        found.append(int(name))
            except OSError:
                pass
    return found


def nobody_pids(among: str = "") -> set[int]:
    """PIDs running with real uid 65534, the sandbox user; with `among`, only those whose
    argv contains it (a test's own sandbox dirs: other runs on the machine use uid 65534 too,
    and a sandboxed process forked from the runner keeps its argv)."""
    pids = set()
    for path in glob.glob("/proc/[0-9]*/status"):
        try:
            with open(path) as f:
                uid_line = next(line for line in f if line.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if uid_line.split()[1] == "65534":
            pids.add(int(path.split("/")[2]))
    return pids & set(procs_with(among)) if among else pids


def proc_stat(pid: int) -> tuple[int, int, int, int] | None:
    """(ppid, pid, pgrp, session) from /proc/PID/stat, or None if it has gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), pid, int(fields[2]), int(fields[3])
