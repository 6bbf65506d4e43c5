"""The comparison page's static parts: its CSS and JS (hand-written: the page may load nothing,
no CDN, no stylesheet or script library) and the chart elements vega draws."""

from __future__ import annotations

import html
import json
import re

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
LAST_PART = "split(datum.label, '/')[length(split(datum.label, '/')) - 1]"  # HumanEval/9: 9


def slug(*parts: str) -> str:
    """An HTML id from names (a flipped task's anchor)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(parts)).strip("-")


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
