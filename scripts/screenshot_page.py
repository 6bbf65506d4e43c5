"""A screenshot of a report page as headless Chromium draws it, kept small for the README:
the top of the page at a given width, reduced to a palette (charts are flat colours, so 64
colours read the same at a fraction of the bytes).

    python scripts/screenshot_page.py reports/compare.html docs/compare.png --height 1900
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codesift.compare.browser import render, screenshot  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("page", type=Path)
    p.add_argument("png", type=Path)
    p.add_argument("--width", type=int, default=1400)
    p.add_argument("--height", type=int, default=1900)
    p.add_argument("--colors", type=int, default=64, help="palette size (default: 64)")
    args = p.parse_args()
    from PIL import Image  # matplotlib's dependency

    console = render(args.page, args.width, args.height).console
    if console:  # a screenshot of a broken page is no use in a README
        sys.exit(f"the page wrote to the console: {console[:3]}")
    with tempfile.TemporaryDirectory() as tmp:
        raw = screenshot(args.page, Path(tmp) / "raw.png", args.width, args.height)
        img = Image.open(raw).convert("RGB").quantize(args.colors, dither=Image.Dither.NONE)
        args.png.parent.mkdir(parents=True, exist_ok=True)
        img.save(args.png, optimize=True)
    print(f"{args.png}: {args.png.stat().st_size // 1024} KiB, {args.width}x{args.height}")


if __name__ == "__main__":
    main()
