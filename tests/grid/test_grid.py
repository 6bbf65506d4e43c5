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


def test_seeds_run_every_arm_once_per_seed_seeding_selection_and_training(tmp_path):
    grid = load_grid(write(tmp_path, """
baseline: full
seeds: [0, 1, 2]
common: {train.max_steps: 2}
matrix: {select.method: [cdas], select.ratio: [0.4]}
name: "{select.method}-{select.ratio}"
experiments: [{name: full, set: {select.method: random, select.ratio: 1.0}}]
"""))
    assert [e.name for e in grid.experiments] == [
        "cdas-0.4-s0", "cdas-0.4-s1", "cdas-0.4-s2", "full-s0", "full-s1", "full-s2"]
    assert [e.arm for e in grid.experiments] == ["cdas-0.4"] * 3 + ["full"] * 3
    assert grid.seeds == [0, 1, 2] and grid.baseline == "full"
    assert grid.experiments[1].overrides == {
        "train.max_steps": 2, "select.method": "cdas", "select.ratio": 0.4,
        "select.seed": 1, "train.seed": 1}
    assert grid.experiments[5].set_params()[-2:] == ["select.seed=2", "train.seed=2"]
    check_params(grid, read_yaml(ROOT / "params.yaml"))
    plain = load_grid(write(tmp_path, "matrix: {select.ratio: [0.4]}"))
    assert [(e.name, e.arm) for e in plain.experiments] == [("0.4", "")] and plain.seeds == []


def test_an_arm_that_seeds_itself_collides_with_seeds_one_line_per_place(tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text("select: {seed: 9}\n")
    path = write(tmp_path, f"""
profile: {profile}
seeds: [0, 1]
common: {{train: {{seed: 3, lr: 0.1}}}}
matrix: {{select.seed: [1, 2], select.ratio: [0.4]}}
experiments: [{{name: full, set: {{train.seed: 5}}}}, {{name: ok, set: {{select.ratio: 1.0}}}}]
""")
    with pytest.raises(CodesiftError) as e:
        load_grid(path)
    lines = str(e.value).splitlines()
    assert all(line.startswith(f"{path}: seeds: ") for line in lines)
    assert [line.split(": ", 2)[2].split(";")[0] for line in lines] == [
        f"the profile {profile} sets select.seed", "common sets train.seed",
        "matrix.select.seed sets select.seed", "experiment full sets train.seed"]
    assert "select.seed and train.seed of every experiment" in lines[0]
    other = tmp_path / "q.yaml"
    other.write_text("train: {max_steps: 2}\n")
    with pytest.raises(CodesiftError, match=r"common sets train\.seed") as e:
        load_grid(path, other)  # --profile replaces the file's: only its own setters count
    assert "the profile" not in str(e.value)


@pytest.mark.parametrize("seeds, message", [
    ("[]", "seeds: expected a non-empty list of integers, got []"),
    ("3", "seeds: expected a non-empty list of integers, got 3"),
    ("[0, 1, 1]", "seeds: 1 is listed 2 times"),
    ("[0, 1.5]", "seeds: 1.5 is not an integer"),
    ("[0, true]", "seeds: True is not an integer"),
    ("[0, '1']", "seeds: '1' is not an integer"),
])
def test_bad_seed_lists_are_one_line_each_naming_the_grid(tmp_path, seeds, message):
    path = write(tmp_path, f"matrix: {{select.ratio: [0.4]}}\nseeds: {seeds}")
    with pytest.raises(CodesiftError) as e:
        load_grid(path)
    assert str(e.value) == f"{path}: {message}"


def test_a_grid_with_a_bad_seed_list_is_refused_by_dry_run(tmp_path, capsys):
    from codesift.grid.__main__ import main

    path = write(tmp_path, "matrix: {select.ratio: [0.4]}\nseeds: [2, 2, x]")
    with pytest.raises(SystemExit) as e:
        main([str(path), "--dry-run", "--repo", str(ROOT)])
    assert e.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: {path}: seeds: 'x' is not an integer",
                   f"{path}: seeds: 2 is listed 2 times"]
