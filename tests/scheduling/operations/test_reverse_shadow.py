"""Reverse shadows lead with a trained member watching: a pool role flagged "a reverse shadow leads", in a plan
that allows it, becomes the pool's reverse shadows in its own place and one trained overseer after the session's
other roles; booking stores them as `reverse_shadow` and `overseer`, and the session counts toward the trainee's
training once it has taken place."""

from __future__ import annotations

import datetime as dt

from integrations.models import Calendar
from scheduling import booking, clock
from scheduling.models import PoolMembership, Role, SessionParticipant, TrainingSession
from scheduling.problem_builder import problem_build
from scheduling.training import training_record
from tests import factories as f
from tests.scheduling.booking.support import DAVE
from tests.scheduling.operations.support import started

Part = SessionParticipant.Part


def _with_reverse_shadow(world):
    dave = f.InterviewerFactory(name="Dave Dunn", email=DAVE, title="Engineer", timezone="Europe/London",
                                calendar=Calendar.objects.create(connection=world.connection, external_id=DAVE),
                                max_per_day=4, max_per_week=10)
    for weekday in range(5):
        f.AvailabilityRuleFactory(interviewer=dave, weekday=weekday, start=dt.time(9), end=dt.time(18))
    pool_role = Role.objects.get(session__plan=world.plan, kind=Role.Kind.POOL)
    f.MembershipFactory(pool=pool_role.pool, interviewer=dave, training=PoolMembership.Training.REVERSE_SHADOW)
    pool_role.reverse_shadow_leads = True
    pool_role.save()
    return dave, pool_role


def test_it_emits_the_reverse_shadow_and_a_trained_overseer_as_two_required_roles(world):
    dave, pool_role = _with_reverse_shadow(world)
    alice, bob = world.people["alice"], world.people["bob"]

    built = problem_build(plan=world.plan, now=clock.now())

    coding = built.problem["sessions"][0]
    assert coding["roles"][0] == {"pool": [f"i{dave.pk}"], "count": 1}
    assert coding["roles"][1]["pool"] == [f"r{world.room.pk}"]  # the room keeps its place
    assert coding["roles"][2] == {"pool": sorted([f"i{alice.pk}", f"i{bob.pk}"]), "count": 1}
    assert [part for _role, part in built.role_parts(coding["id"])] == [Part.REVERSE_SHADOW, Part.INTERVIEWER,
                                                                         Part.OVERSEER]

    world.plan.allow_reverse_shadow = False
    world.plan.save()
    plain = problem_build(plan=world.plan, now=clock.now()).problem["sessions"][0]
    assert len(plain["roles"]) == 2 and plain["roles"][0]["pool"] == sorted([f"i{alice.pk}", f"i{bob.pk}"])


def test_it_books_the_lead_and_the_overseer_and_counts_the_session_once_it_took_place(world, frozen):
    dave, _role = _with_reverse_shadow(world)
    request = started(world)
    option = request.options[0]

    interview = booking.interview_book(request=request, option=option).interview

    parts = {p.interviewer.name: p.part for p in SessionParticipant.objects.filter(session__interview=interview)
             .select_related("interviewer")}
    assert parts.pop("Dave Dunn") == Part.REVERSE_SHADOW
    assert parts.pop("Carol Chen") == Part.INTERVIEWER
    assert list(parts.values()) == [Part.OVERSEER]  # Alice or Bob watches

    frozen.move_to(interview.end + dt.timedelta(minutes=1))
    training_record()

    record = TrainingSession.objects.get()
    assert record.interviewer == dave and record.kind == TrainingSession.Kind.REVERSE_SHADOW
    assert record.membership.pool.name == "Backend"
