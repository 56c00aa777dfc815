"""Which open requests a change of people's or rooms' time concerns (`requests_involving`): those whose plan can
draw one of them (pool member, fixed interviewer, named room, any active room), and those whose stored options
name one of them even though the plan no longer can; never a closed request, never one with no stored set; the
oldest option sets first. Asked of the database in one query (the ids are matched as quoted JSON strings, so
"i1" never matches "i12")."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling.models import Role, SchedulingRequest
from scheduling.recompute import requests_involving
from tests import factories as f

pytestmark = pytest.mark.django_db
S = SchedulingRequest.State
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def _option(*ids: str) -> list[dict]:
    return [{"start": "2026-12-08T09:00:00Z", "end": "2026-12-08T10:00:00Z",
             "sessions": [{"id": "s1", "start": "2026-12-08T09:00:00Z", "end": "2026-12-08T10:00:00Z",
                           "roles": [[rid] for rid in ids]}]}]


def _request(plan, *, minutes: int, state=S.AWAITING_CANDIDATE, options=None) -> SchedulingRequest:
    application = f.ApplicationFactory(requisition=plan.requisition)
    return f.SchedulingRequestFactory(application=application, plan=plan, state=state, options=options or [],
                                      options_computed_at=T0 + dt.timedelta(minutes=minutes))


@pytest.fixture
def org():
    pooled, fixed, other, named_only = (f.InterviewerFactory(name=n) for n in ("Pooled", "Fixed", "Other",
                                                                                "Named only"))
    room, spare = f.RoomFactory(name="Thames"), f.RoomFactory(name="Severn")
    pool = f.PoolFactory(name="Backend")
    f.MembershipFactory(pool=pool, interviewer=pooled)

    by_pool = f.SessionTemplateFactory().plan
    f.RoleFactory(session=by_pool.sessions.get(), pool=pool)
    by_fixed = f.SessionTemplateFactory().plan
    f.RoleFactory(session=by_fixed.sessions.get(), kind=Role.Kind.INTERVIEWER, pool=None, interviewer=fixed)
    by_room = f.SessionTemplateFactory().plan
    f.RoleFactory(session=by_room.sessions.get(), kind=Role.Kind.ROOM, pool=None).rooms.set([room])
    any_room = f.SessionTemplateFactory().plan
    f.RoleFactory(session=any_room.sessions.get(), kind=Role.Kind.ROOM, pool=None)  # every active room
    return {"pooled": pooled, "fixed": fixed, "other": other, "named_only": named_only,
            "room": room, "spare": spare, "plans": (by_pool, by_fixed, by_room, any_room)}


def test_it_finds_the_requests_whose_plan_can_draw_the_person_or_room(org):
    by_pool, by_fixed, by_room, any_room = org["plans"]
    r_pool, r_fixed = _request(by_pool, minutes=2), _request(by_fixed, minutes=1)
    r_room, r_any = _request(by_room, minutes=3), _request(any_room, minutes=4)

    assert requests_involving(interviewer_ids=[org["pooled"].pk]) == [r_pool.pk]
    assert requests_involving(interviewer_ids=[org["fixed"].pk]) == [r_fixed.pk]
    assert requests_involving(interviewer_ids=[org["pooled"].pk, org["fixed"].pk]) == [r_fixed.pk, r_pool.pk]
    assert requests_involving(room_ids=[org["room"].pk]) == [r_room.pk, r_any.pk]  # named, and any active room
    assert requests_involving(room_ids=[org["spare"].pk]) == [r_any.pk]
    assert requests_involving(interviewer_ids=[org["other"].pk]) == []
    assert requests_involving() == []


def test_a_room_no_longer_active_is_not_drawn_by_a_role_naming_no_room(org):
    *_, any_room = org["plans"]
    _request(any_room, minutes=1)
    org["spare"].active = False
    org["spare"].save()
    assert requests_involving(room_ids=[org["spare"].pk]) == []


def test_it_finds_a_request_whose_stored_options_name_someone_its_plan_no_longer_draws(org):
    by_pool, *_ = org["plans"]
    one = org["named_only"]
    named = _request(by_pool, minutes=5, options=_option(f"i{one.pk}", f"r{org['room'].pk}"))
    # Another id that merely starts with one's: "i<n>7" must not count as naming "i<n>".
    _request(by_pool, minutes=6, options=_option(f"i{one.pk}7", f"r{org['spare'].pk}7"))

    assert requests_involving(interviewer_ids=[one.pk]) == [named.pk]
    assert requests_involving(room_ids=[org["room"].pk]) == [named.pk]
    assert requests_involving(interviewer_ids=[int(f"{one.pk}7")]) != [named.pk]


def test_closed_requests_and_requests_without_a_stored_set_are_left_alone(org):
    by_pool, *_ = org["plans"]
    _request(by_pool, minutes=1, state=S.CANCELLED)
    _request(by_pool, minutes=2, state=S.EXPIRED)
    never = _request(by_pool, minutes=3)
    never.options_computed_at = None
    never.save()
    booked_past = _request(by_pool, minutes=4, state=S.BOOKED)  # booked, with no live interview ahead
    waiting = _request(by_pool, minutes=5, state=S.PENDING_APPROVAL)

    assert booked_past.pk not in requests_involving(interviewer_ids=[org["pooled"].pk])
    assert requests_involving(interviewer_ids=[org["pooled"].pk]) == [waiting.pk]
