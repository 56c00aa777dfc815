"""The expired page's "Request a new link": the coordinator is told once an hour and it is recorded; the candidate
is thanked every time; the POST needs its CSRF token."""

from __future__ import annotations

import datetime as dt

from django.test import Client

from scheduling.models import AuditEvent, Notice
from tests.candidates_portal.support import open_link, opened, started
from tests.scheduling.booking.support import NOW, messages


def _expired_session(client, world, frozen):
    request = started(world)
    frozen.move_to(NOW + dt.timedelta(hours=world.plan.link_expiry_hours, minutes=5))
    assert open_link(client, world, request)["Location"] == "/schedule/expired"
    return request


def test_it_tells_the_coordinator_and_records_it(world, client, frozen):
    request = _expired_session(client, world, frozen)

    response = client.post("/schedule/new-link")

    assert response.status_code == 303 and response["Location"] == "/schedule/new-link/sent"
    assert "We have asked the recruiting team" in client.get(response["Location"]).content.decode()
    events = AuditEvent.objects.filter(action="link.new_requested", object_id=str(request.pk))
    assert events.count() == 1 and events.get().actor_label == "candidate"
    notice = Notice.objects.get(kind="link.new_requested", object_id=str(request.pk))
    assert notice.status == Notice.Status.SENT and request.application.candidate.email not in notice.body
    (mail,) = messages(world.mail, world.coordinator.email)
    assert f"Request #{request.pk}" in mail["subject"]


def test_it_does_not_repeat_itself_when_asked_twice(world, client, frozen):
    request = _expired_session(client, world, frozen)

    first, second = client.post("/schedule/new-link"), client.post("/schedule/new-link")

    assert first["Location"] == second["Location"] == "/schedule/new-link/sent"
    assert AuditEvent.objects.filter(action="link.new_requested", object_id=str(request.pk)).count() == 1
    assert list(Notice.objects.filter(kind="link.new_requested").order_by("id").values_list("status", flat=True)) \
        == [Notice.Status.SENT, Notice.Status.FOLDED]
    assert len(messages(world.mail, world.coordinator.email)) == 1


def test_it_refuses_the_request_without_its_csrf_token(world, frozen):
    client = Client(enforce_csrf_checks=True)
    request = _expired_session(client, world, frozen)

    response = client.post("/schedule/new-link")

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="link.new_requested", object_id=str(request.pk)).exists()


def test_it_sends_a_working_link_back_to_the_times(world, client):
    request = started(world)
    opened(client, world, request)

    response = client.post("/schedule/new-link")

    assert response["Location"] == "/schedule/"
    assert not AuditEvent.objects.filter(action="link.new_requested").exists()
