"""'None of these times work': up to five times in the candidate's zone, checked with errors that name the time and
the field, stored in UTC for the coordinator, who is told."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from html import unescape

from django.test import Client

from candidates_portal.forms import WindowsForm
from scheduling.models import Notice, ProposedWindow
from tests import factories as f
from tests.candidates_portal.support import opened, started

IST = zoneinfo.ZoneInfo("Asia/Kolkata")


def _errors(html: str) -> list[str]:
    summary = html.split('class="message error-summary"')[1].split("</ul>")[0]
    return [unescape(e) for e in re.findall(r'<li><a href="#[^"]+">([^<]+)</a></li>', summary)]


def _field_error(html: str, field: str) -> str:
    return unescape(re.search(rf'<p class="error" id="id_{field}-error">([^<]+)</p>', html).group(1))


def test_it_records_the_times_in_utc_and_tells_the_coordinator(world, client):
    request = started(world)
    opened(client, world, request)

    response = client.post("/schedule/windows", {
        "date_1": "2026-12-15", "start_1": "18:00", "end_1": "21:30",
        "date_3": "2026-12-16", "start_3": "09:00", "end_3": "11:00"})

    assert response.status_code == 303 and response["Location"] == "/schedule/windows/thanks"
    windows = list(ProposedWindow.objects.filter(request=request).order_by("start").values_list("start", "end"))
    assert windows == [
        (dt.datetime(2026, 12, 15, 12, 30, tzinfo=dt.UTC), dt.datetime(2026, 12, 15, 16, 0, tzinfo=dt.UTC)),
        (dt.datetime(2026, 12, 16, 3, 30, tzinfo=dt.UTC), dt.datetime(2026, 12, 16, 5, 30, tzinfo=dt.UTC))]
    assert Notice.objects.filter(kind="request.windows_proposed", object_id=str(request.pk)).exists()
    thanks = client.get("/schedule/windows/thanks").content.decode()
    assert "Tuesday 15 December, 18:00–21:30 IST" in thanks and "Wednesday 16 December, 09:00–11:00 IST" in thanks


def test_it_names_the_time_and_field_of_each_mistake(world, client):
    request = started(world)
    opened(client, world, request)

    response = client.post("/schedule/windows", {
        "date_1": "2026-12-15", "start_1": "18:00", "end_1": "17:00",   # ends before it starts
        "date_2": "2026-12-15", "end_2": "19:00",                        # no start time
        "date_3": "2026-12-01", "start_3": "10:00", "end_3": "11:00",   # in the past
        "date_4": "2027-03-01", "start_4": "10:00", "end_4": "11:00",   # too far ahead
        "date_5": "15/12/2026", "start_5": "25:00", "end_5": "11:00"})  # not a date, not a time

    assert response.status_code == 400
    html = response.content.decode()
    assert _errors(html) == [
        "Time 1, To: Must be later than the start time (From).",
        "Time 2, From: Enter the start time.",
        "Time 3, Date: Must be in the future.",
        "Time 4, Date: Must be within the next 62 days.",
        "Time 5, Date: Enter a valid date.",
        "Time 5, From: Enter a valid time.",
    ]
    assert _field_error(html, "end_1") == "Must be later than the start time (From)."
    end_1 = re.search(r'<input[^>]+name="end_1"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in end_1 and 'aria-describedby="id_end_1-error"' in end_1 and 'value="17:00"' in end_1
    assert "<details class=\"more-rows\" open>" in html  # times 3 to 5 hold errors: shown
    assert not ProposedWindow.objects.exists()


def test_it_asks_for_at_least_one_time(world, client):
    request = started(world)
    opened(client, world, request)

    html = client.post("/schedule/windows", {}).content.decode()

    assert _errors(html) == ["Time 1, Date: Give at least one day and time that suits you."]
    assert not ProposedWindow.objects.filter(request=request).exists()


def test_it_shows_the_services_limit_on_the_form(world, client):
    request = started(world)
    opened(client, world, request)
    for day in range(9):
        f.ProposedWindowFactory(request=request, start=dt.datetime(2026, 12, 20 + day, 9, tzinfo=dt.UTC),
                                end=dt.datetime(2026, 12, 20 + day, 10, tzinfo=dt.UTC))

    response = client.post("/schedule/windows", {
        "date_1": "2026-12-15", "start_1": "18:00", "end_1": "21:00",
        "date_2": "2026-12-16", "start_2": "18:00", "end_2": "21:00"})

    assert response.status_code == 400
    assert "At most 10 times can be proposed (9 already are)." in unescape(response.content.decode())
    assert ProposedWindow.objects.filter(request=request).count() == 9


def test_it_refuses_times_without_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    request = started(world)
    opened(client, world, request)

    response = client.post("/schedule/windows", {"date_1": "2026-12-15", "start_1": "18:00", "end_1": "21:00"})

    assert response.status_code == 403 and not ProposedWindow.objects.exists()


def test_it_refuses_a_time_the_clocks_skip():
    # New York springs forward on 14 March 2027: 02:00-03:00 does not exist that day.
    now = dt.datetime(2027, 3, 1, 12, tzinfo=dt.UTC)
    form = WindowsForm({"date_1": "2027-03-14", "start_1": "02:30", "end_1": "05:00"},
                       zone=zoneinfo.ZoneInfo("America/New_York"), now=now)

    assert not form.is_valid()
    assert form.errors["start_1"] == ["This time does not exist in America/New_York that day (the clocks change)."]


def test_it_reads_times_across_the_clock_change_in_the_candidates_zone():
    now = dt.datetime(2027, 3, 1, 12, tzinfo=dt.UTC)
    form = WindowsForm({"date_1": "2027-03-14", "start_1": "01:00", "end_1": "04:00"},
                       zone=zoneinfo.ZoneInfo("America/New_York"), now=now)

    assert form.is_valid(), form.errors
    assert form.windows == [(dt.datetime(2027, 3, 14, 6, tzinfo=dt.UTC), dt.datetime(2027, 3, 14, 8, tzinfo=dt.UTC))]
