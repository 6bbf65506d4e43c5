"""Profiles and overrides: a params.yaml-shaped file of overrides, as `dvc exp run -S` strings
(Hydra's grammar) or merged into params.yaml. Callers check the result (`codesift.check`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codesift.config import flatten
from codesift.io import read_yaml


def override(key: str, value: Any) -> str:
    """`key=value` in the override syntax of `dvc exp run -S` (Hydra's grammar)."""
    return f"{key}={_hydra_value(value)}"


def _hydra_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ",".join(_hydra_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{k}:{_hydra_value(x)}" for k, x in v.items()) + "}"
    return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"


def profile_overrides(profile: str | Path) -> list[str]:
    """A profile (a params.yaml-shaped file of overrides) as `-S` override strings."""
    return [override(k, v) for k, v in flatten(read_yaml(profile)).items()]


def apply_profile(params: str | Path, profile: str | Path) -> None:
    """Merge `profile` into `params` in place, as `dvc exp run -S` would: DVC's own override
    code (ruamel round trip), so params.yaml keeps its comments, which document the knobs.
    Check the merge first (`codesift.check.check(params, profile)`)."""
    from dvc.utils.hydra import apply_overrides

    apply_overrides(str(params), profile_overrides(profile))
