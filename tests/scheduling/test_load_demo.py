"""`load_demo` builds the Northwind Labs demo organisation. These tests check what it loads, that its bookings
keep the rules real bookings keep (working hours, caps, buffers, no double booking, allowed transitions), and
that running it again changes nothing."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import time
import zoneinfo
from collections import Counter, defaultdict

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import transaction

from scheduling import clock
from scheduling.demo import DEMO_CANDIDATES, DEMO_LOGIN, demo_anchor, demo_link_token, demo_load
from scheduling.models import (
    Candidate,
    Interviewer,
    InterviewerPool,
    InterviewPlan,
    InterviewSession,
    OrganisationSettings,
    PoolMembership,
    RequestTransition,
    Room,
    ScheduledInterview,
    SchedulingLink,
    SchedulingRequest,
    SessionParticipant,
    hash_token,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC
# A clock after both 2026 spring-forward changes (US 8 March, UK and EU 29 March), so 30 days of history
# straddle them.
AFTER_DST = dt.datetime(2026, 4, 7, 10, 30, tzinfo=UTC)


def row_counts() -> dict[str, int]:
    return {m._meta.label: m._base_manager.count() for m in apps.get_models()}


def live_participants():
    return SessionParticipant.objects.filter(active=True, session__interview__state=ScheduledInterview.State.ACTIVE) \
        .select_related("session__interview__request__plan", "interviewer")


def test_it_loads_a_realistic_organisation():
    counts = demo_load()

    assert counts["interviewers"] >= 24 and Interviewer.objects.count() >= 24
    assert len(set(Interviewer.objects.values_list("timezone", flat=True))) >= 3
    assert Interviewer.objects.filter(availability_source=Interviewer.Source.WORKING_HOURS, calendar=None).exists()
    assert not Interviewer.objects.filter(availability_source=Interviewer.Source.CALENDAR, calendar=None).exists()
    assert Room.objects.filter(calendar__isnull=False).count() >= 5
    assert Candidate.objects.count() >= 12
    assert OrganisationSettings.load().company_name == "Northwind Labs"
    for person in Interviewer.objects.prefetch_related("availability_rules"):
        assert person.availability_rules.exists(), person.name


def test_it_gives_every_plan_three_to_five_sessions_with_a_lunch_break():
    demo_load()

    plans = InterviewPlan.objects.prefetch_related("sessions__roles")
    assert plans.count() >= 4
    assert plans.filter(requires_approval=True).exists()
    for plan in plans:
        sessions = list(plan.sessions.all())
        assert 3 <= len(sessions) <= 5, plan
        breaks = [s for s in sessions if s.is_break]
        assert [(b.duration_minutes, b.roles.count()) for b in breaks] == [(45, 0)], plan
        assert all(s.roles.exists() for s in sessions if not s.is_break), plan


def test_it_gives_every_pool_trained_members_and_trainees():
    demo_load()

    for pool in InterviewerPool.objects.all():
        trainings = set(pool.memberships.values_list("training", flat=True))
        assert PoolMembership.Training.TRAINED in trainings, pool
        assert trainings & {PoolMembership.Training.SHADOW, PoolMembership.Training.REVERSE_SHADOW}, pool


def test_it_leaves_requests_in_every_state_a_coordinator_meets():
    demo_load()

    states = set(SchedulingRequest.objects.values_list("state", flat=True))
    assert {"new", "awaiting_candidate", "needs_attention", "booked", "cancelled"} <= states
    now = clock.now()
    for request in SchedulingRequest.objects.filter(state="booked"):
        interview = request.interviews.get(state=ScheduledInterview.State.ACTIVE)
        assert interview.start > now
        assert SessionParticipant.objects.filter(session__interview=interview).exists()
    for request in SchedulingRequest.objects.exclude(state="new"):
        assert request.transitions.filter(cause__startswith="demo data").exists()
    assert not RequestTransition.objects.filter(request__state="new").exists()


def test_it_sends_each_waiting_candidate_a_link_the_demo_can_open():
    demo_load()

    d = next(c for c in DEMO_CANDIDATES if c.state == "awaiting_candidate")
    link = SchedulingLink.objects.get(token_hash=hash_token(demo_link_token(d.application_id)))
    assert link.request.application.candidate.external_id == d.external_id
    assert link.is_usable(at=clock.now())


@pytest.mark.parametrize("moment", [None, AFTER_DST], ids=["today", "across-dst"])
def test_it_books_loops_inside_working_hours_without_double_booking(moment, time_machine):
    if moment is not None:
        time_machine.move_to(moment, tick=False)
    demo_load(history_days=30)

    participants = list(live_participants())
    assert len(participants) > 50
    rules = defaultdict(list)
    for person in Interviewer.objects.prefetch_related("availability_rules", "blackout_dates"):
        rules[person.pk] = list(person.availability_rules.all())
    blackouts = {p.pk: set(p.blackout_dates.values_list("date", flat=True)) for p in Interviewer.objects.all()}
    busy, per_day, per_week = defaultdict(list), Counter(), Counter()
    for sp in participants:
        person, session = sp.interviewer, sp.session
        tz = zoneinfo.ZoneInfo(person.timezone)
        start, end = session.start.astimezone(tz), session.end.astimezone(tz)
        assert start.date() == end.date()
        assert any(r.weekday == start.weekday() and r.start <= start.time()
                   and (end.time() <= r.end or r.end == dt.time(0))
                   for r in rules[person.pk]), (person.name, start, end)
        assert start.date() not in blackouts[person.pk]
        plan = session.interview.request.plan
        pad = dt.timedelta(minutes=person.buffer_minutes if person.buffer_minutes is not None
                           else plan.buffer_minutes)
        assert (sp.busy_start, sp.busy_end) == (session.start - pad, session.end + pad)
        busy[person.pk].append((sp.busy_start, sp.busy_end))
        per_day[(person.pk, start.date())] += 1
        per_week[(person.pk, start.isocalendar()[:2])] += 1
    for ranges in busy.values():
        ranges.sort()
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(ranges, ranges[1:], strict=False))
    caps = {p.pk: (p.max_per_day, p.max_per_week) for p in Interviewer.objects.all()}
    assert all(n <= caps[pk][0] for (pk, _), n in per_day.items())
    assert all(n <= caps[pk][1] for (pk, _), n in per_week.items())
    rooms = defaultdict(list)
    for s in InterviewSession.objects.filter(interview__state=ScheduledInterview.State.ACTIVE, room__isnull=False):
        rooms[s.room_id].append((s.start, s.end))
    assert rooms
    for ranges in rooms.values():
        ranges.sort()
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(ranges, ranges[1:], strict=False))


def test_it_records_only_allowed_transitions_in_time_order():
    demo_load(history_days=20)

    anchor = demo_anchor()
    moves = defaultdict(list)
    for t in RequestTransition.objects.order_by("request_id", "at", "id"):
        moves[t.request_id].append(t)
    for request in SchedulingRequest.objects.all():
        chain = moves[request.pk]
        state = "new"
        for t in chain:
            assert t.old_state == state and t.new_state in SchedulingRequest.TRANSITIONS[state], request.pk
            assert request.created_at <= t.at <= anchor
            state = t.new_state
        assert state == request.state
        assert request.state_changed_at == (chain[-1].at if chain else request.created_at)


def test_it_changes_nothing_when_run_twice():
    demo_load()
    before = row_counts()

    demo_load()

    assert row_counts() == before


def test_it_adds_past_requests_once():
    demo_load()
    anchor = demo_anchor()
    assert not SchedulingRequest.objects.filter(created_at__lt=anchor - dt.timedelta(days=13)).exists()

    counts = demo_load(history_days=10)

    assert counts["history_days_added"] >= 6
    past = SchedulingRequest.objects.filter(created_at__lt=anchor - dt.timedelta(days=2))
    assert past.count() >= 2 * 6
    assert past.filter(state="completed", interviews__end__lt=anchor).exists()
    assert RequestTransition.objects.filter(at__lt=anchor - dt.timedelta(days=5)).count() > 20
    before = row_counts()

    again = demo_load(history_days=10)
    demo_load()

    assert again["history_days_added"] == 0
    assert row_counts() == before


def test_it_loads_the_same_rows_every_time_on_the_same_day(time_machine):
    time_machine.move_to(AFTER_DST, tick=False)

    def signature():
        with transaction.atomic():
            demo_load(history_days=15)
            rows = sorted(
                (r.application.candidate.external_id, r.state, r.created_at, r.link_sent_at, r.booked_at,
                 tuple(sorted((p.interviewer.email, p.part, p.session.start.isoformat())
                              for p in SessionParticipant.objects.filter(session__interview__request=r))))
                for r in SchedulingRequest.objects.select_related("application__candidate"))
            transaction.set_rollback(True)
        return rows

    first = signature()
    assert len(first) > 30
    assert signature() == first


def test_it_lets_the_demo_user_sign_in_to_the_admin(client):
    demo_load()

    assert client.login(username=DEMO_LOGIN["username"], password=DEMO_LOGIN["password"])
    assert client.get("/admin/").status_code == 200


def test_the_command_prints_counts_and_the_login_but_no_candidate_data():
    out = io.StringIO()

    call_command("load_demo", "--history-days", "5", stdout=out)

    text = out.getvalue()
    assert "interviewers" in text and "demo / loopwise-demo" in text
    emails = Candidate.objects.values_list("email", flat=True)
    assert emails and not any(e in text for e in emails)
    assert not any(c.last_name in text for c in DEMO_CANDIDATES)


def test_the_command_refuses_a_negative_history():
    with pytest.raises(CommandError):
        call_command("load_demo", "--history-days", "-1", stdout=io.StringIO())
    assert not Interviewer.objects.exists()


@pytest.mark.slow
def test_it_loads_a_year_of_history_in_reasonable_time():
    started = time.monotonic()
    counts = demo_load(history_days=365)
    elapsed = time.monotonic() - started

    anchor = demo_anchor()
    weekdays = sum((anchor - dt.timedelta(days=n)).weekday() < 5 for n in range(1, 366))
    assert counts["history_days_added"] == weekdays
    assert counts["requests"] >= 2 * weekdays
    assert SchedulingRequest.objects.filter(created_at__lt=anchor - dt.timedelta(days=350)).exists()
    assert elapsed < 60


@pytest.mark.slow
def test_it_loads_into_a_fresh_sqlite_file(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", "LOOPWISE_ENV": "test"}
    env.pop("LOOPWISE_CLOCK_FILE", None)

    def manage(*args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    manage("migrate", "-v", "0")
    first = manage("load_demo", "--history-days", "30")
    second = manage("load_demo", "--history-days", "30")

    assert "30 interviewers" in first and "History: added" in first
    assert second.splitlines()[0] == first.splitlines()[0]
    assert "History: added" not in second
