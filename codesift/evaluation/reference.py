"""Compare our verdicts with a published evalplus `*_eval_results.json`, task by task."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from codesift import CodesiftError


def published_statuses(path: str | Path) -> dict[str, list[tuple[str, str | None]]]:
    """task_id -> [(base_status, plus_status) per sample, in completion order]."""
    try:
        results = json.loads(Path(path).read_text(encoding="utf-8"))["eval"]
    except (OSError, ValueError, KeyError) as e:
        raise CodesiftError(f"{path}: not an evalplus eval_results file ({e})")
    return {tid: [(r["base_status"], r.get("plus_status")) for r in rows]
            for tid, rows in results.items()}


def differences(verdicts: list[dict], published: dict[str, list[tuple]], plus: bool
                ) -> list[dict]:
    """Tasks (of those evaluated) whose (base, plus) statuses differ from the published."""
    ours: dict[str, list[tuple]] = defaultdict(list)
    for v in verdicts:
        ours[v["task_id"]].append((v["base_status"], v["plus_status"] if plus else None))
    diffs = []
    for tid in sorted(ours):
        theirs = [(b, p if plus else None) for b, p in published.get(tid, [])]
        if ours.get(tid, []) != theirs:
            detail = next((v["detail"] for v in verdicts if v["task_id"] == tid), "")
            diffs.append({"task_id": tid, "ours": ours.get(tid, []), "published": theirs,
                          "detail": detail[:300]})
    return diffs
