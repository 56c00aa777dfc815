"""The booked page: the schedule in the candidate's zone, the video link once the calendar has one, the ICS, and
the reschedule and cancel links until the plan's cut-off (then whom to contact)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from tests.candidates_portal.support import book, opened, roomy, started
from tests.scheduling.booking.support import deliver, parse

IST = zoneinfo.ZoneInfo("Asia/Kolkata")


def test_it_shows_the_booking_with_its_video_link_and_change_links(world, client):
    request = started(world)
    opened(client, world, request)
    option = roomy(request)
    interview = book(request, option)
    deliver()  # the calendar write brings the Meet link
    interview.refresh_from_db()

    html = client.get("/schedule/booked").content.decode()

    start, end = parse(option["start"]).astimezone(IST), parse(option["end"]).astimezone(IST)
    assert f"{start:%H:%M}–{end:%H:%M} IST" in html and f"{start:%A} {start.day} {start:%B}" in html
    assert interview.video_link.startswith("https://meet.google.com/") and f'href="{interview.video_link}"' in html
    assert 'href="/schedule/reschedule"' in html and 'href="/schedule/cancel"' in html
    deadline = start - dt.timedelta(hours=24)
    assert f"until {deadline:%A} {deadline.day} {deadline:%B}, {deadline:%H:%M} IST" in html


def test_it_offers_the_booking_as_an_ics_file(world, client):
    request = started(world)
    opened(client, world, request)
    option = roomy(request)
    book(request, option)

    response = client.get("/schedule/booked.ics")

    assert response.status_code == 200 and response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="interview.ics"'
    ics = response.content.decode()
    assert "METHOD:PUBLISH" in ics and f"UID:loopwise-request-{request.pk}@" in ics
    assert f"DTSTART:{parse(option['start']):%Y%m%dT%H%M%SZ}" in ics
    assert f"DTEND:{parse(option['end']):%Y%m%dT%H%M%SZ}" in ics


def test_it_has_no_ics_and_no_booked_page_before_a_booking(world, client):
    request = started(world)
    opened(client, world, request)

    assert client.get("/schedule/booked.ics").status_code == 404
    assert client.get("/schedule/booked")["Location"] == "/schedule/"


def test_it_says_whom_to_contact_after_the_cutoff(world, client, frozen):
    request = started(world)
    opened(client, world, request)
    option = roomy(request)
    book(request, option)
    frozen.move_to(parse(option["start"]) - dt.timedelta(hours=23))

    html = client.get("/schedule/booked").content.decode()

    assert "less than 24 hours" in html and 'href="mailto:recruiting@acme.test"' in html
    assert 'href="/schedule/reschedule"' not in html and 'href="/schedule/cancel"' not in html
