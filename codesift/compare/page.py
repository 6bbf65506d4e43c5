"""The comparison as one offline web page: a summary in words, forest plots (each run's
estimate and 95% interval against the baseline's band), the tasks that flipped between each
run and the baseline (with both runs' code), what each subset is made of next to what it
scored, and the sortable tables.

Charts are vega-lite specs drawn by the vega bundle that configs/plots/template.html inlines
(the `dvc plots` template; no CDN). The styling and the table sorting are a few lines of CSS
and JS written here by hand, for the same reason: the page loads nothing from anywhere.
Where a chart has nothing to draw (no shared benchmark, a baseline without verdicts), the
page says why in words in its place; `problems` gives the same sentences to the CLI.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from codesift import CodesiftError
from codesift.compare.report import LOSSES, notes, pass_table, plots, run_table
from codesift.compare.results import Comparison, Experiment, Figure, outcomes

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
SET_NAMES = {("humaneval_plus", "base"): "HumanEval", ("humaneval_plus", "plus"): "HumanEval+",
             ("mbpp_plus", "base"): "MBPP", ("mbpp_plus", "plus"): "MBPP+",
             ("humaneval", "base"): "HumanEval", ("mbpp", "base"): "MBPP"}
COLOURS = {"baseline": "#6b7280", "better, p < 0.05": "#15803d", "worse, p < 0.05": "#b91c1c",
           "not significant": "#2563eb", "no test": "#a3a3a3"}  # of a run against the baseline
VERDICTS = list(COLOURS)
SPREAD = ["single run", "beyond its seed spread", "within its seed spread"]
ROW_PX = 26  # forest plot height per row
LABEL_PX = 150  # longer run names are cut (the tooltip has them): two forests a row at 1400 px
SEL_ROW_PX = 44  # selection chart height per row: three lines of scores
DETAIL_CHARS = 800  # verdict detail shown per sample
LAST_PART = "split(datum.label, '/')[length(split(datum.label, '/')) - 1]"  # HumanEval/9: 9


def set_name(bench: str, test_set: str) -> str:
    return SET_NAMES.get((bench, test_set), f"{bench} {test_set}")


def slug(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(parts)).strip("-")


def _p(p: float) -> str:
    return f"{p:.2f}" if p >= 0.01 else f"{p:.1g}" if p >= 1e-4 else "< 0.0001"


# --- words --------------------------------------------------------------------------------

def _with_verdicts(c: Comparison, name: str) -> set[str]:
    e = next(x for x in c.experiments if x.name == name)
    return {b for b, rows in e.verdicts.items() if rows}


def problems(c: Comparison) -> list[str]:
    """What the page cannot show, one sentence each (also printed by the CLI)."""
    out = []
    if not c.benchmarks:
        return ["no experiment has results on any benchmark: nothing to compare"]
    base = _with_verdicts(c, c.baseline)
    for b in c.benchmarks:
        if b not in base:
            out.append(f"the baseline {c.baseline} has no verdicts on {b}: no paired test and "
                       "no task flips there")
    for e in c.experiments:
        mine = _with_verdicts(c, e.name)
        if e.name != c.baseline and mine and base and not mine & base:
            out.append(f"{e.name} shares no benchmark with the baseline {c.baseline} "
                       f"({', '.join(sorted(mine))} vs {', '.join(sorted(base))}): "
                       "nothing to test it against")
    return out


def _figure_words(f: Figure, where: str) -> str:
    t = f.test
    words = (f"{100 * t.difference:+.1f} points on {where}, "
             f"{'significant' if t.significant else 'not significant'}, p = {_p(t.p_value)}")
    if f.within_seed_spread:
        words += ", within its seed spread"
    return words


def summary(c: Comparison) -> list[str]:
    """One line per experiment against the baseline, in words."""
    lines = []
    for e in c.experiments:
        if e.name == c.baseline:
            continue
        parts = [_figure_words(f, set_name(b, s)) for b in c.benchmarks for s in c.sets[b]
                 if (f := c.figures[(e.name, b, s)]).test]
        lines.append(f"{e.name}: " + "; ".join(parts) if parts else
                     f"{e.name}: no paired test against {c.baseline} (no verdicts on a "
                     "benchmark both ran)")
    return lines


# --- forest plots ---------------------------------------------------------------------------

def _verdict(f: Figure, is_baseline: bool) -> str:
    if is_baseline:
        return VERDICTS[0]
    if f.test is None:
        return VERDICTS[4]
    if not f.test.significant:
        return VERDICTS[3]
    return VERDICTS[1] if f.test.difference > 0 else VERDICTS[2]


def _spread(f: Figure) -> str:
    return SPREAD[0] if f.within_seed_spread is None else SPREAD[2 if f.within_seed_spread
                                                                  else 1]


def _label(f: Figure, is_baseline: bool) -> str:
    text = "baseline" if is_baseline else (
        f"{100 * f.test.difference:+.1f} pts, p = {_p(f.test.p_value)}" if f.test else "no test")
    if f.seeds > 1:
        sd = f", sd {100 * f.seed_sd:.1f}" if f.seed_sd is not None else ""
        text += f" ({f.seeds} seeds{sd})"
    if f.within_seed_spread:
        text += " ~ seed spread"
    return text


def forest_rows(c: Comparison, bench: str, test_set: str) -> list[dict]:
    rows = []
    for e in c.experiments:
        f = c.figures[(e.name, bench, test_set)]
        if f.value is None:
            continue
        i, is_base = f.interval, e.name == c.baseline
        rows.append({"experiment": e.name, "estimate": 100 * f.value,
                     "low": 100 * i.low if i else None, "high": 100 * i.high if i else None,
                     "verdict": _verdict(f, is_base), "spread": _spread(f),
                     "label": _label(f, is_base)})
    return rows


def _forest(title: str, rows: list[dict], axis: str, band: tuple[float, float, float] | None
            ) -> dict:
    """Rows top to bottom, the baseline's interval as a grey band and its value as a dashed
    rule; the difference and p-value in a text column beside."""
    y = {"field": "experiment", "type": "nominal", "sort": [r["experiment"] for r in rows],
         "title": None, "axis": {"labelLimit": LABEL_PX}}
    seen = {r["verdict"] for r in rows}  # the legend lists what is there, in a fixed colour
    colour = {"field": "verdict", "type": "nominal", "title": "against the baseline",
              "scale": {"domain": [v for v in VERDICTS if v in seen],
                        "range": [COLOURS[v] for v in VERDICTS if v in seen]}}
    ends = [v for r in rows for v in (r["low"], r["estimate"], r["high"]) if v is not None]
    ends += list(band or ())  # vega-lite leaves x2 (the interval's high end) out of the domain
    x = {"field": "estimate", "type": "quantitative", "title": axis,
         "scale": {"zero": False, "domain": [min(ends), max(ends)], "nice": True}}
    layers: list[dict] = []
    if band:
        value, low, high = band
        if high > low:
            layers.append({"data": {"values": [{"low": low, "high": high}]},
                           "mark": {"type": "rect", "color": "#9ca3af", "opacity": 0.22},
                           "encoding": {"x": {**x, "field": "low"}, "x2": {"field": "high"}}})
        layers.append({"data": {"values": [{"estimate": value}]},
                       "mark": {"type": "rule", "color": "#6b7280", "strokeDash": [4, 3]},
                       "encoding": {"x": x}})
    if any(r["low"] is not None for r in rows):
        layers.append({"mark": {"type": "rule", "strokeWidth": 2},
                       "encoding": {"y": y, "x": {**x, "field": "low"}, "x2": {"field": "high"},
                                    "color": colour}})
    tips = [{"field": "experiment"}, {"field": "estimate", "format": ".2f"},
            {"field": "low", "format": ".2f"}, {"field": "high", "format": ".2f"},
            {"field": "label", "title": "vs baseline"}, {"field": "spread"}]
    point = {"y": y, "x": x, "color": colour, "tooltip": tips}
    if any(r["spread"] != SPREAD[0] for r in rows):  # arms of several seeds: mark the spread
        point["shape"] = {"field": "spread", "type": "nominal", "title": "seeds",
                          "scale": {"domain": SPREAD, "range": ["circle", "square", "diamond"]}}
    layers.append({"mark": {"type": "point", "filled": True, "size": 90}, "encoding": point})
    height = ROW_PX * len(rows)
    text = {"width": 140, "height": height, "view": {"stroke": None},
            "mark": {"type": "text", "align": "left", "x": 4},
            "encoding": {"y": {**y, "axis": None}, "text": {"field": "label"},
                         "color": colour}}
    return {"$schema": SCHEMA, "title": title, "data": {"values": rows},
            "hconcat": [{"width": 300, "height": height, "layer": layers}, text],
            "resolve": {"scale": {"y": "shared"}},
            "config": {"legend": {"orient": "bottom", "direction": "horizontal"}}}


def pass_forest(c: Comparison, bench: str, test_set: str) -> dict | str:
    """The forest plot of pass@1 on one test set, or why there is none."""
    rows = forest_rows(c, bench, test_set)
    if not rows:
        return f"No experiment has a pass@1 on {set_name(bench, test_set)}."
    base = c.figures[(c.baseline, bench, test_set)]
    band = (100 * base.value, 100 * base.interval.low, 100 * base.interval.high) \
        if base.interval else (100 * base.value, 100 * base.value, 100 * base.value) \
        if base.value is not None else None
    title = f"{set_name(bench, test_set)} ({bench}, {test_set} tests): pass@1 with 95% interval"
    return _forest(title, rows, "pass@1 (%)", band)


def loss_forest(c: Comparison, key: str) -> dict | None:
    """A held-out loss per experiment (lower is better), the baseline's as a rule."""
    base = next((e.facts.get(key) for e in c.experiments if e.name == c.baseline), None)
    rows = []
    for e in c.experiments:
        v = e.facts.get(key)
        if not isinstance(v, int | float):
            continue
        is_base = e.name == c.baseline
        rows.append({"experiment": e.name, "estimate": v, "low": None, "high": None,
                     "verdict": VERDICTS[0] if is_base else VERDICTS[4], "spread": SPREAD[0],
                     "label": "baseline" if is_base else
                     f"{v - base:+.4f}" if base is not None else ""})
    if not rows:
        return None
    band = (base, base, base) if base is not None else None
    return _forest(f"{key} (lower is better; no interval: one value per run)", rows, key, band)


# --- task flips -----------------------------------------------------------------------------

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


# --- what was selected ------------------------------------------------------------------------

def _shares(e: Experiment) -> tuple[dict | None, dict | None]:
    """(label shares of the subset, cluster shares of the subset), None where unknown."""
    labels = e.facts.get("labels")
    sel = labels.get("selected") if isinstance(labels, dict) else None
    clusters = e.facts.get("cluster_shares")
    cl = {f"cluster {r['cluster']}": r["selected"] for r in clusters
          if isinstance(r, dict) and "cluster" in r and "selected" in r} \
        if isinstance(clusters, list) else None
    return (sel if isinstance(sel, dict) and sel else None), (cl or None)


def _pool(exps: list[Experiment]) -> tuple[dict | None, dict | None]:
    """The pool's label and cluster shares (the first experiment that reports them)."""
    labels = next((lab["pool"] for e in exps if isinstance(lab := e.facts.get("labels"), dict)
                   and isinstance(lab.get("pool"), dict)), None)
    clusters = next((e.facts["cluster_shares"] for e in exps
                     if isinstance(e.facts.get("cluster_shares"), list)), None)
    cl = {f"cluster {r['cluster']}": r["full"] for r in clusters
          if isinstance(r, dict) and "full" in r} if clusters else None
    return labels, cl


def _stack(title: str, rows: list[dict], order: list[str], what: str) -> dict:
    return {"title": title, "width": 210, "height": SEL_ROW_PX * len(order),
            "data": {"values": rows}, "mark": "bar",
            "encoding": {"y": {"field": "experiment", "type": "nominal", "sort": order,
                               "title": None, "axis": {"labelLimit": LABEL_PX}},
                         "x": {"field": "share", "type": "quantitative", "stack": "normalize",
                               "title": "share", "axis": {"format": "%"}},
                         "color": {"field": what, "type": "nominal", "title": what,
                                   "legend": {"orient": "bottom", "columns": 3}},
                         "tooltip": [{"field": "experiment"}, {"field": what},
                                     {"field": "share", "format": ".1%"}]}}


def _metric_text(c: Comparison, e: Experiment) -> str:
    b = next((b for b in c.benchmarks if c.figures[(e.name, b, c.sets[b][-1])].value
              is not None), None)
    parts = []
    if b:
        f = c.figures[(e.name, b, c.sets[b][-1])]
        parts.append(f"{set_name(b, c.sets[b][-1])} {100 * f.value:.1f}")
    if isinstance(e.facts.get("valid_loss"), int | float):
        parts.append(f"valid_loss {e.facts['valid_loss']:.3f}")
    if isinstance(e.facts.get("flawed_share"), int | float):
        parts.append(f"flawed {100 * e.facts['flawed_share']:.0f}%")
    return "\n".join(parts) or "-"


def selection_chart(c: Comparison) -> dict | str:
    """Label mix and cluster shares of each subset (and of the pool), beside its scores."""
    picked = {e.name: _shares(e) for e in c.experiments}
    if not any(lab or cl for lab, cl in picked.values()):
        return ("No experiment reports what its subset is made of (labels or cluster shares: "
                "metrics/select.json and metrics/select/cluster_shares.json; sample files and "
                "older runs have none).")
    pool_labels, pool_clusters = _pool(c.experiments)
    order = ["pool"] + [n for n, (lab, cl) in picked.items() if lab or cl]
    views = []
    for k, what, pool in ((0, "label", pool_labels), (1, "cluster", pool_clusters)):
        rows = [{"experiment": n, what: key, "share": v}
                for n, shares in [("pool", pool)] + [(n, p[k]) for n, p in picked.items()]
                if shares for key, v in shares.items() if isinstance(v, int | float)]
        if rows:
            views.append(_stack(f"{what} mix", rows, order, what))
    texts = [{"experiment": "pool", "text": "(all the data)"}] + [
        {"experiment": e.name, "text": _metric_text(c, e)} for e in c.experiments
        if e.name in order]
    views.append({"title": "scored", "width": 200, "height": SEL_ROW_PX * len(order),
                  "view": {"stroke": None}, "data": {"values": texts},
                  "mark": {"type": "text", "align": "left", "x": 4, "lineBreak": "\n"},
                  "encoding": {"y": {"field": "experiment", "type": "nominal", "sort": order,
                                     "axis": None}, "text": {"field": "text"}}})
    return {"$schema": SCHEMA, "hconcat": views, "resolve": {"scale": {"color": "independent"}}}


# --- the page -----------------------------------------------------------------------------

# Hand-written: the page may load nothing (no CDN, no stylesheet or script library).
CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1f2937; background: #f8fafc; margin: 0; }
main { max-width: 1360px; margin: 0 auto; padding: 16px 20px 40px; }
h1 { font-size: 1.5em; margin: 0.3em 0; } h2 { font-size: 1.2em; margin: 1.6em 0 0.5em; }
h3 { font-size: 1em; margin: 1em 0 0.3em; } h4 { margin: 0 0 0.3em; font-size: 0.95em; }
.summary { background: #fff; border-left: 4px solid #2563eb; padding: 8px 14px;
           border-radius: 4px; box-shadow: 0 1px 2px #0001; }
.summary li { margin: 2px 0; } .summary ul { padding-left: 1.2em; margin: 0.3em 0; }
.warn { background: #fef3c7; border-left: 4px solid #d97706; padding: 8px 14px;
        border-radius: 4px; margin: 8px 0; }
.grid { display: flex; flex-wrap: wrap; gap: 14px; }
.card { background: #fff; border-radius: 6px; box-shadow: 0 1px 3px #0002; padding: 10px;
        max-width: 100%; overflow-x: auto; box-sizing: border-box; }
.chart.failed, .card p.empty { color: #92400e; }
.note, .notes { color: #4b5563; font-size: 0.9em; }
.tablewrap { overflow-x: auto; background: #fff; border-radius: 6px; width: fit-content;
             max-width: 100%; box-shadow: 0 1px 3px #0002; }
table { border-collapse: collapse; font-size: 0.9em; white-space: nowrap; }
th, td { padding: 5px 10px; border-bottom: 1px solid #e5e7eb; text-align: left; }
th { background: #f1f5f9; cursor: pointer; user-select: none; position: sticky; top: 0; }
th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
tbody tr:hover { background: #f8fafc; }
details { background: #fff; border-radius: 4px; margin: 4px 0; padding: 4px 10px;
          box-shadow: 0 1px 2px #0001; }
details:target, details[open] { outline: 2px solid #93c5fd; }
summary { cursor: pointer; }
.flips { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr));
         gap: 0 10px; }
.flips details[open] { grid-column: 1 / -1; }
.by-run { color: #15803d; } .by-base { color: #b91c1c; }
.pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr));
        gap: 10px; margin: 6px 0; }
.sample pre { background: #0f172a; color: #e2e8f0; padding: 8px; border-radius: 4px;
              overflow-x: auto; font-size: 12px; margin: 4px 0; }
.sample pre.detail { background: #fee2e2; color: #7f1d1d; white-space: pre-wrap; }
.status { margin: 0; font-size: 0.85em; color: #4b5563; }
@media (max-width: 900px) { main { padding: 10px; } body { font-size: 14px; } }
"""

# Draws every chart (SVG, so its marks are in the DOM), and says in its place when one fails.
# Compiled here rather than by vega-embed, whose version check warns on "v5" schemas even with
# matching versions (a false alarm on every chart would hide a real warning in the console).
# sorts a table by the clicked column (numbers as numbers, blanks last); opens the flipped
# task a chart cell links to.
JS = """
document.querySelectorAll('.chart[data-spec]').forEach(function (el) {
  var spec = JSON.parse(document.getElementById(el.dataset.spec).textContent), vg;
  try { vg = vegaLite.compile(spec).spec; delete vg.$schema; }
  catch (err) { vg = Promise.reject(err); }
  Promise.resolve(vg).then(function (vg) {
    return vegaEmbed(el, vg, {mode: 'vega', renderer: 'svg', actions: false,
                              loader: {target: '_self'}});
  })
    .then(function () { el.dataset.drawn = 'yes'; })
    .catch(function (err) {
      el.classList.add('failed');
      el.textContent = 'This chart could not be drawn: ' + err;
      console.error(err);
    });
});
function cellKey(td) {
  var t = td.textContent.trim(), n = parseFloat(t.replace(/^[^0-9+\\-.]*/, ''));
  return t === '' ? null : isNaN(n) ? t : n;
}
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th) {
    th.addEventListener('click', function () {
      var col = th.cellIndex, down = th.getAttribute('aria-sort') === 'ascending';
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', down ? 'descending' : 'ascending');
      var body = table.tBodies[0], rows = Array.from(body.rows);
      rows.sort(function (a, b) {
        var x = cellKey(a.cells[col]), y = cellKey(b.cells[col]);
        if (x === null || y === null) return (x === null) - (y === null);
        var c = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0)
                                      : typeof x === 'number' ? -1 : 1;
        return down ? -c : c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
function openTarget() {
  var el = location.hash && document.getElementById(location.hash.slice(1));
  if (el && el.tagName === 'DETAILS') { el.open = true; el.scrollIntoView(); }
}
window.addEventListener('hashchange', openTarget);
openTarget();
"""


class Charts:
    """Chart elements of one page: each spec in a JSON script tag, drawn by `JS`."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, spec: dict | str | None, empty: str = "") -> str:
        if not isinstance(spec, dict):
            return f"<p class=empty>{html.escape(spec or empty)}</p>"
        self.n += 1
        data = json.dumps(spec).replace("</", "<\\/")
        return (f'<script type="application/json" id=spec{self.n}>{data}</script>'
                f"<div class=chart id=chart{self.n} data-spec=spec{self.n}></div>")


def _table(md_table: str) -> str:
    """A markdown table of report.py as a sortable HTML table."""
    lines = md_table.splitlines()
    cells = [[html.escape(c.strip()) for c in line.strip().strip("|").split(" | ")]
             for i, line in enumerate(lines) if i != 1]
    head = "".join(f"<th>{c}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in cells[1:])
    return (f"<div class=tablewrap><table class=sortable><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


def _cards(items: list[str]) -> str:
    return "<div class=grid>" + "".join(f"<div class=card>{i}</div>" for i in items) + "</div>"


def _flip_section(c: Comparison, chart: Charts) -> str:
    base = _with_verdicts(c, c.baseline)
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


def body(c: Comparison) -> str:
    chart = Charts()
    said = problems(c)
    out = [f"<main><h1>Comparison against {html.escape(c.baseline)}</h1>",
           "<div class=summary><ul>" + "".join(f"<li>{html.escape(s)}</li>"
                                               for s in summary(c) or ["Only the baseline."])
           + "</ul></div>"]
    out += [f"<p class=warn>{html.escape(s)}</p>" for s in said]
    out.append("<h2>pass@1 against the baseline</h2>")
    forests = [chart(pass_forest(c, b, s)) for b in c.benchmarks for s in c.sets[b]]
    out.append(_cards(forests) if forests else f"<p class=empty>{html.escape(said[0])}</p>")
    out.append("<h2>Held-out losses</h2>")
    losses = [chart(s) for k in LOSSES if (s := loss_forest(c, k))]
    out.append(_cards(losses) if losses else "<p class=empty>No experiment has valid_loss or "
               "heldout_nll (sample files carry none).</p>")
    out += ["<h2>Tasks that flipped against the baseline</h2>",
            "<p class=note>A cell per task one run passed and the other failed; click it for "
            "both runs' code and verdicts.</p>", _flip_section(c, chart)]
    out += ["<h2>What was selected, and what it scored</h2>",
            _cards([chart(selection_chart(c))])]
    out += ["<h2>Tables</h2><p class=note>Click a column to sort.</p>",
            "<h3>pass@1</h3>", _table(pass_table(c))]
    runs = run_table(c)
    if runs:
        out += ["<h3>Runs</h3>", _table(runs)]
    sized = plots(c)
    if sized:
        out += ["<h2>Against data size</h2>", _cards([chart(s) for s in sized])]
    out.append("<p class=notes>" + html.escape(notes(c)).replace("**", "") + "</p></main>")
    return "\n".join(out) + f"<script>{JS}</script>"


def page(c: Comparison, template: Path) -> str:
    """The page: `body` in the offline template's `{plot_divs}`, the style at the end of its
    head (the template's own `</head>`: the inlined bundle contains that string too)."""
    from dvc_render.html import HTML

    text = template.read_text(encoding="utf-8")
    if "{plot_divs}" not in text:
        raise CodesiftError(f"{template}: no {{plot_divs}} placeholder")
    end = text.rindex("</head>", 0, text.index("{plot_divs}"))
    head = ('<meta name="viewport" content="width=device-width">'
            f"<title>codesift comparison</title><style>{CSS}</style>")
    doc = HTML(text[:end].replace("<title>DVC Plot</title>", "") + head + text[end:])
    doc.with_element(body(c))
    return doc.embed()
