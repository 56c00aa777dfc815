"""Hand-made cases for the rules that are easy to get wrong: caps in local weeks, buffers that touch busy
time, rooms, order "any", load balancing and shadows, and `truncated`."""

from __future__ import annotations

import pytest

from scheduling.engine import ProblemError, solve

from .builders import WEEKDAYS_9_TO_5, person, problem, role, room, session, starts


class TestWeekCapsInTokyo:
    # Asia/Tokyo is UTC+9 all year: the ISO week turns at Monday 00:00 JST, which is Sunday 15:00Z.

    def sunday_evening(self, zone: str) -> dict:
        ken = person(zone, booked=["2026-06-14T01:00:00Z"], max_per_week=1)  # Sunday 10:00 JST
        return problem("2026-06-14T12:00:00Z", "2026-06-14T18:00:00Z", {"ken": ken},
                       [session("chat", 60, role("ken"))], step_minutes=60)

    def test_it_opens_the_new_week_at_monday_midnight_in_tokyo(self):
        result = solve(self.sunday_evening("Asia/Tokyo"))
        assert starts(result) == ["2026-06-14T15:00:00Z", "2026-06-14T16:00:00Z", "2026-06-14T17:00:00Z"]

    def test_it_uses_the_resources_own_zone_for_the_week(self):
        # In UTC the whole evening is still Sunday, the week of the booked interview.
        result = solve(self.sunday_evening("UTC"))
        assert starts(result) == []
        assert [d["code"] for d in result["diagnostics"]] == ["cap_week"]
        assert result["diagnostics"][0]["resources"] == ["ken"]

    def test_it_counts_the_options_own_sessions_per_week(self):
        # Two sessions for one room capped at 2 a week, with one already booked that week.
        resources = {"r": room("Asia/Tokyo", booked=["2026-06-10T01:00:00Z"], max_per_week=2),
                     "a": person("Asia/Tokyo"), "b": person("Asia/Tokyo")}
        sessions = [session("one", 60, role("a"), role("r")), session("two", 60, role("b"), role("r"))]
        p = problem("2026-06-14T13:00:00Z", "2026-06-14T17:00:00Z", resources, sessions, step_minutes=60)
        # 13:00Z and 14:00Z starts keep both sessions in the week of the booking (2 + 1 > 2);
        # at 14:00Z the second session starts 15:00Z, Monday in Tokyo: one in each week.
        assert starts(solve(p)) == ["2026-06-14T14:00:00Z", "2026-06-14T15:00:00Z"]


class TestRooms:
    def loop(self, cap: int) -> dict:
        resources = {"r": room(max_per_day=cap), "a": person(), "b": person(), "c": person()}
        sessions = [session(s, 60, role(p), role("r")) for s, p in (("s1", "a"), ("s2", "b"), ("s3", "c"))]
        return problem("2026-06-15T09:00:00Z", "2026-06-15T12:00:00Z", resources, sessions, step_minutes=60)

    def test_a_room_hosting_three_sessions_counts_three(self):
        assert starts(solve(self.loop(2))) == []
        options = solve(self.loop(3))["options"]
        assert [s["roles"][1] for s in options[0]["sessions"]] == [["r"], ["r"], ["r"]]

    def test_a_room_takes_no_buffer_but_a_person_does(self):
        resources = {"a": person(busy=[["2026-06-15T09:00:00Z", "2026-06-15T10:00:00Z"]]),
                     "r": room(busy=[["2026-06-15T09:00:00Z", "2026-06-15T10:00:00Z"]])}
        p = problem("2026-06-15T09:00:00Z", "2026-06-15T12:00:00Z", resources,
                    [session("s", 60, role("r"))], step_minutes=15, buffer_minutes=15)
        assert starts(solve(p))[0] == "2026-06-15T10:00:00Z"
        p["sessions"] = [session("s", 60, role("a"))]
        assert starts(solve(p))[0] == "2026-06-15T10:15:00Z"

    def test_a_room_is_never_twice_in_one_session(self):
        resources = {"r": room(), "a": person()}
        p = problem("2026-06-15T09:00:00Z", "2026-06-15T11:00:00Z", resources,
                    [session("s", 60, role("a", "r"), role("r"))], step_minutes=60)
        options = solve(p)["options"]
        assert [o["sessions"][0]["roles"] for o in options] == [[["a"], ["r"]], [["a"], ["r"]]]


class TestBuffers:
    def around_a_meeting(self, **fields) -> dict:
        ana = person(busy=[["2026-06-15T10:00:00Z", "2026-06-15T11:00:00Z"]], **fields)
        return problem("2026-06-15T08:00:00Z", "2026-06-15T13:00:00Z", {"ana": ana},
                       [session("s", 60, role("ana"))], step_minutes=15, buffer_minutes=15)

    def test_touching_the_busy_time_with_the_buffer_is_not_overlapping(self):
        got = starts(solve(self.around_a_meeting()))
        assert "2026-06-15T08:45:00Z" in got  # ends 09:45, buffer to 10:00
        assert "2026-06-15T09:00:00Z" not in got
        assert "2026-06-15T10:45:00Z" not in got
        assert "2026-06-15T11:15:00Z" in got  # buffer from 11:00

    def test_a_persons_own_buffer_replaces_the_problems(self):
        got = starts(solve(self.around_a_meeting(buffer_minutes=0)))
        assert "2026-06-15T09:00:00Z" in got
        assert "2026-06-15T11:00:00Z" in got


class TestOrderAny:
    def morning_and_afternoon(self, order: str) -> dict:
        resources = {"early": person(working_hours={"mon": [["09:00", "10:00"]]}),
                     "late": person(working_hours={"mon": [["11:00", "12:00"]]}), "r": room()}
        sessions = [session("late-talk", 60, role("late"), role("r")), session("lunch", 60),
                    session("early-talk", 60, role("early"), role("r"))]
        return problem("2026-06-15T08:00:00Z", "2026-06-15T14:00:00Z", resources, sessions, step_minutes=60,
                       order=order)

    def test_fixed_order_finds_nothing_when_the_people_come_the_other_way_round(self):
        assert starts(solve(self.morning_and_afternoon("fixed"))) == []

    def test_any_order_swaps_the_interviews_around_a_break_that_stays(self):
        option, = solve(self.morning_and_afternoon("any"))["options"]
        assert option["start"] == "2026-06-15T09:00:00Z"
        assert [s["id"] for s in option["sessions"]] == ["early-talk", "lunch", "late-talk"]
        assert [s["roles"] for s in option["sessions"]] == [[["early"], ["r"]], [], [["late"], ["r"]]]

    def test_any_order_keeps_the_given_order_when_it_works(self):
        resources = {"a": person(), "b": person()}
        sessions = [session("first", 60, role("a")), session("second", 30, role("b"))]
        p = problem("2026-06-15T08:00:00Z", "2026-06-15T10:00:00Z", resources, sessions, order="any")
        assert all([s["id"] for s in o["sessions"]] == ["first", "second"] for o in solve(p)["options"])

    def test_more_than_six_interviews_are_refused_under_any(self):
        sessions = [session(f"s{i}", 30, role("a")) for i in range(7)]
        with pytest.raises(ProblemError) as e:
            solve(problem("2026-06-15T08:00:00Z", "2026-06-16T08:00:00Z", {"a": person()}, sessions, order="any"))
        assert e.value.field == "sessions"


class TestPanels:
    def balanced(self, **booked: list[str]) -> list:
        resources = {rid: person(booked=booked.get(rid, [])) for rid in ("p10", "p2", "busy-bee")}
        p = problem("2026-06-15T09:00:00Z", "2026-06-15T10:00:00Z", resources,
                    [session("s", 60, role("p2", "p10", "busy-bee"))])
        return solve(p)["options"][0]["sessions"][0]["roles"][0]

    def test_it_balances_by_bookings_that_week_then_by_code_point_id(self):
        monday, sunday = "2026-06-15T07:00:00Z", "2026-06-21T20:00:00Z"  # the week of the session
        assert self.balanced(**{"busy-bee": [monday]}) == ["p10"]  # "p10" sorts before "p2"
        assert self.balanced(**{"busy-bee": [monday], "p10": [sunday]}) == ["p2"]
        assert self.balanced(p10=[monday], p2=[monday, sunday]) == ["busy-bee"]

    def test_bookings_in_other_weeks_do_not_count(self):
        other_weeks = ["2026-06-14T20:00:00Z", "2026-06-22T09:00:00Z"]
        assert self.balanced(p10=other_weeks, **{"busy-bee": ["2026-06-15T07:00:00Z"]}) == ["p10"]

    def test_a_larger_role_takes_the_least_booked_members(self):
        resources = {rid: person() for rid in ("a", "b", "c", "d")}
        resources["a"]["booked"] = ["2026-06-16T09:00:00Z"]
        p = problem("2026-06-15T09:00:00Z", "2026-06-15T10:00:00Z", resources,
                    [session("s", 60, role("a", "b", "c", "d", count=3))])
        assert solve(p)["options"][0]["sessions"][0]["roles"] == [["b", "c", "d"]]

    def test_a_shadow_stays_empty_only_when_no_one_can_sit(self):
        resources = {"lead": person(), "t1": person(max_per_day=0), "t2": person()}
        p = problem("2026-06-15T09:00:00Z", "2026-06-15T10:00:00Z", resources,
                    [session("s", 60, role("lead"), role("t1", "t2", optional=True))])
        assert solve(p)["options"][0]["sessions"][0]["roles"] == [["lead"], ["t2"]]
        p["resources"]["t2"]["busy"] = [["2026-06-15T09:00:00Z", "2026-06-15T09:30:00Z"]]
        assert solve(p)["options"][0]["sessions"][0]["roles"] == [["lead"], []]

    def test_it_finds_the_panel_when_the_first_choice_takes_someone_needed_later(self):
        resources = {"ann": person(), "bob": person(busy=[["2026-06-15T10:00:00Z", "2026-06-15T11:00:00Z"]])}
        sessions = [session("one", 60, role("ann", "bob")), session("two", 60, role("ann"))]
        p = problem("2026-06-15T09:00:00Z", "2026-06-15T11:00:00Z", resources, sessions)
        option, = solve(p)["options"]
        assert [s["roles"] for s in option["sessions"]] == [[["bob"]], [["ann"]]]


class TestTruncated:
    def hours(self, max_options: int) -> dict:
        return problem("2026-06-15T10:00:00Z", "2026-06-15T14:00:00Z", {"a": person()},
                       [session("s", 60, role("a"))], step_minutes=60, max_options=max_options)

    def test_it_is_false_when_exactly_max_options_starts_exist(self):
        result = solve(self.hours(4))
        assert len(result["options"]) == 4
        assert result["truncated"] is False

    def test_it_is_true_when_one_more_start_exists(self):
        result = solve(self.hours(3))
        assert starts(result) == ["2026-06-15T10:00:00Z", "2026-06-15T11:00:00Z", "2026-06-15T12:00:00Z"]
        assert result["truncated"] is True


def test_a_working_hours_range_shorter_than_the_session_admits_nothing():
    hours = {"sat": [["00:00", "01:30"]], "sun": [["02:00", "02:30"]], "mon": [["09:00", "23:00"]]}
    p = problem("2026-03-07T00:00:00Z", "2026-03-09T00:00:00Z", {"a": person(working_hours=hours)},
                [session("s", 60, role("a"))], step_minutes=15)
    assert starts(solve(p)) == ["2026-03-07T00:00:00Z", "2026-03-07T00:15:00Z", "2026-03-07T00:30:00Z"]


def test_working_hours_of_a_weekday_apply_on_that_local_weekday_only():
    p = problem("2026-06-13T00:00:00Z", "2026-06-16T00:00:00Z",
                {"a": person("Asia/Kolkata", working_hours=WEEKDAYS_9_TO_5)},
                [session("s", 60, role("a"))], step_minutes=60)
    # Saturday and Sunday are not worked; Monday 09:00-17:00 IST is 03:30Z-11:30Z, the grid is on the hour.
    assert starts(solve(p)) == [f"2026-06-15T{h:02d}:00:00Z" for h in range(4, 11)]
