"""The report page in a real browser: headless Chromium renders it offline and hands back the
DOM after the scripts ran, every console message, or a screenshot.

The simplest reliable way here is Chromium's own command line, no DevTools client:
`--dump-dom` prints the DOM once `--virtual-time-budget` of page time has passed (the charts
draw in that time: vega-embed resolves in microtasks), and `--enable-logging=stderr` writes
every console message and uncaught exception to stderr as an `INFO:CONSOLE` line. That log
does not tell console.error from console.log, so a page is held to writing nothing to the
console at all (errors and vega's warnings alike). Every host lookup fails and every
connection goes to a closed port: a page that tries to load anything from outside breaks.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from codesift import CodesiftError

CHROMIUMS = ("chromium", "chromium-headless-shell", "chromium-browser", "google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--proxy-server=127.0.0.1:9"]
CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\] (.*)$")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


def chromium() -> str | None:
    """The first Chromium on PATH (Debian's `chromium`: scripts/setup_system.sh)."""
    return next((p for p in map(shutil.which, CHROMIUMS) if p), None)


@dataclass
class Rendered:
    dom: str  # the document after its scripts ran
    console: list[str]  # console messages and uncaught exceptions, as Chromium logs them


def _run(page: Path, extra: list[str], timeout: float) -> subprocess.CompletedProcess:
    exe = chromium()
    if exe is None:
        raise CodesiftError("no chromium on PATH (apt-get install chromium, or "
                            "scripts/setup_system.sh)")
    with tempfile.TemporaryDirectory(prefix="codesift-chromium-") as profile:
        proc = subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *extra,
                               page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=timeout)
    if proc.returncode:
        raise CodesiftError(f"chromium failed on {page} (exit {proc.returncode}): "
                            f"{proc.stderr.strip()[-500:]}")
    return proc


def render(page: Path, width: int = 1400, height: int = 1000, budget_ms: int = 10_000,
           timeout: float = 120) -> Rendered:
    """The page's DOM after `budget_ms` of (virtual) page time at this window size."""
    proc = _run(page, [f"--window-size={width},{height}", "--enable-logging=stderr", "--v=0",
                       f"--virtual-time-budget={budget_ms}", "--dump-dom"], timeout)
    console = [m.group(1) for line in proc.stderr.splitlines() if (m := CONSOLE.search(line))]
    return Rendered(proc.stdout, console)


def screenshot(page: Path, png: Path, width: int = 1400, height: int = 2000,
               budget_ms: int = 10_000, timeout: float = 120) -> Path:
    """A PNG of the page's top `height` pixels at `width`."""
    png.parent.mkdir(parents=True, exist_ok=True)
    _run(page, [f"--window-size={width},{height}", f"--virtual-time-budget={budget_ms}",
                f"--screenshot={png.resolve()}"], timeout)
    return png


@dataclass
class Chart:
    """What one chart element holds once drawn."""

    svgs: int = 0
    marks: int = 0  # drawn data marks: children of vega's `role-mark` groups
    text: str = ""  # its words when it drew nothing (a failure message)
    classes: set[str] = field(default_factory=set)


class _Charts(HTMLParser):
    """Every `<div class=chart>` by id, with the SVGs and data marks inside it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.charts: dict[str, Chart] = {}
        self.stack: list[tuple[str, Chart | None, bool]] = []  # (tag, chart, in a mark group)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        chart, in_marks = self.stack[-1][1:] if self.stack else (None, False)
        if tag == "div" and "chart" in classes:
            chart = self.charts.setdefault(a.get("id") or str(len(self.charts)),
                                           Chart(classes=classes))
        if chart is not None:
            chart.svgs += tag == "svg"
            chart.marks += in_marks
        if tag not in VOID:
            self.stack.append((tag, chart, in_marks or (tag == "g" and "role-mark" in classes)))

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        chart = self.stack[-1][1] if self.stack else None
        if chart is not None and not chart.svgs:
            chart.text += data


def charts(dom: str) -> dict[str, Chart]:
    """The page's charts by element id, as the browser left them."""
    parser = _Charts()
    parser.feed(dom)
    parser.close()
    return parser.charts
