"""The paper profiles hold the values the README's profile table cites from the original
repositories' files (checked on the params they give, profile merged into params.yaml)."""

from __future__ import annotations

import re

import pytest
import yaml

from codesift.check import as_dict, check
from codesift.config import flatten
from tests.conftest import ROOT

ROW = re.compile(r"^\| `(codeact|efficode)` \| `([\w.]+)` \| `(.*?)` \| (.+) \|$")


def _table() -> list[tuple[str, str, object, str]]:
    rows = []
    for line in (ROOT / "README.md").read_text().splitlines():
        if m := ROW.match(line.strip()):
            rows.append((m[1], m[2], yaml.safe_load(m[3]), m[4]))
    return rows


ROWS = _table()


def test_the_readme_table_covers_both_profiles():
    assert {r[0] for r in ROWS} == {"codeact", "efficode"} and len(ROWS) >= 40


@pytest.mark.parametrize("profile, key, value, source", ROWS,
                         ids=[f"{r[0]}:{r[1]}" for r in ROWS])
def test_profile_value_is_the_cited_one(profile, key, value, source):
    merged = check(ROOT / "params.yaml", ROOT / f"configs/{profile}.yaml", deep=False)
    params = flatten(as_dict(merged))
    assert params[key] == value, f"configs/{profile}.yaml: {key}; the README cites {source}"
