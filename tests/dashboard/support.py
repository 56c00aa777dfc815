"""Seeds for the dashboard tests: one of each problem the dashboard lists, and a history of past requests."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from integrations.models import Health
from scheduling import clock
from scheduling.models import (
    PoolMembership,
    RequestTransition,
    ScheduledInterview,
    SchedulingRequest,
    WorkState,
)
from tests import factories as f

S = SchedulingRequest.State
REVOKED = "invalid_grant: Token has been expired or revoked."


def seed_problems() -> SimpleNamespace:
    """A requisition and its plan; Alice's calendar revoked, Bob at his weekly limit, a pool too small: a request
    with no time to offer says so; a request waiting for six days whose link expires in 10 hours; a quiet
    webhook and a dead ATS write on the requisition's ATS connection; a trainee."""
    now = clock.now()
    coordinator = f.UserFactory(username="casey", email="casey@acme.test")
    ats = f.AtsConnectionFactory(name="Acme Greenhouse")
    requisition = f.RequisitionFactory(title="Backend Engineer", coordinator=coordinator, ats_connection=ats)
    other = f.RequisitionFactory(title="Product Designer", coordinator=coordinator)
    plan = f.PlanFactory(requisition=requisition, name="Onsite loop", window_days=14)
    coding = f.SessionTemplateFactory(plan=plan, name="Coding")
    pool = f.PoolFactory(name="Backend", shadows_required=3, reverse_shadows_required=2)
    f.RoleFactory(session=coding, pool=pool)
    connection = f.CalendarConnectionFactory(name="Acme Workspace")
    calendar = f.CalendarFactory(connection=connection, external_id="alice@acme.test", health=Health.RED,
                                 last_error=REVOKED, last_error_at=now - dt.timedelta(hours=5), consecutive_failures=3)
    alice = f.InterviewerFactory(name="Alice Archer", email="alice@acme.test", calendar=calendar)
    bob = f.InterviewerFactory(name="Bob Brown", email="bob@acme.test", max_per_day=2, max_per_week=5)
    trainee = f.InterviewerFactory(name="Tara Trainee", email="tara@acme.test")
    f.MembershipFactory(pool=pool, interviewer=alice)
    f.MembershipFactory(pool=pool, interviewer=bob)
    f.MembershipFactory(pool=pool, interviewer=trainee, training=PoolMembership.Training.SHADOW)
    failing = f.SchedulingRequestFactory(
        plan=plan, application__requisition=requisition, state=S.NEEDS_ATTENTION, coordinator=coordinator,
        diagnostics=[
            {"code": "calendar_unknown", "session": None, "resources": [f"i{alice.pk}"], "message": "x"},
            {"code": "cap_week", "session": f"s{coding.pk}", "resources": [f"i{bob.pk}"], "message": "x"},
            {"code": "pool_too_small", "session": f"s{coding.pk}", "resources": [f"i{bob.pk}"], "message": "x"}])
    elsewhere = f.SchedulingRequestFactory(plan=f.PlanFactory(requisition=other), application__requisition=other,
                                           state=S.NEEDS_ATTENTION)
    waiting = f.SchedulingRequestFactory(plan=plan, application__requisition=requisition, coordinator=coordinator,
                                         state=S.AWAITING_CANDIDATE, link_sent_at=now - dt.timedelta(days=6))
    link = f.SchedulingLinkFactory(request=waiting, created_at=now - dt.timedelta(days=6),
                                   expires_at=now + dt.timedelta(hours=10))
    quiet = f.AtsComponentHealthFactory(connection=ats, component="webhooks", health=Health.DEGRADED,
                                        quiet_since=now - dt.timedelta(hours=7),
                                        last_error="3 changes found by polling that no webhook delivered",
                                        last_error_at=now - dt.timedelta(hours=7))
    dead = f.OutboxItemFactory(kind="ats.add_note", target=f"ats:{ats.pk}", state=WorkState.DEAD, attempts=8,
                               max_attempts=8, payload={"request_id": waiting.pk},
                               last_error="HTTP 403: the API key may not add notes")
    booked = f.SchedulingRequestFactory(plan=plan, application__requisition=requisition, state=S.BOOKED)
    interview = f.ScheduledInterviewFactory(request=booked, start=now + dt.timedelta(days=1),
                                            end=now + dt.timedelta(days=1, hours=1))
    session = f.InterviewSessionFactory(interview=interview, template=coding, start=interview.start,
                                        end=interview.end)
    f.SessionParticipantFactory(session=session, interviewer=bob)
    f.SessionParticipantFactory(session=session, interviewer=trainee, part="shadow")
    return SimpleNamespace(requisition=requisition, other=other, plan=plan, coding=coding, pool=pool, alice=alice,
                           bob=bob, trainee=trainee, calendar=calendar, connection=connection, failing=failing,
                           elsewhere=elsewhere, waiting=waiting, link=link, ats=ats, quiet=quiet, dead=dead)


def seed_history(count: int, *, plan, start: int = 0) -> None:
    """`count` past requests over the last four weeks, each lived through: booked, booked and moved, cancelled,
    expired, or waiting too long, with their transitions and interviews."""
    now = clock.now()
    requisition = plan.requisition
    for i in range(start, start + count):
        created = now - dt.timedelta(days=1 + i % 27, hours=3)
        fate = i % 5
        state = [S.BOOKED, S.BOOKED, S.CANCELLED, S.EXPIRED, S.AWAITING_CANDIDATE][fate]
        request = f.SchedulingRequestFactory(plan=plan, application__requisition=requisition, state=state,
                                             link_sent_at=created + dt.timedelta(minutes=10))
        SchedulingRequest.objects.filter(pk=request.pk).update(created_at=created, state_changed_at=created)
        moves = [(created + dt.timedelta(minutes=10), S.NEW, S.AWAITING_CANDIDATE)]
        if fate in (0, 1, 2):
            moves.append((created + dt.timedelta(hours=5 + i % 30), S.AWAITING_CANDIDATE, S.BOOKED))
        if fate == 2:
            moves.append((created + dt.timedelta(hours=40), S.BOOKED, S.CANCELLED))
        if fate == 3:
            moves.append((created + dt.timedelta(days=7), S.AWAITING_CANDIDATE, S.EXPIRED))
        RequestTransition.objects.bulk_create([RequestTransition(request=request, old_state=a, new_state=b,
                                                                 cause="history", at=at) for at, a, b in moves])
        if fate in (0, 1, 2):
            start_at = created + dt.timedelta(days=3)
            states = {0: [ScheduledInterview.State.ACTIVE],
                      1: [ScheduledInterview.State.SUPERSEDED, ScheduledInterview.State.ACTIVE],
                      2: [ScheduledInterview.State.CANCELLED]}[fate]
            for revision, interview_state in enumerate(states, start=1):
                f.ScheduledInterviewFactory(request=request, revision=revision, state=interview_state,
                                            start=start_at + dt.timedelta(days=revision),
                                            end=start_at + dt.timedelta(days=revision, hours=2))
