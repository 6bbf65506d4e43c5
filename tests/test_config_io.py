import pytest
import yaml

from codesift import CodesiftError
from codesift.config import SECTIONS, SelectConfig, TrainConfig, apply_profile, parse, section
from codesift.io import atomic_path, read_jsonl, write_jsonl
from tests.conftest import ROOT


def test_repo_params_are_valid():
    for name in SECTIONS:
        section(name, ROOT / "params.yaml")


def test_every_bad_key_is_reported_once():
    with pytest.raises(CodesiftError) as e:
        parse(TrainConfig, {"pad_mode": "packed", "lr": "fast", "epoch": 1, "lora": {"r": "x"}},
              "params.yaml: train")
    lines = str(e.value).splitlines()
    assert len(lines) == 4
    assert any("train.pad_mode: 'packed' is not one of" in m for m in lines)
    assert any("train.epoch: unknown key" in m for m in lines)
    assert any("train.lora.r: expected int" in m for m in lines)


def test_yaml_scientific_notation_is_a_float():
    assert parse(TrainConfig, yaml.safe_load("lr: 1e-3"), "t").lr == 1e-3
    assert parse(SelectConfig, {"ratio": 1}, "s").ratio == 1.0


def test_profiles_are_valid_overrides(tmp_path):
    for profile in sorted((ROOT / "configs").glob("*.yaml")):
        merged = apply_profile(ROOT / "params.yaml", profile)
        assert set(merged) >= set(SECTIONS)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.jsonl"
    write_jsonl(target, [{"a": 1}])

    def rows():
        yield {"a": 2}
        raise KeyboardInterrupt  # a killed stage

    with pytest.raises(KeyboardInterrupt):
        write_jsonl(target, rows())
    assert read_jsonl(target) == [{"a": 1}]
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "model", is_dir=True) as d:
        (d / "weights").write_text("half")
        raise RuntimeError
    assert not (tmp_path / "model").exists()
