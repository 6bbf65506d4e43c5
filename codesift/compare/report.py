"""The comparison as text: markdown tables and the vega-lite plots against data size; the
web page that shows them with its own charts is `codesift.compare.page`."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from codesift.compare.results import Comparison, Experiment, Figure

# (fact key, column header, formatter) of the runs table
RUN_COLUMNS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("method", "method", str),
    ("ratio", "ratio", lambda v: f"{v:g}"),
    ("sample_num", "sample_num", lambda v: f"{round(v):d}"),  # an arm's mean may be a float
    ("n_selected", "n_selected", lambda v: f"{round(v):d}"),
    ("share", "share", lambda v: f"{100 * v:.1f}%"),
    ("epochs", "epochs", lambda v: f"{v:.3g}"),
    ("supervised_tokens", "supervised tokens", lambda v: f"{round(v):d}"),
    ("train_seconds", "train s", lambda v: f"{v:.1f}"),
    ("pad_fraction", "pad fraction", lambda v: f"{v:.3f}"),
    ("peak_memory_mb", "peak MB", lambda v: f"{v:.0f}"),
    ("total_seconds", "total s", lambda v: f"{v:.1f}"),
    ("heldout_nll", "heldout_nll", lambda v: f"{v:.4f}"),
    ("valid_loss", "valid_loss", lambda v: f"{v:.4f}"),
]
LOSSES = ("heldout_nll", "valid_loss")
TITLES = {"pass1": "pass@1 (%)"}


def _cell(value: Any, fmt: Callable[[Any], str]) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    try:
        return fmt(value)
    except (TypeError, ValueError):  # e.g. an int column read back as a float
        return str(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def run_table(c: Comparison) -> str | None:
    """One row per experiment with run facts; None when no experiment has any (sample files).
    With arms of several seeds, a seeds column, and their losses as mean ± sd."""
    if not any(v is not None for e in c.experiments for v in e.facts.values()):
        return None
    seeds = any(e.runs for e in c.experiments)
    header = ["experiment"] + ["seeds"] * seeds + [h for _, h, _ in RUN_COLUMNS]
    rows = [[e.name] + [str(len(e.runs) or 1)] * seeds +
            [_fact_cell(e, k, f) for k, _, f in RUN_COLUMNS] for e in c.experiments]
    return _table(header, rows)


def _fact_cell(e: Experiment, key: str, fmt: Callable[[Any], str]) -> str:
    cell = _cell(e.facts.get(key), fmt)
    sd = e.facts.get(f"{key}_sd")
    return f"{cell} ± {_cell(sd, fmt)}" if key in LOSSES and cell and sd is not None else cell


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def figure_cell(f: Figure) -> str:
    seeds = f" ({f.seeds} seeds, sd {_pct(f.seed_sd)})" if f.seed_sd is not None else ""
    if f.interval:
        i = f.interval
        return f"{_pct(i.estimate)} [{_pct(i.low)}, {_pct(i.high)}]{seeds}"
    return _pct(f.reported) + seeds if f.reported is not None else ""


def p_text(p: float) -> str:
    return "<0.0001" if p < 1e-4 else f"{p:.4g}"


def vs_cell(f: Figure, is_baseline: bool) -> str:
    if is_baseline:
        return "baseline"
    t = f.test
    if t is None:
        return ""
    mark = " *" if t.significant else ""
    spread = ", within seed spread" if f.within_seed_spread else ""
    return f"{100 * t.difference:+.1f}, p={p_text(t.p_value)}{mark}{spread}"


def pass_table(c: Comparison) -> str:
    """pass@1 [95% CI] per benchmark and test set, each with its test against the baseline."""
    header = ["experiment"]
    for b in c.benchmarks:
        for s in c.sets[b]:
            header += [f"{b} {s}", "vs baseline"]
    rows = []
    for e in c.experiments:
        row = [e.name]
        for b in c.benchmarks:
            for s in c.sets[b]:
                f = c.figures[(e.name, b, s)]
                row += [figure_cell(f), vs_cell(f, e.name == c.baseline)]
        rows.append(row)
    return _table(header, rows)


def notes(c: Comparison) -> str:
    tests = sorted({f.test.test for f in c.figures.values() if f.test})
    levels = "tasks, then samples within each task" if any(
        len({r["task_id"] for r in rows}) < len(rows)
        for e in c.experiments for run in e.runs or [e] for rows in run.verdicts.values()
    ) else "tasks"
    used = f" (used here: {', '.join(tests)})" if tests else ""
    return (f"Baseline: **{c.baseline}**. pass@1 in % with a 95% percentile bootstrap interval "
            f"({c.n_resamples} resamples of {levels}; seed {c.seed}). 'vs baseline': the "
            "difference in points and the two-sided p-value of a paired test on the tasks both "
            "were tested on, exact McNemar (binomial test on the discordant tasks) with one "
            f"sample per task, a paired bootstrap with several{used}; * = significant at 0.05."
            + (SEED_NOTE if any(e.runs for e in c.experiments) else ""))


SEED_NOTE = (
    " Arms of several seeds (experiments that differ only by select.seed and train.seed, one "
    "row each): pass@1 is the mean over the seeds and sd its standard deviation across them; "
    "the interval resamples seeds, then tasks (the same tasks for every drawn seed); the test "
    "against the baseline is a paired seed bootstrap (seeds drawn per arm, tasks drawn once "
    "for both). 'within seed spread': the difference is no larger than the seed sd (the "
    "larger of the two arms'), so a rerun with another seed could undo it.")


def markdown(c: Comparison) -> str:
    parts = ["# Comparison", "", notes(c), ""]
    runs = run_table(c)
    if runs:
        parts += ["## Runs", "", runs, ""]
    parts += ["## pass@1", "", pass_table(c), ""]
    return "\n".join(parts)


# --- plots --------------------------------------------------------------------------------

Band = tuple[float, float, float]  # the baseline's value and interval


def _size(e: Experiment) -> float | None:
    return e.facts.get("n_selected")


def pass_plot(c: Comparison, bench: str, test_set: str) -> dict | None:
    """pass@1 against data size, one line per method (error bars: 95% CI), the baseline's
    interval as a horizontal band."""
    rows = []
    for e in c.experiments:
        f = c.figures[(e.name, bench, test_set)]
        if _size(e) is None or e.name == c.baseline or f.value is None:
            continue
        i = f.interval
        rows.append({"experiment": e.name, "method": str(e.facts.get("method")),
                     "n_selected": _size(e), "pass1": 100 * f.value,
                     "low": 100 * i.low if i else None, "high": 100 * i.high if i else None})
    base = c.figures.get((c.baseline, bench, test_set))
    band = (100 * base.value, 100 * base.interval.low, 100 * base.interval.high) \
        if base and base.interval else None
    return _lines(f"{bench} {test_set}: pass@1 (%) against data size", rows, "pass1", band,
                  c.baseline) if rows else None


def loss_plot(c: Comparison, key: str) -> dict | None:
    """A held-out loss against data size, one line per method, the baseline's as a rule."""
    rows = [{"experiment": e.name, "method": str(e.facts.get("method")), "n_selected": _size(e),
             key: e.facts[key]} for e in c.experiments
            if _size(e) is not None and e.name != c.baseline and e.facts.get(key) is not None]
    base = next((e.facts.get(key) for e in c.experiments if e.name == c.baseline), None)
    band = (base, base, base) if base is not None else None
    return _lines(f"{key} against data size", rows, key, band, c.baseline) if rows else None


def _lines(title: str, rows: list[dict], y: str, band: Band | None, baseline: str) -> dict:
    x = {"field": "n_selected", "type": "quantitative", "title": "training samples (n_selected)"}
    yenc = {"field": y, "type": "quantitative", "title": TITLES.get(y, y),
            "scale": {"zero": False}}
    color = {"field": "method", "type": "nominal"}
    layers: list[dict] = []
    if band:
        value, low, high = band
        if high > low:  # a rect with no x encoding spans the plot's width
            layers.append({"data": {"values": [{y: low, "high": high}]},
                           "mark": {"type": "rect", "opacity": 0.2, "color": "grey"},
                           "encoding": {"y": yenc, "y2": {"field": "high"}}})
        layers.append({"data": {"values": [{y: value, "experiment": baseline}]},
                       "mark": {"type": "rule", "color": "grey", "strokeDash": [4, 4]},
                       "encoding": {"y": yenc, "tooltip": [{"field": "experiment"},
                                                           {"field": y}]}})
    layers.append({"mark": {"type": "line", "point": True},
                   "encoding": {"x": x, "y": yenc, "color": color,
                                "tooltip": [{"field": "experiment"}, {"field": y}]}})
    if any(r.get("low") is not None for r in rows):
        layers.append({"mark": "errorbar", "encoding": {
            "x": x, "y": {**yenc, "field": "low"}, "y2": {"field": "high"}, "color": color}})
    what = "band and dashed rule" if band and band[2] > band[1] else "dashed rule"
    return {"$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "title": title + (f" ({what}: baseline {baseline})" if band else ""),
            "width": 480, "height": 300, "data": {"values": rows}, "layer": layers}


def plots(c: Comparison) -> list[dict]:
    specs = [pass_plot(c, b, s) for b in c.benchmarks for s in c.sets[b]]
    specs += [loss_plot(c, k) for k in LOSSES]
    return [s for s in specs if s]
