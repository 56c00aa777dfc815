"""The problem builder turns plans, pools, rules, the free/busy cache and our own bookings into a
contract problem; these tests check each piece on the database, then solve the result."""

from __future__ import annotations

import datetime as dt

import pytest

from integrations.models import Health
from scheduling.models import BlackoutDate, Interviewer, PoolMembership, Role, ScheduledInterview
from scheduling.problem_builder import problem_build
from tests import factories as f

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 1, 9, 17, tzinfo=UTC)  # a Tuesday


def fetched_calendar(**kw):
    return f.CalendarFactory(busy_fetched_at=NOW, health=Health.OK, **kw)


@pytest.fixture
def plan(db):
    plan = f.PlanFactory(buffer_minutes=10, min_notice_hours=24, window_days=7, step_minutes=15)
    coding = f.SessionTemplateFactory(plan=plan, position=0, name="Coding", duration_minutes=60)
    f.SessionTemplateFactory(plan=plan, position=1, name="Lunch", duration_minutes=45, is_break=True)
    pool = f.PoolFactory(name="Backend")
    alice = f.InterviewerFactory(name="Alice Ng", timezone="Europe/London", calendar=fetched_calendar())
    bob = f.InterviewerFactory(name="Bob Stone", timezone="America/New_York", calendar=fetched_calendar())
    tina = f.InterviewerFactory(name="Tina Trainee", calendar=fetched_calendar())
    f.MembershipFactory(pool=pool, interviewer=alice)
    f.MembershipFactory(pool=pool, interviewer=bob)
    f.MembershipFactory(pool=pool, interviewer=tina, training=PoolMembership.Training.SHADOW)
    f.RoleFactory(session=coding, pool=pool)
    f.RoleFactory(session=coding, pool=pool, trainees=True, optional=True)
    f.RoleFactory(session=coding, kind=Role.Kind.ROOM, pool=None)
    f.RoomFactory(name="Thames")
    for wd in range(5):
        f.AvailabilityRuleFactory(interviewer=alice, weekday=wd, start=dt.time(9), end=dt.time(12))
        f.AvailabilityRuleFactory(interviewer=alice, weekday=wd, start=dt.time(13), end=dt.time(17, 30))
    plan.people = {"alice": alice, "bob": bob, "tina": tina}
    return plan


def test_it_lays_out_the_plan_as_contract_sessions_and_roles(plan):
    p = problem_build(plan=plan, now=NOW).problem
    alice, bob, tina = (plan.people[k] for k in ("alice", "bob", "tina"))
    assert p["window"] == {"start": "2026-12-01T09:00:00Z", "end": "2026-12-08T09:00:00Z"}
    assert p["min_notice_minutes"] == 1440 and p["buffer_minutes"] == 10
    coding, lunch = p["sessions"]
    assert lunch["roles"] == [] and lunch["duration_minutes"] == 45
    assert coding["roles"][0] == {"pool": sorted([f"i{alice.pk}", f"i{bob.pk}"]), "count": 1}
    assert coding["roles"][1] == {"pool": [f"i{tina.pk}"], "count": 1, "optional": True}
    assert len(coding["roles"][2]["pool"]) == 1 and p["resources"][coding["roles"][2]["pool"][0]]["kind"] == "room"


def test_it_reads_working_hours_and_defaults_to_office_hours(plan):
    res = problem_build(plan=plan, now=NOW).problem["resources"]
    alice, bob = plan.people["alice"], plan.people["bob"]
    assert res[f"i{alice.pk}"]["working_hours"]["mon"] == [["09:00", "12:00"], ["13:00", "17:30"]]
    assert "sat" not in res[f"i{alice.pk}"]["working_hours"]
    assert res[f"i{bob.pk}"]["working_hours"] == {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    assert res[f"i{bob.pk}"]["timezone"] == "America/New_York"
    assert res[f"i{alice.pk}"]["max_per_day"] == 2 and res[f"i{alice.pk}"]["max_per_week"] == 6


def test_it_merges_cached_busy_blocks_our_own_bookings_and_blackouts(plan):
    from scheduling.models import FreeBusyBlock

    alice = plan.people["alice"]
    FreeBusyBlock.objects.create(calendar=alice.calendar, start=NOW + dt.timedelta(days=1),
                                 end=NOW + dt.timedelta(days=1, hours=1), fetched_at=NOW)
    interview = _book(plan, alice, NOW + dt.timedelta(days=2))
    BlackoutDate.objects.create(interviewer=alice, date=dt.date(2026, 12, 4))
    res = problem_build(plan=plan, now=NOW).problem["resources"][f"i{alice.pk}"]
    assert ["2026-12-02T09:17:00Z", "2026-12-02T10:17:00Z"] in res["busy"]
    assert ["2026-12-03T09:17:00Z", "2026-12-03T10:17:00Z"] in res["busy"]
    assert ["2026-12-04T00:00:00Z", "2026-12-05T00:00:00Z"] in res["busy"]  # London local day, UTC in winter
    assert res["booked"] == ["2026-12-03T09:17:00Z"]
    moved = problem_build(plan=plan, now=NOW, exclude_interview=interview).problem["resources"][f"i{alice.pk}"]
    assert moved["booked"] == [] and ["2026-12-03T09:17:00Z", "2026-12-03T10:17:00Z"] not in moved["busy"]


def test_it_marks_unreadable_calendars_unknown_but_not_working_hours_only_people(plan):
    alice, bob, tina = (plan.people[k] for k in ("alice", "bob", "tina"))
    alice.calendar.health = Health.RED
    alice.calendar.save()
    bob.calendar.connection.health = Health.RED
    bob.calendar.connection.save()
    tina.availability_source = Interviewer.Source.WORKING_HOURS
    tina.calendar = None
    tina.save()
    res = problem_build(plan=plan, now=NOW).problem["resources"]
    assert res[f"i{alice.pk}"].get("calendar_unknown") is True
    assert res[f"i{bob.pk}"].get("calendar_unknown") is True
    assert "calendar_unknown" not in res[f"i{tina.pk}"]


def test_it_marks_a_never_read_calendar_unknown(plan):
    alice = plan.people["alice"]
    alice.calendar.busy_fetched_at = None
    alice.calendar.save()
    assert problem_build(plan=plan, now=NOW).problem["resources"][f"i{alice.pk}"]["calendar_unknown"] is True


def test_it_builds_a_problem_the_solver_accepts_and_names_the_unreadable_interviewer(plan):
    from scheduling.engine import solve

    alice = plan.people["alice"]
    alice.calendar.health = Health.RED
    alice.calendar.save()
    out = solve(problem_build(plan=plan, now=NOW).problem)
    assert out["options"], out["diagnostics"]
    unknown = [d for d in out["diagnostics"] if d["code"] == "calendar_unknown"]
    assert unknown and unknown[0]["resources"] == [f"i{alice.pk}"]
    for option in out["options"]:
        assert f"i{alice.pk}" not in option["sessions"][0]["roles"][0]


def _book(plan, interviewer, start):
    from scheduling.models import InterviewSession, SessionParticipant

    req = f.SchedulingRequestFactory(plan=plan, application__requisition=plan.requisition, state="booked")
    interview = ScheduledInterview.objects.create(request=req, start=start, end=start + dt.timedelta(hours=1),
                                                  created_at=NOW)
    session = InterviewSession.objects.create(interview=interview, position=0, name="Coding", start=start,
                                              end=start + dt.timedelta(hours=1))
    SessionParticipant.objects.create(session=session, interviewer=interviewer, busy_start=start,
                                      busy_end=start + dt.timedelta(hours=1))
    return interview


def test_a_reschedule_cuts_the_loops_own_events_out_of_the_cached_calendar(plan):
    from scheduling.models import FreeBusyBlock
    from scheduling.problem_builder import subtract

    alice = plan.people["alice"]
    start = NOW + dt.timedelta(days=2)
    interview = _book(plan, alice, start)
    # The cache holds our own event merged with a meeting right after it.
    FreeBusyBlock.objects.create(calendar=alice.calendar, start=start, end=start + dt.timedelta(hours=2),
                                 fetched_at=NOW)
    res = problem_build(plan=plan, now=NOW, exclude_interview=interview).problem["resources"][f"i{alice.pk}"]
    assert res["busy"] == [["2026-12-03T10:17:00Z", "2026-12-03T11:17:00Z"]]
    assert subtract([(1, 10)], [(3, 4), (6, 12)]) == [(1, 3), (4, 6)]
