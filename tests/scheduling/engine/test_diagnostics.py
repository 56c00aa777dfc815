"""Diagnostics: who was left out, and why a problem has no options (codes and resources asserted)."""

from __future__ import annotations

from scheduling.engine import solve

from .builders import WEEKDAYS_9_TO_5, person, problem, role, session

MONDAY = ("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z")


def codes(result: dict) -> list[tuple]:
    return [(d["code"], d["session"], d["resources"]) for d in result["diagnostics"]]


def one_session(resources: dict, *roles: dict, **fields) -> dict:
    return problem(*MONDAY, resources, [session("coding", 60, *roles)], step_minutes=30, **fields)


def test_it_names_people_who_never_work_when_the_session_could_run():
    weekend = {"sat": [["09:00", "17:00"]]}
    result = solve(one_session({"ana": person(working_hours=weekend), "bo": person(working_hours=weekend)},
                               role("ana", "bo")))
    assert result["options"] == []
    assert codes(result) == [("no_working_hours", "coding", ["ana", "bo"])]


def test_it_names_people_busy_whenever_they_work():
    busy = [["2026-06-15T08:00:00Z", "2026-06-15T18:00:00Z"]]
    result = solve(one_session({"ana": person(working_hours=WEEKDAYS_9_TO_5, busy=busy),
                                "bo": person(working_hours={"sun": [["09:00", "17:00"]]})}, role("ana", "bo")))
    assert codes(result) == [("no_working_hours", "coding", ["bo"]), ("busy", "coding", ["ana"])]


def test_it_names_people_at_their_day_and_week_caps():
    resources = {"ana": person(booked=["2026-06-15T01:00:00Z"], max_per_day=1),
                 "bo": person(booked=["2026-06-16T01:00:00Z", "2026-06-17T01:00:00Z"], max_per_week=2)}
    result = solve(one_session(resources, role("ana", "bo")))
    assert codes(result) == [("cap_day", "coding", ["ana"]), ("cap_week", "coding", ["bo"])]


def test_it_says_when_the_loop_is_longer_than_the_window():
    result = solve(problem("2026-06-15T09:00:00Z", "2026-06-15T09:30:00Z", {"ana": person()},
                           [session("coding", 60, role("ana"))]))
    assert codes(result) == [("window", None, [])]


def test_it_says_when_every_start_is_too_soon():
    result = solve(one_session({"ana": person()}, role("ana"), now="2026-06-15T12:00:00Z",
                               min_notice_minutes=1440))
    assert codes(result) == [("notice", None, [])]


def test_it_says_when_the_candidate_is_never_free_long_enough():
    candidate = {"timezone": "Europe/London",
                 "available": [["2026-06-15T10:00:00Z", "2026-06-15T10:45:00Z"]]}
    result = solve(one_session({"ana": person()}, role("ana"), candidate=candidate))
    assert codes(result) == [("candidate_window", None, [])]


def test_it_says_when_notice_and_candidate_never_meet():
    candidate = {"available": [["2026-06-15T01:00:00Z", "2026-06-15T05:00:00Z"]]}
    result = solve(one_session({"ana": person()}, role("ana"), candidate=candidate, now="2026-06-15T00:00:00Z",
                               min_notice_minutes=360))
    assert [c[0] for c in codes(result)] == ["notice", "candidate_window"]


def test_it_says_a_pool_is_too_small_for_its_count():
    result = solve(one_session({"ana": person(), "bo": person()}, role("ana", "bo", count=3)))
    assert codes(result) == [("pool_too_small", "coding", ["ana", "bo"])]


def test_it_says_when_sessions_can_be_staffed_only_at_different_times():
    resources = {"ana": person(working_hours={"mon": [["09:00", "10:00"]]}),
                 "bo": person(working_hours={"mon": [["14:00", "15:00"]]})}
    p = problem(*MONDAY, resources, [session("first", 60, role("ana")), session("second", 60, role("bo"))],
                step_minutes=30)
    assert codes(solve(p)) == [("no_common_time", "second", ["bo"])]


def test_it_says_when_one_person_would_have_to_sit_two_sessions():
    resources = {"ana": person(), "bo": person(working_hours={"sun": [["09:00", "10:00"]]})}
    p = problem(*MONDAY, resources, [session("first", 60, role("ana")), session("second", 60, role("ana", "bo"))],
                step_minutes=30)
    assert codes(solve(p)) == [("no_common_time", "second", ["ana"])]


def test_it_always_names_unknown_calendars_of_pool_members():
    resources = {"ana": person(), "bo": person(calendar_unknown=True), "cy": person(calendar_unknown=True)}
    result = solve(one_session(resources, role("ana", "bo")))
    assert result["options"]
    assert codes(result) == [("calendar_unknown", None, ["bo"])]  # cy sits in no pool
    assert all(o["sessions"][0]["roles"] == [["ana"]] for o in result["options"])


def test_an_empty_result_caused_only_by_unknown_calendars_names_them():
    result = solve(one_session({"bo": person(calendar_unknown=True)}, role("bo")))
    assert result["options"] == []
    assert codes(result) == [("calendar_unknown", None, ["bo"])]


def test_entries_come_in_the_contracts_code_order_then_session_order():
    resources = {"ana": person(calendar_unknown=True), "bo": person(working_hours={"sat": [["09:00", "10:00"]]}),
                 "cy": person(busy=[["2026-06-14T00:00:00Z", "2026-06-17T00:00:00Z"]])}
    sessions = [session("b-second", 60, role("cy")), session("a-first", 60, role("ana", "bo"))]
    result = solve(problem(*MONDAY, resources, sessions, step_minutes=30))
    assert codes(result) == [("calendar_unknown", None, ["ana"]), ("no_working_hours", "a-first", ["bo"]),
                             ("busy", "b-second", ["cy"])]
    for d in result["diagnostics"]:
        assert d["resources"][0] in d["message"]
