"""The comparison as one offline web page: a summary in words, forest plots (each run's
estimate and 95% interval against the baseline's band), the tasks that flipped between each
run and the baseline (with both runs' code), what each subset is made of next to what it
scored, and the sortable tables.

Charts are vega-lite specs drawn by the vega bundle that configs/plots/template.html inlines
(the `dvc plots` template; no CDN); the styling and the table sorting are compare/assets.py,
the task flips compare/flips.py.
Where a chart has nothing to draw (no shared benchmark, a baseline without verdicts), the
page says why in words in its place; `problems` gives the same sentences to the CLI.
"""

from __future__ import annotations

import html
from pathlib import Path

from codesift import CodesiftError
from codesift.compare.assets import CSS, JS, SCHEMA, Charts
from codesift.compare.flips import flip_section, with_verdicts
from codesift.compare.report import LOSSES, markdown, notes, pass_table, plots, run_table
from codesift.compare.results import Comparison, Experiment, Figure

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


def set_name(bench: str, test_set: str) -> str:
    return SET_NAMES.get((bench, test_set), f"{bench} {test_set}")


def _p(p: float) -> str:
    return f"{p:.2f}" if p >= 0.01 else f"{p:.1g}" if p >= 1e-4 else "< 0.0001"


# --- words --------------------------------------------------------------------------------

def problems(c: Comparison) -> list[str]:
    """What the page cannot show, one sentence each (also printed by the CLI)."""
    out = []
    if not c.benchmarks:
        return ["no experiment has results on any benchmark: nothing to compare"]
    base = with_verdicts(c, c.baseline)
    for b in c.benchmarks:
        if b not in base:
            out.append(f"the baseline {c.baseline} has no verdicts on {b}: no paired test and "
                       "no task flips there")
    for e in c.experiments:
        mine = with_verdicts(c, e.name)
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
            "both runs' code and verdicts.</p>", flip_section(c, chart)]
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


def write_report(c: Comparison, out: Path, template: Path) -> tuple[Path, Path]:
    """<out>/compare.md and <out>/compare.html, written atomically."""
    from codesift.io import write_text

    md, page_path = out / "compare.md", out / "compare.html"
    write_text(md, markdown(c))
    write_text(page_path, page(c, template))
    return md, page_path
