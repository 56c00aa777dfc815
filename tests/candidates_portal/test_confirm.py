"""The confirmation step: the stored option in words, then one POST that books exactly it, once; a time taken
meanwhile shows the times still open, and calendars that cannot be read ask for a minute's patience."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from html import unescape

from django.test import Client

from scheduling import booking
from scheduling.models import AuditEvent, ScheduledInterview, SchedulingRequest
from tests.candidates_portal.support import book, opened, started
from tests.scheduling.booking.support import parse

IST = zoneinfo.ZoneInfo("Asia/Kolkata")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _local(instant: str) -> str:
    return f"{parse(instant).astimezone(IST):%H:%M}"


def test_it_shows_the_sessions_in_order_with_local_times_people_and_room(world, client):
    request = started(world)
    opened(client, world, request)
    option = request.options[0]

    response = client.get("/schedule/confirm", {"start": option["start"]})

    assert response.status_code == 200
    agenda = _text(response.content.decode().split('<ol class="agenda">')[1].split("</ol>")[0])
    coding, lunch, design = option["sessions"]
    coder = "Alice, Staff Engineer" if f"i{world.people['alice'].pk}" in coding["roles"][0] else "Bob, Senior Engineer"
    assert agenda.split() == (
        f"{_local(coding['start'])}–{_local(coding['end'])} IST Coding {coder} Room: Thames "
        f"{_local(lunch['start'])}–{_local(lunch['end'])} IST Lunch break "
        f"{_local(design['start'])}–{_local(design['end'])} IST System design Carol, Engineering Manager").split()
    assert f'name="start" value="{option["start"]}"' in response.content.decode()


def test_it_leaves_names_out_when_the_plan_hides_them(world, client):
    world.plan.show_interviewer_names = False
    world.plan.save()
    request = started(world)
    opened(client, world, request)

    html = client.get("/schedule/confirm", {"start": request.options[0]["start"]}).content.decode()

    assert "Carol" not in html and "Engineering Manager" not in html and "Alice" not in html
    assert "Room: Thames" in html and "You will meet members of the team." in html


def test_it_books_the_confirmed_option_and_shows_the_booking(world, client):
    request = started(world)
    opened(client, world, request)
    option = request.options[3]

    response = client.post("/schedule/confirm", {"start": option["start"]})

    assert response.status_code == 303 and response["Location"] == "/schedule/booked"
    interview = ScheduledInterview.objects.get(request=request)
    assert interview.option["start"] == option["start"] and interview.option["sessions"] == option["sessions"]
    request.refresh_from_db()
    assert request.state == SchedulingRequest.State.BOOKED
    assert AuditEvent.objects.get(action="interview.booked").actor_label == "candidate"
    assert client.get("/schedule/")["Location"] == "/schedule/booked"


def test_it_books_once_when_the_confirmation_is_sent_twice(world, client):
    request = started(world)
    opened(client, world, request)
    start = request.options[0]["start"]

    first = client.post("/schedule/confirm", {"start": start})
    second = client.post("/schedule/confirm", {"start": start})

    assert first["Location"] == second["Location"] == "/schedule/booked"
    assert ScheduledInterview.objects.filter(request=request).count() == 1


def test_it_shows_the_times_still_open_when_someone_else_took_the_time(world, client):
    mine, theirs = started(world), started(world)
    opened(client, world, mine)
    option = mine.options[0]
    book(theirs, option)

    response = client.post("/schedule/confirm", {"start": option["start"]})

    assert response.status_code == 200
    html = response.content.decode()
    assert booking.MSG_TAKEN in html and 'role="alert"' in html
    mine.refresh_from_db()
    assert f'value="{option["start"]}"' not in html and f'value="{mine.options[0]["start"]}"' in html
    assert not ScheduledInterview.objects.filter(request=mine).exists()


def test_it_shows_the_open_times_for_a_start_that_is_not_offered(world, client):
    request = started(world)
    opened(client, world, request)

    for start in ("2026-12-08T03:07:00Z", "not a time", ""):
        response = client.get("/schedule/confirm", {"start": start})
        assert response.status_code == 200 and "That time is no longer available." in response.content.decode()
    assert client.post("/schedule/confirm", {"start": "2026-12-08T03:07:00Z"}).status_code == 200
    assert not ScheduledInterview.objects.exists()


def test_it_asks_to_try_again_in_a_minute_when_calendars_cannot_be_read(world, client, frozen):
    request = started(world)
    opened(client, world, request)
    frozen.shift(dt.timedelta(minutes=31))  # the free/busy cache is now too old to book from
    world.fake.add_fault(kind="error", target="/calendar/v3/freeBusy", count=100)
    start = request.options[0]["start"]

    response = client.post("/schedule/confirm", {"start": start})

    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert booking.MSG_RETRY in html and "Confirm this time" in html and f'value="{start}"' in html
    assert not ScheduledInterview.objects.exists()


def test_it_refuses_a_confirmation_without_its_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    request = started(world)
    opened(client, world, request)

    response = client.post("/schedule/confirm", {"start": request.options[0]["start"]})

    assert response.status_code == 403 and "Please try again" in response.content.decode()
    assert not ScheduledInterview.objects.exists()
