"""The time picker: the company, the role, the loop with its breaks, and the stored options by local day in the
candidate's zone, which the candidate can change and which is remembered on the request."""

from __future__ import annotations

import re
import zoneinfo

from scheduling.models import OrganisationSettings
from tests.candidates_portal.support import opened, started
from tests.scheduling.booking.support import NOW, parse

BUTTON = re.compile(r'<button name="start" value="([^"]+)"[^>]*>([^<]+)')


def _buttons(html: str) -> list[tuple[str, str]]:
    return BUTTON.findall(html)


def test_it_shows_the_company_the_role_the_loop_and_every_offered_time(world, client):
    org = OrganisationSettings.load()
    org.logo_url = "https://acme.test/logo.png"
    org.save()
    request = started(world)
    opened(client, world, request)

    html = client.get("/schedule/").content.decode()

    assert 'src="https://acme.test/logo.png" alt="Acme"' in html
    assert "Backend Engineer at Acme" in html and 'href="mailto:recruiting@acme.test"' in html
    loop = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split('class="loop">')[1].split("</ol>")[0]))
    assert loop.split() == "Coding 1 h Lunch break 30 min System design 1 h".split()
    assert "about 2 h 30 min" in html
    buttons = _buttons(html)
    assert [v for v, _ in buttons] == [o["start"] for o in request.options if parse(o["start"]) > NOW]


def test_it_shows_times_in_the_candidates_zone_grouped_by_local_day(world, client):
    request = started(world)  # the candidate is in Asia/Kolkata
    opened(client, world, request)
    ist = zoneinfo.ZoneInfo("Asia/Kolkata")

    html = client.get("/schedule/").content.decode()

    assert "<strong>Asia/Kolkata</strong> time (IST)" in html
    assert all(label == f"{parse(value).astimezone(ist):%H:%M}" for value, label in _buttons(html))
    # Each day's buttons form a group named by the day's heading.
    days = re.findall(r'<h3 id="(day-\d+)">([^<]+)</h3>\s*'
                      r'<div class="times" role="group" aria-labelledby="\1">(.*?)</div>', html)
    assert days
    for _, heading, buttons in days:
        for value, _ in _buttons(buttons):
            local = parse(value).astimezone(ist)
            assert heading == f"{local:%A} {local.day} {local:%B}"


def test_it_folds_a_days_later_times_into_more_times(world, client):
    request = started(world)
    opened(client, world, request)

    html = client.get("/schedule/").content.decode()

    first_day = html.split("<h3 ")[1].split("<h3 ")[0]
    shown = first_day.split("<details>")[0]
    assert len(_buttons(shown)) == 8 and "<summary>" in first_day and "more time" in first_day


def test_it_remembers_the_zone_the_candidate_chooses(world, client):
    request = started(world)
    opened(client, world, request)

    response = client.post("/schedule/timezone", {"zone": "America/New_York", "next": "/schedule/"})

    assert response.status_code == 303 and response["Location"] == "/schedule/"
    request.refresh_from_db()
    assert request.candidate_timezone == "America/New_York"
    html = client.get("/schedule/").content.decode()
    assert "(EST)" in html and 'data-remembered="true"' in html
    assert '<option value="America/New_York" selected>' in html
    value, label = _buttons(html)[0]
    assert label == f"{parse(value).astimezone(zoneinfo.ZoneInfo('America/New_York')):%H:%M}"


def test_it_stores_a_zone_a_browser_reports_by_its_old_name_under_the_current_one(world, client):
    request = started(world, timezone="")
    opened(client, world, request)
    assert 'data-remembered="false"' in client.get("/schedule/").content.decode()

    client.post("/schedule/timezone", {"zone": "Asia/Calcutta", "next": "/schedule/"})

    request.refresh_from_db()
    assert request.candidate_timezone == "Asia/Kolkata"


def test_it_refuses_a_zone_that_does_not_exist(world, client):
    request = started(world)
    opened(client, world, request)

    response = client.post("/schedule/timezone", {"zone": "Mars/Olympus_Mons", "next": "/schedule/"})

    assert response.status_code == 400 and "Please choose a time zone from the list." in response.content.decode()
    request.refresh_from_db()
    assert request.candidate_timezone == ""


def test_it_goes_back_only_to_portal_pages_after_a_zone_change(world, client):
    request = started(world)
    opened(client, world, request)
    start = request.options[0]["start"]

    inside = client.post("/schedule/timezone", {"zone": "UTC", "next": f"/schedule/confirm?start={start}"})
    outside = client.post("/schedule/timezone", {"zone": "UTC", "next": "https://evil.example/schedule/"})
    sideways = client.post("/schedule/timezone", {"zone": "UTC", "next": "/admin/"})

    assert inside["Location"] == f"/schedule/confirm?start={start}"
    assert outside["Location"] == sideways["Location"] == "/schedule/"


def test_it_says_so_when_there_is_no_time_to_offer(world, client):
    request = started(world)
    opened(client, world, request)
    type(request).objects.filter(pk=request.pk).update(options=[])

    html = client.get("/schedule/").content.decode()

    assert "There are no times to offer right now." in html and 'href="/schedule/windows"' in html
    assert _buttons(html) == []
