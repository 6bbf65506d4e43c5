"""Grid files: the schema's errors, the expansion into named experiments with their overrides,
and every experiment's params checked before anything is queued."""

from __future__ import annotations

import pytest

from codesift import CodesiftError
from codesift.config import read_yaml
from codesift.grid import check_params, load_grid
from tests.conftest import ROOT

GRIDS = ROOT / "configs/grids"


def write(tmp_path, text: str):
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    return path


def test_matrix_and_list_expand_to_named_experiments_with_their_overrides_only(tmp_path):
    grid = load_grid(write(tmp_path, """
common: {train.seed: 3}
matrix:
  select.method: [cdas, random]
  select.ratio: [0.1, 0.4]
name: "{select.method}-{select.ratio}"
experiments:
  - {name: full, set: {select.method: random, select.ratio: 1.0, select.cdas: {n_init: 1}}}
"""))
    assert [e.name for e in grid.experiments] == [
        "cdas-0.1", "cdas-0.4", "random-0.1", "random-0.4", "full"]
    assert grid.experiments[1].overrides == {
        "train.seed": 3, "select.method": "cdas", "select.ratio": 0.4}
    assert grid.experiments[-1].set_params() == [
        "train.seed=3", "select.method='random'", "select.ratio=1.0", "select.cdas.n_init=1"]


def test_default_names_join_the_values_and_a_profile_comes_first(tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text("select: {ratio: 0.5, seed: 9}\ntrain: {max_steps: 2}\n")
    grid = load_grid(write(tmp_path, "matrix: {select.method: [dq], select.sample_num: [50]}"),
                     profile)
    (e,) = grid.experiments
    assert e.name == "dq-50"
    assert e.overrides == {"select.ratio": 0.5, "select.seed": 9, "train.max_steps": 2,
                           "select.method": "dq", "select.sample_num": 50}


def test_every_shape_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, """
matrix: {select.method: cdas, select.ratio: []}
experiments: [{name: full}, {nme: x}]
baselin: full
""")
    with pytest.raises(CodesiftError) as e:
        load_grid(path)
    lines = str(e.value).splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines)
    text = str(e.value)
    assert "baselin: unknown key" in text
    assert "matrix.select.method: expected a non-empty list of values, got 'cdas'" in text
    assert "matrix.select.ratio: expected a non-empty list" in text
    assert "experiments[1]: expected {name: str, set: {key: value}}" in text
    assert len(lines) == 4


@pytest.mark.parametrize("text, message", [
    ("matrix: {select.ratio: [0.1, 0.1]}", "experiment name '0.1' is used twice"),
    ("experiments: [{name: 'a b', set: {}}]", "experiment name 'a b' is not a valid"),
    ("matrix: {select.ratio: [0.1]}\nname: '{select.method}'", "{select.method} is not a matrix"),
    ("matrix: {select.ratio: [0.1]}\nbaseline: full", "baseline 'full' is not one of"),
    ("description: nothing", "no experiments"),
    ("- a list", "expected a mapping"),
])
def test_bad_grids_say_what_is_wrong(tmp_path, text, message):
    with pytest.raises(CodesiftError, match=r"grid.yaml: .*" + __import__("re").escape(message)):
        load_grid(write(tmp_path, text))


def test_params_are_checked_per_experiment_with_the_schema(tmp_path):
    grid = load_grid(write(tmp_path, """
matrix: {select.method: [cdas, nosuch], select.ratio: [0.5, 1.5]}
experiments: [{name: typo, set: {select.ratoi: 0.2}}]
"""))
    with pytest.raises(CodesiftError) as e:
        check_params(grid, read_yaml(ROOT / "params.yaml"))
    text = str(e.value)
    where = f"{grid.path} (experiment"
    assert f"{where} cdas-1.5): select.ratio: 1.5 is not in (0, 1]" in text
    assert f"{where} nosuch-0.5): select.method: 'nosuch' is not one of" in text
    assert f"{where} typo): select.ratoi: unknown key" in text
    assert "cdas-0.5" not in text


@pytest.mark.parametrize("name, n", [("default", 5), ("codeact", 3), ("efficode", 36)])
def test_shipped_grids_are_valid(name, n):
    grid = load_grid(GRIDS / f"{name}.yaml")
    assert len(grid.experiments) == n and grid.baseline == "full"
    check_params(grid, read_yaml(ROOT / "params.yaml"))
    full = next(e for e in grid.experiments if e.name == "full")
    assert full.overrides["select.ratio"] == 1.0 and full.overrides["select.method"] == "random"
