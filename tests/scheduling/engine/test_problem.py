"""Input validation: every bad field is refused with its path; unknown fields at every level."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.engine import ProblemError, solve

from .builders import WEEKDAYS_9_TO_5, person, problem, role, room, session

GOOD = problem("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z",
               {"ana": person("Europe/London", working_hours=WEEKDAYS_9_TO_5, booked=["2026-06-15T09:00:00Z"]),
                "r1": room()},
               [session("coding", 60, role("ana"), role("r1"))],
               candidate={"timezone": "Asia/Tokyo", "available": [["2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z"]]})


def edited(change) -> dict:
    p = copy.deepcopy(GOOD)
    change(p)
    return p


def set_in(path: list, value):
    def change(p):
        target = p
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


CASES = [
    (set_in(["colour"], "red"), "colour", "unknown field"),
    (set_in(["window", "middle"], "x"), "window.middle", "unknown field"),
    (set_in(["candidate", "name"], "x"), "candidate.name", "unknown field"),
    (set_in(["resources", "ana", "email"], "x"), "resources.ana.email", "unknown field"),
    (set_in(["resources", "ana", "working_hours", "monday"], []), "resources.ana.working_hours.monday",
     "unknown field"),
    (set_in(["sessions", 0, "title"], "x"), "sessions[0].title", "unknown field"),
    (set_in(["sessions", 0, "roles", 0, "name"], "x"), "sessions[0].roles[0].name", "unknown field"),
    (set_in(["now"], "2026-06-14T09:00:00"), "now", "no UTC offset"),
    (set_in(["window", "start"], "2026-06-15 00:00"), "window.start", "no UTC offset"),
    (set_in(["window", "end"], "2026-06-14T00:00:00Z"), "window.end", "after window.start"),
    (set_in(["window", "end"], "2026-08-17T00:00:01Z"), "window.end", "62 days"),
    (set_in(["window"], {"start": "3100-01-01T00:00:00Z", "end": "3100-01-02T00:00:00Z"}), "window",
     "between the years 1900 and 2999"),
    (set_in(["now"], "0001-01-01T00:00:00+01:00"), "now", "between the years 1 and 9999"),
    (set_in(["step_minutes"], 0), "step_minutes", "from 1"),
    (set_in(["step_minutes"], 15.0), "step_minutes", "whole number"),
    (set_in(["max_options"], 5001), "max_options", "from 1 to 5000"),
    (set_in(["order"], "random"), "order", '"fixed" or "any"'),
    (set_in(["buffer_minutes"], -1), "buffer_minutes", "from 0"),
    (set_in(["candidate", "timezone"], "Mars/Olympus"), "candidate.timezone", "unknown time zone"),
    (set_in(["candidate", "available"], [["2026-06-15T10:00:00Z", "2026-06-15T09:00:00Z"]]),
     "candidate.available[0]", "ends before it starts"),
    (set_in(["resources", "ana", "timezone"], "Europe/Lodnon"), "resources.ana.timezone", "unknown time zone"),
    (set_in(["resources", "ana", "kind"], "robot"), "resources.ana.kind", '"person" or "room"'),
    (set_in(["resources", "ana", "working_hours", "mon"], [["17:00", "09:00"]]),
     "resources.ana.working_hours.mon[0]", "before it starts"),
    (set_in(["resources", "ana", "working_hours", "tue"], [["9:00", "17:00"]]),
     "resources.ana.working_hours.tue[0]", '"HH:MM"'),
    (set_in(["resources", "ana", "working_hours", "tue"], [["24:00", "24:00"]]),
     "resources.ana.working_hours.tue[0]", '"HH:MM"'),
    (set_in(["resources", "ana", "busy"], [["2026-06-15T10:00:00Z", "2026-06-15T09:00:00Z"]]),
     "resources.ana.busy[0]", "ends before it starts"),
    (set_in(["resources", "ana", "busy"], [["2026-06-15T10:00:00Z", "2026-06-15T11:00:00"]]),
     "resources.ana.busy[0][1]", "no UTC offset"),
    (set_in(["resources", "ana", "busy"], [["2026-06-15T10:00:00Z"]]), "resources.ana.busy[0]", "pair"),
    (set_in(["resources", "ana", "booked"], ["soon"]), "resources.ana.booked[0]", "not an ISO 8601"),
    (set_in(["resources", "ana", "max_per_day"], -1), "resources.ana.max_per_day", "from 0"),
    (set_in(["resources", "ana", "calendar_unknown"], "yes"), "resources.ana.calendar_unknown", "true or false"),
    (set_in(["resources", "r1", "buffer_minutes"], 5), "resources.r1.buffer_minutes", "rooms take no buffer"),
    (set_in(["sessions"], []), "sessions", "1 to 12"),
    (set_in(["sessions", 0, "duration_minutes"], 0), "sessions[0].duration_minutes", "from 5 to 480"),
    (set_in(["sessions", 0, "duration_minutes"], 481), "sessions[0].duration_minutes", "from 5 to 480"),
    (set_in(["sessions", 0, "roles", 0, "pool"], ["ana", "zed"]), "sessions[0].roles[0].pool", "'zed'"),
    (set_in(["sessions", 0, "roles", 0, "pool"], ["ana", "ana"]), "sessions[0].roles[0].pool", "more than once"),
    (set_in(["sessions", 0, "roles", 0, "count"], 0), "sessions[0].roles[0].count", "from 1"),
    (set_in(["sessions", 0, "roles", 0, "optional"], 1), "sessions[0].roles[0].optional", "true or false"),
    (lambda p: p["sessions"][0].pop("roles"), "sessions[0].roles", "is required"),
    (lambda p: p["sessions"].append(copy.deepcopy(p["sessions"][0])), "sessions[1].id", "earlier session"),
    (lambda p: p.pop("now"), "now", "is required"),
    (lambda p: p["resources"]["ana"].pop("timezone"), "resources.ana.timezone", "is required"),
]


@pytest.mark.parametrize(("change", "field", "words"), CASES)
def test_it_names_the_bad_field(change, field, words):
    with pytest.raises(ProblemError) as e:
        solve(edited(change))
    assert e.value.field == field
    assert words in e.value.message
    assert str(e.value) == f"{field}: {e.value.message}"


def test_the_good_problem_is_good():
    assert solve(copy.deepcopy(GOOD))["options"]


def test_it_collects_several_errors_in_document_order():
    def two(p):
        p["step_minutes"] = "15"
        p["sessions"][0]["duration_minutes"] = 1
    with pytest.raises(ProblemError) as e:
        solve(edited(two))
    assert [f for f, _ in e.value.errors] == ["step_minutes", "sessions[0].duration_minutes"]
    assert e.value.field == "step_minutes"


def test_a_problem_that_is_not_an_object_is_refused():
    with pytest.raises(ProblemError) as e:
        solve([])
    assert e.value.field == "problem"


def test_it_does_not_change_the_callers_dict():
    p = copy.deepcopy(GOOD)
    solve(p)
    assert p == GOOD


def test_busy_errors_name_each_interval_by_its_own_index():
    busy = [["x"], ["2026-06-15T10:00:00Z", "soon"], ["2026-06-15T10:00:00Z", "2026-06-15T09:00:00Z"]]
    with pytest.raises(ProblemError) as e:
        solve(edited(set_in(["resources", "ana", "busy"], busy)))
    assert e.value.errors == [("resources.ana.busy[0]", "must be a [start, end] pair"),
                              ("resources.ana.busy[1][1]", "'soon' is not an ISO 8601 instant"),
                              ("resources.ana.busy[2]", "ends before it starts")]


JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False)
                    | st.text(max_size=25)
                    | st.sampled_from(["2026-06-15T09:00:00Z", "2026-06-15T09:00:00", "09:00", "24:00", "ana",
                                       "r1", "Europe/London", "room", "any"]),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.data())
def test_a_mangled_problem_is_solved_or_refused_with_a_field_never_crashes(data):
    p = copy.deepcopy(GOOD)
    for _ in range(data.draw(st.integers(1, 3))):
        target = p
        for step in data.draw(st.lists(st.integers(0, 9), max_size=5)):
            keys = sorted(target) if isinstance(target, dict) else list(range(len(target)))
            if not keys or not isinstance(target[keys[step % len(keys)]], dict | list):
                break
            target = target[keys[step % len(keys)]]
        if isinstance(target, dict):
            key = data.draw(st.sampled_from(sorted(target) + ["extra"]) if target else st.just("extra"))
            target[key] = data.draw(JSON)
        elif target:
            target[data.draw(st.integers(0, len(target) - 1))] = data.draw(JSON)
    try:
        result = solve(p)
    except ProblemError as e:
        assert e.errors and all(isinstance(f, str) and m for f, m in e.errors)
    else:
        assert set(result) == {"options", "truncated", "diagnostics"}


def test_hours_shared_between_resources_are_read_once_yet_each_error_names_its_resource():
    bad = {"mon": [["09:00", "25:00"]]}  # one dict object for two resources
    day = [["09:00", "17:00"]]  # one list object for days of two resources
    resources = {"ana": person(working_hours=bad), "bo": person(working_hours=bad),
                 "cy": person(working_hours={"mon": day}),
                 "di": person(working_hours={"mon": day, "tue": [["x", "y"]]})}
    loop = problem("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z", resources,
                   [session("talk", 60, role("ana", "bo", "cy", "di"))])
    with pytest.raises(ProblemError) as e:
        solve(loop)
    assert [f for f, _ in e.value.errors] == ["resources.ana.working_hours.mon[0]", "resources.bo.working_hours.mon[0]",
                                              "resources.di.working_hours.tue[0]"]


def test_hours_shared_between_resources_mean_the_same_as_copies():
    week = {"mon": [["09:00", "12:00"]], "tue": [["13:00", "17:00"]]}
    shared = {rid: person(working_hours=week) for rid in ("ana", "bo")}
    shared["cy"] = person(working_hours={"mon": week["tue"], "tue": week["mon"]})
    loop = problem("2026-06-15T00:00:00Z", "2026-06-17T00:00:00Z", shared,
                   [session("talk", 60, role("ana", "bo", "cy", count=2))], max_options=5000)
    assert solve(loop) == solve(json.loads(json.dumps(loop)))
    assert solve(loop)["options"]


@pytest.mark.parametrize("text", ["AA26-12-01T10:00:00Z", "zz26-12-01T10:00:00+05:30", "2026-1A-01T10:00:00Z"])
def test_letters_where_digits_belong_are_named_not_crashed_on(text):
    # Two letters in the year once made a "year" past the fast parser's tables (IndexError).
    busy = [["2026-06-15T08:00:00Z", "2026-06-15T09:00:00Z"], [text, "2026-12-01T11:00:00Z"]]
    with pytest.raises(ProblemError) as e:
        solve(edited(set_in(["resources", "ana", "busy"], busy)))
    assert e.value.errors == [("resources.ana.busy[1][0]", f"{text!r} is not an ISO 8601 instant")]


def test_busy_errors_come_in_document_order_across_starts_and_ends():
    ok = "2026-06-15T08:00:00Z"
    busy = [[ok, ok], [ok, "e1"], ["s2", ok], ["s3", "e3"], ["2026-06-15T10:00:00Z", ok]]
    with pytest.raises(ProblemError) as e:
        solve(edited(set_in(["resources", "ana", "busy"], busy)))
    assert [f for f, _ in e.value.errors] == ["resources.ana.busy[1][1]", "resources.ana.busy[2][0]",
                                              "resources.ana.busy[3][0]", "resources.ana.busy[3][1]",
                                              "resources.ana.busy[4]"]
