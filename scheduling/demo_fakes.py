"""Seeds the running provider fakes with the demo organisation, so `make run` shows real availability:
every demo interviewer and room has a Google calendar about half busy in working hours, and the demo's
service account and OAuth client are known to the fake.

Greenhouse (`seed_greenhouse`): the demo's jobs with their stages, and its candidates with their applications,
under the same ids as the demo's rows (the requisitions', stages', candidates' and applications' external ids),
each application in its demo stage; the demo's API client and acting user. The demo AtsConnection is pointed at
the fake (its base URL) and given a webhook secret, and the fake's webhook goes to the connection's own URL: the
key exists only once `load_demo` has run, so this runs after it, on every start (the fake keeps nothing)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import urllib.request

from django.conf import settings
from django.urls import reverse

from integrations.fakes.google import GoogleFake
from integrations.models import AtsConnection
from scheduling import clock
from scheduling.demo import (
    DEMO_ATS,
    DEMO_CALENDAR,
    DEMO_CANDIDATES,
    DEMO_INTERVIEWERS,
    DEMO_REQUISITIONS,
    DEMO_ROOMS,
    DEMO_STAFF,
)
from scheduling.models import SchedulingRequest

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


def demo_ats_connect(greenhouse_url: str) -> tuple[AtsConnection, str, str]:
    """Point the demo AtsConnection at the Greenhouse fake, with a webhook secret of its own (made once, kept in
    its encrypted credentials). Returns the connection, its webhook URL and the secret."""
    connection = AtsConnection.objects.get(name=DEMO_ATS["name"])
    credentials = {**DEMO_ATS["credentials"], **(connection.credentials or {})}
    credentials.setdefault("webhook_secret", secrets.token_urlsafe(24))
    connection.base_url, connection.credentials = greenhouse_url, credentials
    connection.save(update_fields=["base_url", "credentials"])
    url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("ats_webhook", args=[connection.webhook_key])
    return connection, url, credentials["webhook_secret"]


def seed_greenhouse(greenhouse_url: str, *, webhook_url: str, webhook_secret: str) -> int:
    """Seed the Greenhouse fake at `greenhouse_url` (see the module docstring); returns the applications seeded."""
    acting = int(DEMO_ATS["credentials"]["on_behalf_of"])
    users = [{"id": acting + n, "first_name": s.name.split(" ", 1)[0], "last_name": s.name.split(" ", 1)[1],
              "primary_email": s.email} for n, s in enumerate(DEMO_STAFF)]
    requisitions = {r.key: r for r in DEMO_REQUISITIONS}
    closed = (SchedulingRequest.State.CANCELLED,)
    _post(greenhouse_url + "/_fake/seed", {
        "users": users,
        "clients": [{"client_id": DEMO_ATS["credentials"]["client_id"],
                     "client_secret": DEMO_ATS["credentials"]["client_secret"]}],
        "jobs": [{"id": int(r.external_id), "name": r.title,
                  "stages": [{"id": int(r.stage_external_id(name)), "name": name} for name in r.stages]}
                 for r in DEMO_REQUISITIONS],
        "candidates": [{"id": int(c.external_id), "first_name": c.first_name, "last_name": c.last_name,
                        "email_addresses": [c.email], "phone_numbers": [c.phone] if c.phone else []}
                       for c in DEMO_CANDIDATES],
        "applications": [{"id": int(c.application_id), "candidate_id": int(c.external_id),
                          "job_id": int(requisitions[c.requisition].external_id), "stage": c.stage,
                          "status": "rejected" if c.state in closed else "active"} for c in DEMO_CANDIDATES],
        "webhook_url": webhook_url, "webhook_secret": webhook_secret,
        "settings": {"rate_limit": 1000},
    })
    return len(DEMO_CANDIDATES)
