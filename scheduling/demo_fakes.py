"""Seeds the running provider fakes with the demo organisation, so `make run` shows real availability:
every demo interviewer and room has a Google calendar about half busy in working hours, and the demo's
service account and OAuth client are known to the fake."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request

from django.conf import settings

from integrations.fakes.google import GoogleFake
from scheduling import clock
from scheduling.demo import DEMO_CALENDAR, DEMO_INTERVIEWERS, DEMO_ROOMS

DEMO_OAUTH_CLIENT = {"client_id": "loopwise-demo-client", "client_secret": "loopwise-demo-client-secret"}


def _post(url: str, body: dict) -> None:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()


def seed_google(google_url: str, *, days: int = 35) -> int:
    """Seed the Google fake at `google_url`; returns the number of calendars seeded."""
    start = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    people = [i for i in DEMO_INTERVIEWERS if i.calendar]
    zones = {i.email: i.timezone for i in people}
    busy = GoogleFake.demo_busy([i.email for i in people], start, start + dt.timedelta(days=days), seed=2026,
                                timezone_by_email=zones)
    room_busy = GoogleFake.demo_busy([r.email for r in DEMO_ROOMS], start, start + dt.timedelta(days=days),
                                     seed=2027, fraction=0.3, timezone_by_email={r.email: r.timezone
                                                                                 for r in DEMO_ROOMS})
    _post(google_url + "/_fake/seed", {
        "users": [{"email": DEMO_CALENDAR["organiser_calendar"], "name": "Northwind Interviews"},
                  {"email": DEMO_CALENDAR["account_email"], "name": "IT admin"}]
        + [{"email": i.email, "name": i.name, "timezone": i.timezone} for i in people],
        "rooms": [{"email": r.email, "name": r.name, "timezone": r.timezone} for r in DEMO_ROOMS],
        "service_accounts": [{"client_email": DEMO_CALENDAR["client_email"]}],
        "oauth_clients": [{**DEMO_OAUTH_CLIENT,
                           "redirect_uris": [settings.PUBLIC_BASE_URL.rstrip("/")
                                             + "/calendars/oauth/google/callback"]}],
        "busy": {**busy, **room_busy},
    })
    return len(people) + len(DEMO_ROOMS)
