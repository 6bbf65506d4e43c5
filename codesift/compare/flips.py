"""The tasks two runs disagree on: a chart cell per flipped task and test set, and both runs'
code and verdicts under it (a section of the comparison page)."""

from __future__ import annotations

import html
import re

from codesift.compare.assets import LAST_PART, SCHEMA, Charts, slug
from codesift.compare.results import Comparison, Experiment, outcomes

DETAIL_CHARS = 800  # verdict detail shown per sample


def with_verdicts(c: Comparison, name: str) -> set[str]:
    """The benchmarks run `name` has verdicts on."""
    e = next(x for x in c.experiments if x.name == name)
    return {b for b, rows in e.verdicts.items() if rows}


def flips(c: Comparison, e: Experiment, bench: str) -> list[dict]:
    """Tasks `e` and the baseline disagree on, per test set: one passed where the other failed
    (with several samples per task: a different pass rate)."""
    base = next(x for x in c.experiments if x.name == c.baseline)
    out = []
    for s in c.sets[bench]:
        mine, theirs = outcomes(e.verdicts[bench], s), outcomes(base.verdicts[bench], s)
        common = sorted(set(mine.task_ids) & set(theirs.task_ids), key=_task_key)
        a, b = theirs.on(common).rates, mine.on(common).rates
        for t, x, y in zip(common, a, b, strict=True):
            if x != y:
                out.append({"task": t, "set": s, "winner": e.name if y > x else c.baseline,
                            "href": "#" + slug("flip", e.name, bench, t)})
    return out


def _task_key(task_id: str) -> tuple:
    """HumanEval/9 before HumanEval/10."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", task_id))


def flip_chart(c: Comparison, e: Experiment, bench: str, rows: list[dict]) -> dict:
    """One cell per flipped task and test set, coloured by the run that passed it; a click
    opens the task's code below."""
    counts = ", ".join(f"{s} tests {sum(r['set'] == s and r['winner'] == w for r in rows)}"
                       f" / {sum(r['set'] == s and r['winner'] != w for r in rows)}"
                       for s in c.sets[bench] for w in [e.name])
    order = sorted({r["task"] for r in rows}, key=_task_key)
    title = {"text": f"{e.name} vs {c.baseline} on {bench}: {len(order)} tasks flipped",
             "subtitle": f"passed only by {e.name} / only by {c.baseline}: {counts}",
             "anchor": "start"}
    return {"$schema": SCHEMA, "title": title, "data": {"values": rows},
            "width": {"step": 14}, "height": 60, "mark": {"type": "rect", "cursor": "pointer"},
            "encoding": {
                "x": {"field": "task", "type": "nominal", "sort": order, "title": None,
                      "axis": {"labelAngle": -90, "labelExpr": LAST_PART}},
                "y": {"field": "set", "type": "nominal", "title": None,
                      "sort": list(c.sets[bench])},
                "color": {"field": "winner", "type": "nominal", "title": "passed only by",
                          "legend": {"labelLimit": 400},
                          "scale": {"domain": [e.name, c.baseline],
                                    "range": ["#15803d", "#b91c1c"]}},
                "href": {"field": "href"},
                "tooltip": [{"field": "task"}, {"field": "set"}, {"field": "winner"}]},
            "config": {"legend": {"orient": "bottom"}}}


def _sample_html(name: str, rows: list[dict]) -> str:
    """The first sample of a task: its verdicts, detail and code."""
    r = rows[0]
    more = f" (sample 1 of {len(rows)}, {sum(bool(x['passed']) for x in rows)} passed)" \
        if len(rows) > 1 else ""
    status = f"base: {r.get('base_status')}, plus: {r.get('plus_status') or '-'}{more}"
    detail = str(r.get("detail") or "")[:DETAIL_CHARS]
    code = r.get("solution")
    return (f"<div class=sample><h4>{html.escape(name)}</h4><p class=status>"
            f"{html.escape(status)}</p>"
            + (f"<pre class=detail>{html.escape(detail)}</pre>" if detail else "")
            + (f"<pre><code>{html.escape(code)}</code></pre>" if isinstance(code, str)
               else "<p class=note>(no code: the run's samples were not found)</p>") + "</div>")


def flip_details(c: Comparison, e: Experiment, bench: str, rows: list[dict]) -> str:
    """Per flipped task: who passed which test set, both runs' code and verdict detail."""
    base = next(x for x in c.experiments if x.name == c.baseline)
    parts = []
    for task in sorted({r["task"] for r in rows}, key=_task_key):
        won = {r["winner"]: [x["set"] for x in rows if x["task"] == task
                             and x["winner"] == r["winner"]] for r in rows if r["task"] == task}
        said = "; ".join(
            f"<span class={'by-base' if w == c.baseline else 'by-run'}>passed by "
            f"{'the baseline' if w == c.baseline else 'this run'} only</span> "
            f"({' and '.join(s)} tests)" for w, s in won.items())
        mine = [r for r in e.verdicts[bench] if r["task_id"] == task]
        theirs = [r for r in base.verdicts[bench] if r["task_id"] == task]
        parts.append(f"<details id={slug('flip', e.name, bench, task)}><summary>"
                     f"<b>{html.escape(task)}</b>: {said}</summary>"
                     f"<div class=pair>{_sample_html(e.name, mine)}"
                     f"{_sample_html(c.baseline, theirs)}</div></details>")
    return "<div class=flips>" + "".join(parts) + "</div>"


def flip_section(c: Comparison, chart: Charts) -> str:
    base = with_verdicts(c, c.baseline)
    parts = []
    for e in c.experiments:
        if e.name == c.baseline:
            continue
        for b in c.benchmarks:
            if b not in base or not e.verdicts.get(b):
                who = c.baseline if b not in base else e.name
                if e.verdicts.get(b) or b in base:
                    parts.append(f"<p class=empty>{html.escape(e.name)} on {b}: {who} has no "
                                 "verdicts there, so no task can be compared.</p>")
                continue
            rows = flips(c, e, b)
            if not rows:
                tested = any(c.figures[(e.name, b, s)].test for s in c.sets[b])
                parts.append(f"<p>{html.escape(e.name)} on {b}: " + (
                    "no task flipped.</p>" if tested else
                    f"no task in common with {html.escape(c.baseline)}.</p>"))
                continue
            parts.append(f"<div class=card>{chart(flip_chart(c, e, b, rows))}"
                         f"{flip_details(c, e, b, rows)}</div>")
    return "".join(parts) or "<p class=empty>No experiment besides the baseline.</p>"
