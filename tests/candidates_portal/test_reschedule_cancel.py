"""Rescheduling and cancelling from the same link's session until the plan's cut-off: a move books the new option
and releases the old one, a cancel tells the coordinator; after the cut-off both are refused with whom to call."""

from __future__ import annotations

import datetime as dt

from django.test import Client

from scheduling.models import Notice, ScheduledInterview, SchedulingRequest
from tests.candidates_portal.support import book, opened, roomy, started
from tests.scheduling.booking.support import parse

S = SchedulingRequest.State


def test_it_shows_the_picker_with_the_current_booking(world, client):
    request = started(world)
    opened(client, world, request)
    option = roomy(request)
    book(request, option)

    html = client.get("/schedule/reschedule").content.decode()

    assert "Choose a new time for your interview" in html and "Your interview is booked for" in html
    current = html.split(f'value="{option["start"]}"')[1].split("</button>")[0]
    assert "(your current time)" in current and "disabled" in current


def test_it_moves_the_booking_to_the_new_time(world, client):
    request = started(world)
    opened(client, world, request)
    old = book(request, roomy(request))
    new = roomy(request, days=3)

    page = client.get("/schedule/confirm", {"start": new["start"]}).content.decode()
    response = client.post("/schedule/confirm", {"start": new["start"]})

    assert "Move your interview to this time?" in page and "Move my interview" in page
    assert response["Location"] == "/schedule/booked"
    live = ScheduledInterview.objects.get(request=request, state=ScheduledInterview.State.ACTIVE)
    assert live.option["start"] == new["start"] and live.revision == 2
    old.refresh_from_db()
    assert old.state == ScheduledInterview.State.SUPERSEDED


def test_it_cancels_with_the_reason_and_tells_the_coordinator(world, client):
    request = started(world)
    opened(client, world, request)
    book(request, roomy(request))

    form = client.get("/schedule/cancel").content.decode()
    response = client.post("/schedule/cancel", {"reason": "Accepted another offer; call me on +44 20 7946 0000"})

    assert 'name="reason"' in form and 'for="id_reason"' in form
    assert response["Location"] == "/schedule/cancelled"
    request.refresh_from_db()
    assert request.state == S.CANCELLED
    assert not ScheduledInterview.objects.filter(request=request, state=ScheduledInterview.State.ACTIVE).exists()
    notice = Notice.objects.get(kind="request.cancelled_by_candidate", object_id=str(request.pk))
    assert "Accepted another offer" in notice.body and "7946" not in notice.body
    page = client.get("/schedule/cancelled").content.decode()
    assert "Your interview is cancelled" in page
    assert "Your interview is cancelled" in client.get("/schedule/").content.decode()


def test_it_refuses_a_cancellation_without_its_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    request = started(world)
    opened(client, world, request)
    book(request, roomy(request))

    response = client.post("/schedule/cancel", {"reason": ""})

    assert response.status_code == 403
    request.refresh_from_db()
    assert request.state == S.BOOKED


def test_it_refuses_changes_after_the_cutoff_and_says_whom_to_contact(world, client, frozen):
    request = started(world)
    opened(client, world, request)
    option = roomy(request)
    book(request, option)
    other = roomy(request, days=3)
    frozen.move_to(parse(option["start"]) - dt.timedelta(hours=23, minutes=59))

    pages = [client.get("/schedule/reschedule"), client.get("/schedule/cancel"),
             client.get("/schedule/confirm", {"start": other["start"]}),
             client.post("/schedule/confirm", {"start": other["start"]}),
             client.post("/schedule/cancel", {"reason": "late"})]

    for response in pages:
        html = response.content.decode()
        assert response.status_code == 200 and "can no longer be changed here" in html
        assert "less than 24 hours" in html and "recruiting@acme.test" in html
    request.refresh_from_db()
    assert request.state == S.BOOKED
    live = ScheduledInterview.objects.get(request=request, state=ScheduledInterview.State.ACTIVE)
    assert live.option["start"] == option["start"]


def test_it_allows_changes_just_before_the_cutoff(world, client, frozen):
    request = started(world)
    opened(client, world, request)
    option = roomy(request)
    book(request, option)
    frozen.move_to(parse(option["start"]) - dt.timedelta(hours=24, minutes=5))

    assert "Choose a new time" in client.get("/schedule/reschedule").content.decode()
    assert client.post("/schedule/cancel", {"reason": ""})["Location"] == "/schedule/cancelled"
