"""The shared engine examples (../shared/engine-examples beside the repository): exact start lists, and
every option, including the example's own, keeps every rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scheduling.engine import check, solve

EXAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "engine-examples"
FILES = sorted(EXAMPLES.glob("*.json")) if EXAMPLES.is_dir() else []


@pytest.mark.skipif(not FILES, reason="shared/engine-examples is not beside the repository")
@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_it_solves_the_shared_example(path):
    doc = json.loads(path.read_text())
    result = solve(doc["problem"])
    assert [o["start"] for o in result["options"]] == doc["expected_starts"]
    assert result["truncated"] is False
    assert all(check(doc["problem"], o) == [] for o in result["options"])
    if doc["one_valid_option"]:
        assert check(doc["problem"], doc["one_valid_option"]) == []
    else:
        assert result["diagnostics"]
