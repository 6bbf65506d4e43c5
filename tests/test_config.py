import shutil
import subprocess
import sys

import pytest
import yaml

from codesift import CodesiftError
from codesift.check import check, defaults, full_build, method_options
from codesift.config import SECTIONS, Params, build, flatten, load
from codesift.io import read_yaml
from codesift.profiles import apply_profile, profile_overrides
from codesift.selection import REGISTRY
from tests.conftest import ROOT

PROFILES = sorted((ROOT / "configs").glob("*.yaml"))
SELECTORS = REGISTRY.names()
OPTIONS = method_options()
EVALPLUS = ROOT.parent / "shared/data/evalplus"


def test_repo_params_are_valid():
    assert isinstance(check(ROOT / "params.yaml"), Params)


def test_params_yaml_lists_every_knob_with_its_default():
    assert flatten(read_yaml(ROOT / "params.yaml")) == flatten(defaults())


def test_every_bad_key_is_reported_once():
    with pytest.raises(CodesiftError) as e:
        full_build({"train": {"pad_mode": "packed", "lr": "fast", "epoch": 1,
                              "lora": {"r": "x"}}}, "params.yaml")
    lines = str(e.value).splitlines()
    assert len(lines) == 4
    assert any("params.yaml: train.pad_mode: 'packed' is not one of" in m for m in lines)
    assert any("train.epoch: unknown key" in m for m in lines)
    assert any("train.lora.r: expected int" in m for m in lines)


def test_ranges_cross_field_rules_and_sections_are_checked():
    raw = {"selct": {"ratio": 0.3}, "select": {"ratio": 1.5, "cdas": {"n_init": 0}},
           "eval": {"k": [5], "memory_mb": 0}, "ifd": {"num_shards": 2}, "data": {"limit": -1}}
    with pytest.raises(CodesiftError) as e:
        full_build(raw, "params.yaml")
    text = str(e.value)
    for want in ("selct: unknown section", "select.ratio: 1.5 is not in (0, 1]",
                 "select.cdas.n_init: 0 is not in [1, inf)", "eval.memory_mb: 0 is not in",
                 "eval.k: pass@5 needs at least 5 samples", "ifd.shards: must be [0, 1]",
                 "data.limit: -1 is not in [0, inf)"):
        assert want in text, want
    assert len(text.splitlines()) == 7


def test_a_stage_load_checks_no_registry_choices_but_the_full_check_does(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("select:\n  method: cdaz\n  cdas: {n_init: 0}\n  cdaz: {k: 1}\n")
    p = load(path)  # a stage imports no registry it does not use
    assert p.select.method == "cdaz" and p.select.methods["cdaz"] == {"k": 1}
    with pytest.raises(CodesiftError) as e:
        full_build(read_yaml(path), str(path))
    assert str(e.value).splitlines() == [
        f"{path}: select.method: 'cdaz' is not one of {SELECTORS}",
        f"{path}: select.cdas.n_init: 0 is not in [1, inf)",
        f"{path}: select.cdaz: unknown key or method options (methods with options: "
        f"{', '.join(sorted(OPTIONS))})"]
    with pytest.raises(CodesiftError, match="^select.cdas.n_init: 0 is not in"):
        p.select.options("cdas", OPTIONS["cdas"])  # the method reads its own, checked


def test_yaml_scientific_notation_is_a_float():
    assert build(yaml.safe_load("train: {lr: 1e-3}"), "p").train.lr == 1e-3
    assert build({"select": {"ratio": 1}}, "p").select.ratio == 1.0


@pytest.mark.parametrize("profile", PROFILES, ids=[p.stem for p in PROFILES])
def test_profiles_are_valid_overrides(profile, tmp_path):
    """Valid for the schema; the paper profiles' benchmarks need evalplus's files, which the
    full check asks for (given here from ../shared/data when it is there)."""
    params = check(ROOT / "params.yaml", profile, deep=False)
    assert set(vars(params)) == set(SECTIONS)
    if params.eval.benchmarks != ["humaneval"] or params.data.decontaminate != ["humaneval"]:
        if not EVALPLUS.is_dir():
            pytest.skip("no ../shared/data/evalplus")
        raw = yaml.safe_load(profile.read_text())
        raw.setdefault("eval", {})["datasets"] = {
            "humaneval_plus": str(EVALPLUS / "HumanEvalPlus-v0.1.10.jsonl.gz"),
            "mbpp_plus": str(EVALPLUS / "MbppPlus-v0.2.0.jsonl.gz")}
        profile = tmp_path / "profile.yaml"
        profile.write_text(yaml.safe_dump(raw))
    check(ROOT / "params.yaml", profile)


def test_profile_errors_name_the_profile(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("selct: {ratio: 0.2}\ntrain: {batch_size: 0}\n")
    with pytest.raises(CodesiftError) as e:
        check(ROOT / "params.yaml", bad)
    assert str(e.value).splitlines() == [
        f"{bad}: train.batch_size: 0 is not in [1, inf)",
        f"{bad}: selct: unknown section (known: {', '.join(SECTIONS)})"]


def test_apply_profile_keeps_comments_and_equals_the_merge(tmp_path):
    params = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", params)
    profile = ROOT / "configs/ci.yaml"
    apply_profile(params, profile)
    text = params.read_text()
    assert "# Every knob of the pipeline" in text and "# keep the first N valid records" in text
    merged = flatten(read_yaml(ROOT / "params.yaml"))
    merged.update(flatten(read_yaml(profile)))
    assert flatten(read_yaml(params)) == merged


def test_overrides_are_what_dvc_exp_run_takes(tmp_path):
    from dvc.utils.hydra import apply_overrides

    params = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", params)
    profile = tmp_path / "p.yaml"
    profile.write_text("template: {system: \"it's {x}\\nok\"}\neval: {benchmarks: [mbpp, "
                       "humaneval]}\ntrain: {lr: 2.0e-4, bf16: true}\n")
    apply_overrides(str(params), profile_overrides(profile))
    got = read_yaml(params)
    assert got["template"]["system"] == "it's {x}\nok"
    assert got["eval"]["benchmarks"] == ["mbpp", "humaneval"]
    assert got["train"]["lr"] == 2.0e-4 and got["train"]["bf16"] is True


def test_cli_check_reports_every_problem_and_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("eval: {timeout_s: 0}\nifd: {num_shards: 0}\n")
    out = subprocess.run([sys.executable, "-m", "codesift.check", "--check", "--params",
                          str(ROOT / "params.yaml"), "--profile", str(bad)],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "eval.timeout_s: 0.0 is not in (0, inf)" in out.stderr
    assert "ifd.num_shards: 0 is not in [1, inf)" in out.stderr
