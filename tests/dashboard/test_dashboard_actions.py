"""Each fix on the dashboard is a POST that calls one service and comes back with a message: retry a dead
outbox item, extend a link, email an interviewer a consent link, send a new link, try a request again."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from scheduling import clock
from scheduling.models import AuditEvent, OutboxItem, SchedulingLink, SchedulingRequest, WorkState
from tests.dashboard.support import seed_problems
from tests.scheduling.booking.support import messages

pytestmark = pytest.mark.django_db

S = SchedulingRequest.State


@pytest.fixture
def seeded(frozen):
    return seed_problems()


def _flash(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def test_it_queues_a_dead_outbox_item_again(staff_client, seeded, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post(reverse("dashboard:outbox_retry", args=[seeded.dead.pk]),
                                     {"next": "/dashboard/#outbox"}, follow=True)

    item = OutboxItem.objects.get(pk=seeded.dead.pk)
    assert item.state == WorkState.PENDING and item.attempts == 0 and item.next_attempt_at <= clock.now()
    assert len(callbacks) == 1  # the delivery is queued after commit
    assert response.redirect_chain[-1][0] == "/dashboard/#outbox"
    assert f"Outbox item #{item.pk} (ats.add_note) is queued again." in _flash(response)
    assert AuditEvent.objects.filter(action="outbox.retried", object_id=str(item.pk)).exists()

    again = staff_client.post(reverse("dashboard:outbox_retry", args=[item.pk]), follow=True)
    assert "nothing to retry" in _flash(again)


def test_it_extends_a_link(staff_client, seeded):
    before = seeded.link.expires_at

    response = staff_client.post(reverse("dashboard:link_extend", args=[seeded.link.pk]), {"hours": "48"},
                                 follow=True)

    link = SchedulingLink.objects.get(pk=seeded.link.pk)
    assert link.expires_at == before + dt.timedelta(hours=48) and link.extended
    assert f"Request #{seeded.waiting.pk}: the link now works until" in _flash(response)


def test_it_refuses_a_nonsense_extension(staff_client, seeded):
    response = staff_client.post(reverse("dashboard:link_extend", args=[seeded.link.pk]), {"hours": "forever"},
                                 follow=True)

    assert "was not extended" in _flash(response)
    assert SchedulingLink.objects.get(pk=seeded.link.pk).expires_at == seeded.link.expires_at


def test_it_emails_an_interviewer_a_consent_link(staff_client, seeded, mail_fake, settings):
    settings.CALENDAR_OAUTH = {"google": {**settings.CALENDAR_OAUTH["google"], "client_id": "loopwise-client"}}

    response = staff_client.post(reverse("dashboard:consent", args=[seeded.alice.pk]), follow=True)

    (mail,) = messages(mail_fake, "alice@acme.test")
    assert mail["subject"] == "Connect your calendar to Loopwise"
    assert "Alice Archer was emailed a link to connect their calendar." in _flash(response)


def test_it_says_so_when_consent_is_not_configured(staff_client, seeded, mail_fake, settings):
    settings.CALENDAR_OAUTH = {"google": {**settings.CALENDAR_OAUTH["google"], "client_id": ""}}

    response = staff_client.post(reverse("dashboard:consent", args=[seeded.alice.pk]), follow=True)

    assert "not configured" in _flash(response)
    assert messages(mail_fake, "alice@acme.test") == []


def test_it_tries_a_request_again_and_says_it_still_has_no_time(staff_client, seeded, mail_fake):
    response = staff_client.post(reverse("dashboard:request_retry", args=[seeded.failing.pk]), follow=True)

    failing = SchedulingRequest.objects.get(pk=seeded.failing.pk)
    assert failing.state == S.NEEDS_ATTENTION
    assert failing.options_computed_at is not None  # solved afresh
    assert f"Request #{failing.pk}: still no time to offer" in _flash(response)


def test_it_only_acts_on_post(staff_client, seeded):
    assert staff_client.get(reverse("dashboard:outbox_retry", args=[seeded.dead.pk])).status_code == 405
    assert OutboxItem.objects.get(pk=seeded.dead.pk).state == WorkState.DEAD
