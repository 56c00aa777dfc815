"""Links: only hashes are stored, regenerating revokes the old one, unknown tokens resolve to nothing, and a
candidate's "request a new link" reaches the coordinator at most once an hour."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from scheduling import booking
from scheduling.errors import NotBookable
from scheduling.models import AuditEvent, Notice, SchedulingLink, SchedulingRequest
from tests.scheduling.booking.support import messages

S = SchedulingRequest.State
TOKEN = re.compile(r"/s/([A-Za-z0-9_-]+)/")


def _token_of(mail: dict) -> str:
    return TOKEN.search(mail["text"]).group(1)


def test_it_revokes_the_old_link_when_regenerating(world):
    request = world.request()
    booking.request_start(request=request)
    (first_mail,) = messages(world.mail, request.application.candidate.email)
    old = _token_of(first_mail)

    new = booking.link_regenerate(request=request, actor=world.coordinator)

    assert new != old
    assert _token_of(messages(world.mail, request.application.candidate.email)[1]) == new
    old_link, new_link = booking.link_resolve(token=old), booking.link_resolve(token=new)
    now = dt.datetime.now(dt.UTC)
    assert old_link.revoked_at is not None and not old_link.is_usable(at=now)
    assert new_link.revoked_at is None and new_link.is_usable(at=now)
    assert SchedulingLink.objects.filter(request=request, revoked_at__isnull=True).count() == 1
    stored = set(SchedulingLink.objects.values_list("token_hash", flat=True))
    assert old not in stored and new not in stored
    assert new_link.expires_at - new_link.created_at == dt.timedelta(hours=world.plan.link_expiry_hours)


def test_it_sends_a_new_link_to_a_request_whose_link_expired(world):
    request = world.request()
    booking.request_start(request=request)
    SchedulingRequest.objects.filter(pk=request.pk).update(state=S.EXPIRED)

    booking.link_regenerate(request=request, actor=world.coordinator)

    request.refresh_from_db()
    assert request.state == S.AWAITING_CANDIDATE
    assert len(messages(world.mail, request.application.candidate.email)) == 2


def test_it_refuses_to_regenerate_for_a_cancelled_request(world):
    request = world.request(state=S.CANCELLED)

    with pytest.raises(NotBookable):
        booking.link_regenerate(request=request, actor=world.coordinator)

    assert not SchedulingLink.objects.exists()


def test_it_resolves_nothing_for_an_unknown_or_absurd_token(world):
    request = world.request()
    booking.request_start(request=request)

    assert booking.link_resolve(token="not-a-token") is None
    assert booking.link_resolve(token="") is None
    assert booking.link_resolve(token="x" * 10_000) is None


def test_it_counts_each_use_of_a_link(world):
    request = world.request()
    token = booking.link_issue(request=request)
    link = booking.link_resolve(token=token)

    booking.link_touch(link=link)
    booking.link_touch(link=booking.link_resolve(token=token))

    link.refresh_from_db()
    assert link.use_count == 2 and link.last_used_at is not None


def test_it_tells_the_coordinator_once_an_hour_when_a_new_link_is_asked_for(world):
    request = world.request()
    booking.request_start(request=request)
    old = _token_of(messages(world.mail, request.application.candidate.email)[0])
    booking.link_regenerate(request=request, actor=world.coordinator)
    link = booking.link_resolve(token=old)

    booking.link_request_new(link=link)
    booking.link_request_new(link=link)

    notices = Notice.objects.filter(kind="link.new_requested").order_by("id")
    assert [n.status for n in notices] == [Notice.Status.SENT, Notice.Status.FOLDED]
    assert notices[0].recipient == "casey@acme.test" and "revoked" in notices[0].body
    assert AuditEvent.objects.filter(action="link.new_requested", object_id=str(request.pk)).count() == 1
    assert len(messages(world.mail, "casey@acme.test")) == 1
