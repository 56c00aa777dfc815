"""check(problem, option): solve()'s options pass; each broken rule is named; never an exception for a
malformed option."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.engine import ProblemError, check, solve

from .builders import person, problem, role, room, session

BUSY = [["2026-06-15T13:00:00Z", "2026-06-15T14:00:00Z"]]


@pytest.fixture
def loop() -> dict:
    resources = {"ana": person("Europe/London", working_hours={"mon": [["09:00", "17:00"]]}, busy=BUSY,
                               booked=["2026-06-15T08:00:00Z"], max_per_day=2, max_per_week=5),
                 "bo": person("Europe/London"), "cy": person("Europe/London"), "r1": room("Europe/London"),
                 "r2": room("Europe/London")}
    sessions = [session("coding", 60, role("ana", "bo"), role("r1", "r2")), session("lunch", 30),
                session("design", 45, role("bo", "cy"), role("cy", "bo", optional=True), role("r1", "r2"))]
    return problem("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z", resources, sessions, step_minutes=15,
                   buffer_minutes=10, gap_minutes=5, now="2026-06-14T00:00:00Z", min_notice_minutes=60,
                   candidate={"timezone": "UTC", "available": [["2026-06-15T08:00:00Z", "2026-06-15T16:00:00Z"]]})


@pytest.fixture
def option(loop) -> dict:
    return copy.deepcopy(solve(loop)["options"][0])


def broken(loop: dict, option: dict, change) -> list[str]:
    option = copy.deepcopy(option)
    change(option)
    return check(loop, option)


def test_it_accepts_every_option_solve_returns(loop):
    result = solve(loop)
    assert len(result["options"]) > 10
    assert all(check(loop, o) == [] for o in result["options"])


def test_rule_1_sessions_back_to_back_with_the_gap(loop, option):
    def shift(o):
        o["sessions"][2]["start"], o["sessions"][2]["end"] = o["sessions"][1]["end"], o["sessions"][2]["start"]
    out = broken(loop, option, shift)
    assert any("does not start 5 minutes after 'lunch' ends" in s for s in out)
    assert any("'design' lasts" in s for s in out)


def test_rule_1_order_is_kept(loop, option):
    out = broken(loop, option, lambda o: o["sessions"].reverse())
    assert "the sessions do not run in the given order" in out


def test_rule_2_window_and_notice(loop, option):
    def early(o):
        o["start"] = o["sessions"][0]["start"] = "2026-06-14T23:00:00Z"
    out = broken(loop, option, early)
    assert "the loop starts before the window" in out
    loop["now"] = "2026-06-15T09:00:00Z"
    assert check(loop, option) == ["the loop starts less than 60 minutes after now"]


def test_rule_3_candidate_availability(loop, option):
    loop["candidate"]["available"] = [["2026-06-15T08:00:00Z", "2026-06-15T08:30:00Z"]]
    assert check(loop, option) == ["the loop is not within one of the candidate's available intervals"]


def test_rule_4_busy_with_the_buffer(loop, option):
    start = option["sessions"][0]["end"]
    loop["resources"][option["sessions"][0]["roles"][0][0]]["busy"] = [[start, "2026-06-15T23:00:00Z"]]
    loop["buffer_minutes"] = 0
    assert check(loop, option) == []  # touching
    loop["buffer_minutes"] = 1
    assert any("is busy during 'coding' (with its 1-minute buffer)" in s for s in check(loop, option))


def test_rule_5_working_hours(loop, option):
    loop["resources"]["ana"]["busy"] = []
    option["sessions"][0]["roles"][0] = ["ana"]
    loop["resources"]["ana"]["working_hours"] = {"mon": [["09:00", "09:30"]], "tue": [["00:00", "24:00"]]}
    assert "'coding' is not inside one of ana's working-hours ranges on 2026-06-15" in check(loop, option)


def test_rule_6_no_person_twice(loop, option):
    def twice(o):
        o["sessions"][0]["roles"][0] = ["bo"]
        o["sessions"][2]["roles"][0] = ["bo"]
    out = broken(loop, option, twice)
    assert "bo sits 2 sessions (coding, design)" in out
    out = broken(loop, option, lambda o: o["sessions"][2]["roles"].__setitem__(1, o["sessions"][2]["roles"][0]))
    assert any("appears 2 times in 'design'" in s for s in out)


def test_rule_7_caps_count_booked_and_the_options_sessions(loop, option):
    loop["resources"]["r1"]["max_per_day"] = 1
    def same_room(o):
        o["sessions"][0]["roles"][1] = ["r1"]
        o["sessions"][2]["roles"][2] = ["r1"]
    assert "r1 would have 2 interviews on 2026-06-15, over the cap of 1" in broken(loop, option, same_room)


def test_rule_8_roles_filled_from_their_pools(loop, option):
    out = broken(loop, option, lambda o: o["sessions"][0]["roles"].__setitem__(0, []))
    assert "role 1 of 'coding' holds 0 instead of 1" in out
    out = broken(loop, option, lambda o: o["sessions"][0]["roles"].__setitem__(1, ["cy"]))
    assert "cy is not in the pool of 'coding' role 2" in out
    out = broken(loop, option, lambda o: o["sessions"][0]["roles"].__setitem__(1, ["nobody"]))
    assert "nobody in 'coding' is not a resource of the problem" in out


def test_a_start_off_the_step_grid(loop, option):
    def nudge(o):
        for s in o["sessions"]:
            s["start"], s["end"] = s["start"].replace(":00:00Z", ":05:00Z"), s["end"].replace(":00:00Z", ":05:00Z")
        o["start"], o["end"] = o["sessions"][0]["start"], o["sessions"][-1]["end"]
    out = broken(loop, option, nudge)
    assert "the start is not on the 15-minute step from the window's start" in out


def test_an_unreadable_calendar_may_not_sit(loop, option):
    loop["resources"][option["sessions"][0]["roles"][0][0]]["calendar_unknown"] = True
    assert any("calendar could not be read" in s for s in check(loop, option))


@pytest.mark.parametrize("bad", [None, [], "x", {"start": 1}, {"start": "2026-06-15T09:00:00Z", "sessions": 5},
                                 {"start": "2026-06-15T09:00:00", "end": "x", "sessions": []},
                                 {"start": "2026-06-15T09:00:00Z", "end": "2026-06-15T10:00:00Z",
                                  "sessions": [{"id": "coding", "roles": [[1]]}]},
                                 {"start": "2026-06-15T09:00:00Z", "end": "2026-06-15T10:00:00Z",
                                  "sessions": [None]}])
def test_a_malformed_option_gets_sentences_not_an_exception(loop, bad):
    out = check(loop, bad)
    assert out and all(isinstance(s, str) and s for s in out)


def test_a_bad_problem_raises_the_same_error_as_solve(loop, option):
    loop["step_minutes"] = 0
    with pytest.raises(ProblemError) as e:
        check(loop, option)
    assert e.value.field == "step_minutes"


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=25)
                    | st.sampled_from(["2026-06-15T09:00:00Z", "2026-06-15T09:00:00", "coding", "ana", "r1"]),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(st.data())
def test_it_never_raises_on_a_mangled_option(data):
    loop = problem("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z", {"ana": person(), "r1": room()},
                   [session("coding", 60, role("ana"), role("r1")), session("lunch", 30)])
    option = copy.deepcopy(solve(loop)["options"][0])
    for _ in range(data.draw(st.integers(1, 3))):
        target = option
        path = data.draw(st.lists(st.integers(0, 5), max_size=4))
        for step in path:
            keys = list(target) if isinstance(target, dict) else list(range(len(target))) \
                if isinstance(target, list) else []
            if not keys or not isinstance(target[keys[step % len(keys)]], dict | list):
                break
            target = target[keys[step % len(keys)]]
        if isinstance(target, dict) and target:
            target[data.draw(st.sampled_from(sorted(target)))] = data.draw(JSON)
        elif isinstance(target, list) and target:
            target[data.draw(st.integers(0, len(target) - 1))] = data.draw(JSON)
    out = check(loop, option)
    assert isinstance(out, list) and all(isinstance(s, str) and s for s in out)


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(JSON)
def test_it_never_raises_on_any_json_value(value):
    loop = problem("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z", {"ana": person()},
                   [session("coding", 60, role("ana"))])
    out = check(loop, value)
    assert isinstance(out, list) and all(isinstance(s, str) for s in out)
