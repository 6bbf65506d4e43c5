"""`dvc plots show` renders offline: the committed HTML template (configs/plots/template.html,
built by scripts/build_plots_template.py) inlines vega, vega-lite and vega-embed, and .dvc/config
points DVC at it, so the page loads no script or stylesheet from anywhere. Also: the custom
scatter template .dvc/plots/scatter_selected.json colours points by their `selected` field."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.html import parse

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "configs/plots/template.html"
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1",
       "DVC_NO_UPDATER": "1"}
ROWS = [{"step": i, "loss": round(2.0 / (i + 1), 4)} for i in range(6)]
PCA = [{"index": i, "pc1": i / 10, "pc2": (i * 4 % 9 - 4) / 10, "selected": i % 3 == 0}
       for i in range(9)]
DVC_YAML = """\
plots:
  - loss.json:
      x: step
      y: loss
  - Embeddings (PCA), full vs selected:
      template: scatter_selected
      x: pc1
      y:
        pca.json: pc2
"""
CHROMIUMS = ("chromium", "chromium-headless-shell", "chromium-browser", "google-chrome")


def _build_script():
    spec = importlib.util.spec_from_file_location(
        "build_plots_template", ROOT / "scripts/build_plots_template.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


PINS = _build_script().PINS


def sh(*cmd: str, cwd: Path) -> str:
    out = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"{cmd} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def html_template_setting() -> str:
    from configobj import ConfigObj  # a dvc dependency; DVC reads .dvc/config with it

    return ConfigObj(str(ROOT / ".dvc/config"))["plots"]["html_template"]


@pytest.fixture(scope="module")
def shown(tmp_path_factory) -> Path:
    """A fresh git+dvc repo with the committed templates and config; `dvc plots show` run."""
    repo = tmp_path_factory.mktemp("plots") / "repo"
    repo.mkdir()
    sh("git", "init", "-q", cwd=repo)
    sh("dvc", "init", "-q", cwd=repo)
    shutil.copy2(ROOT / ".dvc/config", repo / ".dvc/config")
    shutil.copytree(ROOT / ".dvc/plots", repo / ".dvc/plots")
    rel = TEMPLATE.relative_to(ROOT)
    (repo / rel).parent.mkdir(parents=True)
    shutil.copy2(TEMPLATE, repo / rel)
    (repo / "loss.json").write_text(json.dumps(ROWS))
    (repo / "pca.json").write_text(json.dumps(PCA))
    (repo / "dvc.yaml").write_text(DVC_YAML)
    sh("dvc", "plots", "show", cwd=repo)
    return repo / "dvc_plots/index.html"


def test_config_points_at_committed_template():
    value = html_template_setting()
    # DVC joins a relative plots.html_template onto the .dvc/ directory (dvc.commands.plots),
    # and silently treats a path that is not a file as the template text itself.
    assert not os.path.isabs(value)
    assert (ROOT / ".dvc" / value).resolve() == TEMPLATE.resolve()


def test_template_records_pinned_versions():
    text = TEMPLATE.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) < 2_000_000
    assert "{plot_divs}" in text  # the one placeholder DVC requires
    assert "{scripts}" not in text  # where DVC would put its CDN <script src=...> tags
    scripts = [(a, s) for a, s in parse(text).scripts]
    assert [a.get("data-package") for a, _ in scripts] == [p.spec for p in PINS]
    header = text.split("-->", 1)[0]
    for pin, (_, body) in zip(PINS, scripts, strict=True):
        assert f"<!-- {pin.spec} {pin.build} -->" in text
        assert re.search(rf"^\s*{re.escape(pin.spec)} \S+ {re.escape(pin.integrity)} ",
                         header, re.M), pin.spec
        assert f'"{pin.version}"' in body  # the library's own version constant
        assert (TEMPLATE.parent / f"licenses/{pin.name}-LICENSE").read_text().strip()


def test_plots_show_loads_nothing_external(shown):
    html = shown.read_text(encoding="utf-8")
    tags = parse(html)
    assert not re.search(r"<script\b[^>]*\bsrc\s*=", html, re.I)
    assert [t for t, a in tags.tags if t == "script" and "src" in a] == []
    assert [t for t, _ in tags.tags if t in ("link", "iframe", "object", "embed", "base")] == []
    loads = [(t, k, v) for t, a in tags.tags for k, v in a.items()
             if k in ("src", "href", "data", "srcset") and v and re.match(r"\s*(\w+:)?//", v)]
    assert loads == []
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", html, re.I)
    assert "cdn.jsdelivr" not in html


def specs(html: str) -> dict[str, dict]:
    """The vega-lite spec of each plot on the page, by title."""
    found = [json.loads(m.group(1)) for _, s in parse(html).scripts
             if (m := re.search(r"var spec = (\{.*\});\s*vegaEmbed\(", s, re.S))]
    return {s["title"]["text"]: s for s in found}


def test_plots_show_inlines_libraries_and_spec(shown):
    html = shown.read_text(encoding="utf-8")
    scripts = parse(html).scripts
    libs = {a["data-package"]: s for a, s in scripts if "data-package" in a}
    assert list(libs) == [p.spec for p in PINS]
    assert ".vega={}" in libs["vega@5.20.2"]
    assert ".vegaLite={}" in libs["vega-lite@5.2.0"]
    assert ".vegaEmbed=" in libs["vega-embed@6.18.2"]
    plots = specs(html)
    assert sorted(plots) == ["Embeddings (PCA), full vs selected", "loss.json"]
    values = plots["loss.json"]["data"]["values"]
    assert [(v["step"], v["loss"]) for v in values] == [(r["step"], r["loss"]) for r in ROWS]
    # the libraries come before the plots that call vegaEmbed
    assert html.index('data-package="vega-embed@') < html.index("vegaEmbed('#")


def test_renders_in_headless_chromium_without_network(shown, tmp_path):
    exe = next((p for p in map(shutil.which, CHROMIUMS) if p), None)
    if exe is None:
        pytest.skip("no chromium on PATH (apt-get install chromium-headless-shell)")
    offline = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               f"--user-data-dir={tmp_path / 'profile'}",
               # every host lookup fails and every connection goes to a closed port
               "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
               "--virtual-time-budget=10000"]
    out = subprocess.run([exe, *offline, "--dump-dom", shown.as_uri()], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    dom = out.stdout
    # vegaEmbed ran: it adds the vega-embed class and draws the chart into a canvas
    assert dom.count('class="vega-embed') == 2, dom[-2000:]
    assert dom.count("<canvas") == 2

    pil = pytest.importorskip("PIL.Image")
    np = pytest.importorskip("numpy")
    png = tmp_path / "shot.png"
    subprocess.run([exe, *offline, "--window-size=800,900", f"--screenshot={png}",
                    shown.as_uri()], capture_output=True, timeout=120, check=True)
    img = pil.open(png).convert("RGB")
    px = np.asarray(img, dtype=int)

    def near(rgb, tol):
        return int((np.abs(px - rgb) <= tol).all(axis=-1).sum())

    assert near((0x94, 0x5D, 0xD6), 3) > 100  # the loss line, DVC's first series colour
    # PCA points: #bdbdbd (not selected) and #945dd6 (selected) at opacity 0.8 on white
    assert near((202, 202, 202), 3) > 20
    assert near((169, 125, 222), 3) > 20


def test_pca_scatter_colours_points_by_selected(shown):
    spec = specs(shown.read_text(encoding="utf-8"))["Embeddings (PCA), full vs selected"]
    rows = [{k: v[k] for k in ("index", "pc1", "pc2", "selected")} for v in spec["data"]["values"]]
    assert rows == PCA  # one data source, every point, the selected flag kept
    assert {"calculate": "datum.selected ? 'selected' : 'not selected'", "as": "subset"} \
        in spec["transform"]
    enc = spec["encoding"]
    assert (enc["x"]["field"], enc["y"]["field"]) == ("pc1", "pc2")
    assert enc["color"]["field"] == "subset"
    assert enc["color"]["scale"]["domain"] == ["not selected", "selected"]
    assert enc["column"]["field"] == "rev"  # plots diff: one panel per revision
    assert "<DVC_METRIC" not in json.dumps(spec)  # every anchor filled
