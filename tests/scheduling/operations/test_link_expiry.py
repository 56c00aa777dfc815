"""Link expiry: the coordinator hears once, a day before an unused link expires; extending gives it a new expiry
(and a new warning before that); optionally a link extends itself once; a link that runs out moves its request to
`expired`, and extending it brings the request back."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling import booking, clock
from scheduling.errors import NotBookable
from scheduling.escalation import link_extend, links_escalate, requests_expire
from scheduling.models import AuditEvent, LinkEscalation, Notice, SchedulingLink, SchedulingRequest
from tests.scheduling.booking.support import parse
from tests.scheduling.operations.support import started

S = SchedulingRequest.State


def _link(request) -> SchedulingLink:
    return SchedulingLink.objects.get(request=request, revoked_at__isnull=True)


def test_it_warns_the_coordinator_once_before_an_unused_link_expires(world, frozen):
    request = started(world)
    link = _link(request)

    frozen.move_to(link.expires_at - dt.timedelta(hours=25))
    links_escalate()
    assert not LinkEscalation.objects.exists() and not Notice.objects.filter(kind="link.expiring").exists()

    frozen.move_to(link.expires_at - dt.timedelta(hours=23))
    links_escalate()
    links_escalate()

    (notice,) = Notice.objects.filter(kind="link.expiring")
    assert notice.recipient == "casey@acme.test" and notice.object_id == str(request.pk)
    assert "expires in 22 h" in notice.subject and notice.url.startswith("/dashboard/")
    assert request.application.candidate.email not in notice.body
    escalation = LinkEscalation.objects.get()
    assert escalation.kind == LinkEscalation.Kind.EXPIRING and escalation.expires_at == link.expires_at
    assert AuditEvent.objects.filter(action="link.expiring", object_id=str(request.pk)).count() == 1


def test_it_does_not_warn_about_a_booked_request(world, frozen):
    request = started(world)
    link = _link(request)
    option = next(o for o in request.options if parse(o["start"]) > clock.now() + dt.timedelta(days=1))
    booking.interview_book(request=request, option=option)

    frozen.move_to(link.expires_at - dt.timedelta(hours=23))
    links_escalate()

    assert not LinkEscalation.objects.exists()


def test_it_extends_a_link_and_warns_again_before_its_new_expiry(world, frozen):
    request = started(world)
    link = _link(request)
    old_expiry = link.expires_at
    frozen.move_to(old_expiry - dt.timedelta(hours=23))
    links_escalate()

    link = link_extend(link=link, hours=48, actor=world.coordinator)

    assert link.expires_at == old_expiry + dt.timedelta(hours=48) and link.extended
    assert _link(request).expires_at == link.expires_at
    assert AuditEvent.objects.filter(action="link.extended", object_id=str(request.pk), actor=world.coordinator) \
        .exists()
    links_escalate()
    assert LinkEscalation.objects.count() == 1

    frozen.move_to(link.expires_at - dt.timedelta(hours=23))
    links_escalate()
    assert LinkEscalation.objects.count() == 2
    assert Notice.objects.filter(kind="link.expiring").count() == 2


def test_it_lets_a_link_extend_itself_once_when_the_setting_says_so(world, frozen, settings):
    settings.LINK_AUTO_EXTEND_HOURS = 48
    request = started(world)
    link = _link(request)
    old_expiry = link.expires_at

    frozen.move_to(old_expiry - dt.timedelta(hours=23))
    links_escalate()

    link.refresh_from_db()
    assert link.expires_at == old_expiry + dt.timedelta(hours=48) and link.extended
    assert Notice.objects.filter(kind="link.auto_extended").count() == 1
    assert not Notice.objects.filter(kind="link.expiring").exists()

    frozen.move_to(link.expires_at - dt.timedelta(hours=23))
    links_escalate()

    link.refresh_from_db()
    assert link.expires_at == old_expiry + dt.timedelta(hours=48)  # only once
    assert [e.kind for e in LinkEscalation.objects.order_by("created_at")] == ["auto_extended", "expiring"]


def test_it_moves_a_request_whose_link_ran_out_to_expired_and_extending_brings_it_back(world, frozen):
    request = started(world)
    link = _link(request)

    frozen.move_to(link.expires_at + dt.timedelta(minutes=5))
    requests_expire()
    requests_expire()

    request.refresh_from_db()
    assert request.state == S.EXPIRED
    assert Notice.objects.filter(kind="request.expired", object_id=str(request.pk)).count() == 1
    assert request.transitions.filter(new_state=S.EXPIRED).count() == 1

    link = link_extend(link=link, hours=48, actor=world.coordinator)

    request.refresh_from_db()
    assert request.state == S.AWAITING_CANDIDATE
    assert link.is_usable(at=clock.now()) and link.expires_at > clock.now() + dt.timedelta(hours=47)


def test_it_refuses_to_extend_a_link_that_was_replaced(world, frozen):
    request = started(world)
    old = _link(request)
    booking.link_regenerate(request=request, actor=world.coordinator)

    with pytest.raises(NotBookable):
        link_extend(link=old, hours=24, actor=world.coordinator)
    with pytest.raises(ValueError):
        link_extend(link=_link(request), hours=0, actor=world.coordinator)
