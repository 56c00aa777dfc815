"""A new request is solved against fresh free/busy; with times it emails the candidate their link (or waits for
approval), without times it goes to the coordinator with the reasons, never to the candidate."""

from __future__ import annotations

import re

import pytest

from scheduling import booking
from scheduling.errors import InvalidTransition
from scheduling.models import Notice, SchedulingLink, SchedulingRequest, hash_token
from tests.scheduling.booking.support import CAROL, NOW, messages, parse

S = SchedulingRequest.State
TOKEN = re.compile(r"http://127\.0\.0\.1:8000/s/([A-Za-z0-9_-]+)/")


def test_it_emails_the_link_and_waits_for_the_candidate(world):
    request = world.request()

    booking.request_start(request=request)

    request.refresh_from_db()
    assert request.state == S.AWAITING_CANDIDATE and request.link_sent_at is not None
    assert request.options and request.options_computed_at is not None and request.options_truncated is False
    assert parse(request.options[0]["start"]) >= NOW.replace(day=8)  # 24 hours' notice
    (mail,) = messages(world.mail, request.application.candidate.email)
    assert mail["subject"] == "Acme: choose a time for your Backend Engineer interview"
    assert mail["headers"]["From"] == "Acme <jobs@acme.test>" and mail["headers"]["Reply-To"] == "recruiting@acme.test"
    token = TOKEN.search(mail["text"]).group(1)
    assert TOKEN.search(mail["html"]).group(1) == token and len(token) >= 43  # 32 random bytes
    (link,) = SchedulingLink.objects.filter(request=request)
    assert link.token_hash == hash_token(token) and link.revoked_at is None
    assert booking.link_resolve(token=token) == link
    assert "(Asia/Kolkata)" in mail["text"] and "Coding (60 minutes)" in mail["text"]
    # The calendars were read from the provider, not assumed free.
    assert all(c.busy_fetched_at is not None for c in world.connection.calendars.all())


def test_it_does_not_offer_times_the_provider_shows_busy(world):
    world.fake.seed({"busy": {CAROL: [["2026-12-08T00:00:00Z", "2026-12-09T00:00:00Z"]]}})
    request = world.request()

    booking.request_start(request=request)

    request.refresh_from_db()
    starts = [parse(o["start"]) for o in request.options]
    assert starts and all(s.date().isoformat() != "2026-12-08" for s in starts)


def test_it_needs_attention_without_times_and_tells_only_the_coordinator(world):
    world.fake.seed({"busy": {CAROL: [["2026-12-01T00:00:00Z", "2026-12-31T00:00:00Z"]]}})
    request = world.request()

    booking.request_start(request=request)

    request.refresh_from_db()
    assert request.state == S.NEEDS_ATTENTION and request.options == []
    assert request.diagnostics and all(d["code"] for d in request.diagnostics)
    assert not SchedulingLink.objects.filter(request=request).exists()
    assert messages(world.mail, request.application.candidate.email) == []
    (notice,) = Notice.objects.filter(kind="request.needs_attention")
    assert notice.recipient == "casey@acme.test" and f"#{request.pk}" in notice.subject
    assert "Carol Chen" in notice.body and request.application.candidate.email not in notice.body
    assert str(request.application.candidate) not in notice.body
    assert len(messages(world.mail, "casey@acme.test")) == 1


def test_it_waits_for_approval_then_sends_the_link_when_approved(world):
    world.plan.requires_approval = True
    world.plan.save()
    request = world.request()

    booking.request_start(request=request)

    request.refresh_from_db()
    assert request.state == S.PENDING_APPROVAL and request.options
    assert messages(world.mail, request.application.candidate.email) == []
    assert Notice.objects.filter(kind="request.approval_needed", recipient="casey@acme.test").count() == 1

    booking.request_approve(request=request, actor=world.coordinator)

    request.refresh_from_db()
    assert request.state == S.AWAITING_CANDIDATE and request.link_sent_at is not None
    (mail,) = messages(world.mail, request.application.candidate.email)
    assert TOKEN.search(mail["text"])
    assert list(request.transitions.values_list("new_state", flat=True)) == [S.PENDING_APPROVAL,
                                                                              S.AWAITING_CANDIDATE]
    with pytest.raises(InvalidTransition):
        booking.request_approve(request=request, actor=world.coordinator)


def test_it_goes_to_the_coordinator_when_the_link_email_cannot_be_sent(world, settings):
    world.mail.add_fault(kind="error", status=554, count=5)
    request = world.request()

    booking.request_start(request=request)

    request.refresh_from_db()
    assert request.state == S.NEEDS_ATTENTION and request.link_sent_at is None
    assert Notice.objects.filter(kind="request.needs_attention").count() == 1


def test_it_needs_attention_when_the_plan_cannot_be_solved(world):
    world.plan.sessions.all().delete()
    request = world.request()

    booking.request_start(request=request)

    request.refresh_from_db()
    assert request.state == S.NEEDS_ATTENTION
    (notice,) = Notice.objects.filter(kind="request.needs_attention")
    assert "cannot solve the plan" in notice.body and "sessions" in notice.body
    assert messages(world.mail, request.application.candidate.email) == []
