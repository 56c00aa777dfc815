"""Interviewer training: each session a trainee sat counts once, after it took place; at the pool's numbers a
shadow becomes a reverse shadow and then trained, once each, with the coordinator told and the step audited; a
cancelled interview never counts."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from scheduling.models import (
    AuditEvent,
    Notice,
    PoolMembership,
    ScheduledInterview,
    SchedulingRequest,
    SessionParticipant,
    TrainingSession,
)
from scheduling.training import training_record
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
Part = SessionParticipant.Part
Training = PoolMembership.Training


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def team(frozen, mail_fake):
    """A pool that wants 2 shadow sessions and 1 reverse-shadow session, a trainee, a trained lead, and a plan
    whose coding session draws from the pool (a trained member, and a trainee who shadows)."""
    pool = f.PoolFactory(name="Backend", shadows_required=2, reverse_shadows_required=1)
    trainee = f.InterviewerFactory(name="Tara Trainee", email="tara@acme.test")
    lead = f.InterviewerFactory(name="Lee Lead", email="lee@acme.test")
    membership = f.MembershipFactory(pool=pool, interviewer=trainee, training=Training.SHADOW)
    f.MembershipFactory(pool=pool, interviewer=lead)
    coordinator = f.UserFactory(username="casey", email="casey@acme.test")
    plan = f.PlanFactory(requisition__coordinator=coordinator)
    coding = f.SessionTemplateFactory(plan=plan, name="Coding")
    f.RoleFactory(session=coding, pool=pool)
    f.RoleFactory(session=coding, pool=pool, trainees=True, optional=True)

    def sat(part: str, *, days: float, state: str = ScheduledInterview.State.ACTIVE) -> SessionParticipant:
        """The trainee sits `part` in a coding session that starts `days` from now."""
        start = NOW + dt.timedelta(days=days)
        request = f.SchedulingRequestFactory(plan=plan, application__requisition=plan.requisition,
                                             state=SchedulingRequest.State.BOOKED)
        live = state == ScheduledInterview.State.ACTIVE
        interview = f.ScheduledInterviewFactory(request=request, start=start, end=start + dt.timedelta(hours=1),
                                                state=state)
        session = f.InterviewSessionFactory(interview=interview, template=coding, start=start,
                                            end=start + dt.timedelta(hours=1), active=live)
        f.SessionParticipantFactory(session=session, interviewer=lead, active=live)
        return f.SessionParticipantFactory(session=session, interviewer=trainee, part=part, active=live)

    return type("Team", (), {"pool": pool, "trainee": trainee, "membership": membership, "sat": staticmethod(sat)})


def _promotions() -> list[str]:
    return list(AuditEvent.objects.filter(action="training.promoted").order_by("id").values_list("summary", flat=True))


def test_it_moves_a_trainee_on_after_the_configured_counts_once_each(team, frozen):
    team.sat(Part.SHADOW, days=-3)
    team.sat(Part.SHADOW, days=-2)

    training_record()
    training_record()

    team.membership.refresh_from_db()
    assert team.membership.training == Training.REVERSE_SHADOW
    assert TrainingSession.objects.filter(membership=team.membership, kind="shadow").count() == 2
    assert _promotions() == [f"interviewer #{team.trainee.pk} in pool #{team.pool.pk}: shadow -> reverse_shadow "
                             f"after 2 shadow session(s)"]
    (notice,) = Notice.objects.filter(kind="training.promoted")
    assert notice.recipient == "casey@acme.test" and "Tara Trainee" in notice.subject

    team.sat(Part.REVERSE_SHADOW, days=1)  # booked, not yet taken place
    training_record()
    team.membership.refresh_from_db()
    assert team.membership.training == Training.REVERSE_SHADOW

    frozen.move_to(NOW + dt.timedelta(days=1, hours=2))
    training_record()
    training_record()

    team.membership.refresh_from_db()
    assert team.membership.training == Training.TRAINED
    assert len(_promotions()) == 2 and _promotions()[1].endswith("reverse_shadow -> trained after 1 "
                                                                 "reverse-shadow session(s)")
    assert Notice.objects.filter(kind="training.promoted").count() == 2
    assert TrainingSession.objects.count() == 3


def test_it_does_not_count_a_cancelled_interview(team, frozen):
    team.sat(Part.SHADOW, days=-3)
    team.sat(Part.SHADOW, days=-2, state=ScheduledInterview.State.CANCELLED)
    team.sat(Part.SHADOW, days=-1, state=ScheduledInterview.State.SUPERSEDED)

    training_record()

    team.membership.refresh_from_db()
    assert team.membership.training == Training.SHADOW
    assert TrainingSession.objects.count() == 1
    assert _promotions() == [] and not Notice.objects.filter(kind="training.promoted").exists()


def test_it_does_not_count_a_session_before_it_ends(team, frozen):
    participant = team.sat(Part.SHADOW, days=-1 / 48)  # started 30 minutes ago, ends in 30

    training_record()
    assert not TrainingSession.objects.exists()

    frozen.move_to(participant.session.end)
    training_record()
    assert TrainingSession.objects.get().completed_at == participant.session.end


def test_it_goes_straight_to_trained_when_the_pool_wants_no_reverse_shadowing(team, frozen):
    team.pool.reverse_shadows_required = 0
    team.pool.save()
    team.sat(Part.SHADOW, days=-3)
    team.sat(Part.SHADOW, days=-2)

    training_record()

    team.membership.refresh_from_db()
    assert team.membership.training == Training.TRAINED
    assert len(_promotions()) == 2
