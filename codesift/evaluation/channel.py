"""The sandbox's result channel: a pipe drained by a thread as the program writes.

Draining concurrently matters: a program writing more than a pipe buffer would otherwise
block until its timeout. See sandbox.py for who may write and what it carries.
"""

from __future__ import annotations

import os
import select
import threading
from contextlib import suppress


class Channel:
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
