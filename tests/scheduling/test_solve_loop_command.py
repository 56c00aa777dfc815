"""`manage.py solve_loop PROBLEM.json|-`, run as a real process: JSON on stdout, or one `error:` line and
exit status 2 for bad input, never a traceback."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

GOOD = {
    "now": "2026-06-14T00:00:00Z",
    "window": {"start": "2026-06-15T09:00:00Z", "end": "2026-06-15T12:00:00Z"},
    "step_minutes": 60,
    "resources": {"ana": {"timezone": "Europe/London", "working_hours": {"mon": [["09:00", "17:00"]]}, "busy": []}},
    "sessions": [{"id": "coding", "duration_minutes": 60, "roles": [{"pool": ["ana"]}]}],
}


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "solve_loop", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=60)


def edited(change) -> str:
    p = copy.deepcopy(GOOD)
    change(p)
    return json.dumps(p)


def test_it_prints_the_result_as_json():
    done = run("-", stdin=json.dumps(GOOD))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [o["start"] for o in result["options"]] == ["2026-06-15T09:00:00Z", "2026-06-15T10:00:00Z",
                                                      "2026-06-15T11:00:00Z"]
    assert result["truncated"] is False


def test_it_reads_a_file(tmp_path):
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(GOOD))
    done = run(str(path))
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["options"]) == 3


BAD = [
    ("unknown field", lambda p: p.update(colour="red"), "colour"),
    ("naive time", lambda p: p.update(now="2026-06-14T00:00:00"), "now"),
    ("window backwards", lambda p: p["window"].update(end="2026-06-15T08:00:00Z"), "window.end"),
    ("unknown resource in a pool", lambda p: p["sessions"][0]["roles"][0]["pool"].append("zed"),
     "sessions[0].roles[0].pool"),
    ("zero duration", lambda p: p["sessions"][0].update(duration_minutes=0), "sessions[0].duration_minutes"),
    ("unknown time zone", lambda p: p["resources"]["ana"].update(timezone="Europe/Lodnon"),
     "resources.ana.timezone"),
    ("working hours backwards", lambda p: p["resources"]["ana"]["working_hours"].update(mon=[["17:00", "09:00"]]),
     "resources.ana.working_hours.mon[0]"),
]


@pytest.mark.parametrize(("change", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_naming_the_field_and_exit_2(change, field):
    done = run("-", stdin=edited(change))
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: {field}: ")


def test_invalid_json_names_stdin():
    done = run("-", stdin='{"now": ')
    assert done.returncode == 2
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("error: -: not valid JSON")


def test_an_unreadable_file_is_named(tmp_path):
    missing = str(tmp_path / "nope.json")
    done = run(missing)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {missing}: cannot read it (No such file or directory)"
