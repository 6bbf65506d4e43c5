"""evalplus's sanitizer on a batch of samples, *inside* the sandbox (stdlib and evalplus).

Why in the sandbox: the sanitizer's `code_extract` parses every pair of line ranges, so its
time grows with the cube of a sample's line count (measured: 30 lines 0.03 s, 200 lines 7 s,
400 lines 95 s), and one odd sample would stall the evaluation in the evaluator's own process.
Here each sample gets `timeout_s` (SIGALRM), and the sandbox's wall clock backs that up.

`sanitizing.sanitize_all` installs this module into the sandboxed program and calls
`main(<payload>)`. Each result is one JSON line on the result channel, written as soon as it
is known: `{"i", "code"}`, or `{"i", "error"}` when the sample ran out of time or broke the
sanitizer. A batch the sandbox had to kill still keeps the lines written before.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import signal

from codesift.evaluation._wire import channel_fd


class _OutOfTime(Exception):
    pass


def _alarm(_signum: int, _frame: object) -> None:
    raise _OutOfTime


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def main(payload: bytes) -> None:
    """Sanitize each (index, code, entry point) of the payload; one result line per sample."""
    from evalplus.sanitize import sanitize

    cfg = pickle.loads(base64.b85decode(payload))
    fd = channel_fd()
    signal.signal(signal.SIGALRM, _alarm)
    for i, code, entry_point in cfg["items"]:
        signal.setitimer(signal.ITIMER_REAL, cfg["timeout_s"])
        try:
            row = {"i": i, "code": sanitize(code, entrypoint=entry_point)}
        except _OutOfTime:
            row = {"i": i, "error": f"the sanitizer did not finish in {cfg['timeout_s']:g} s"}
        except Exception as exc:  # evalplus's own failure on odd input: this sample fails
            row = {"i": i, "error": f"the sanitizer failed: {type(exc).__name__}: {exc}"[:300]}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        _write_all(fd, (json.dumps(row) + "\n").encode())
