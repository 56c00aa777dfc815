"""Per-user consent: the emailed, signed, expiring link; state and PKCE through the provider's authorize and token
endpoints (the Google fake); the refresh token stored encrypted on the interviewer's own connection."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import time_machine
from django.db import connection as db

from integrations.calendars.base import Window
from integrations.calendars.consent import consent_link_send
from integrations.calendars.google import GoogleCalendar
from integrations.models import CalendarConnection, Health
from tests import factories as f


@pytest.fixture
def oauth(settings, google_fake):
    google_fake.seed({"users": [{"email": "dana@acme.test"}],
                      "oauth_clients": [{"client_id": "lw-client", "client_secret": "lw-secret",
                                         "redirect_uris": ["http://testserver/calendars/oauth/google/callback"]}]})
    settings.PUBLIC_BASE_URL = "http://testserver"
    settings.CALENDAR_OAUTH = {"google": {**settings.CALENDAR_OAUTH["google"], "client_id": "lw-client",
                                          "client_secret": "lw-secret",
                                          "authorize_url": google_fake.url + "/o/oauth2/v2/auth",
                                          "token_url": google_fake.url + "/token", "api_base_url": google_fake.url}}
    return google_fake


@pytest.fixture
def dana(db):
    return f.InterviewerFactory(name="Dana Lee", email="dana@acme.test", calendar=None)


def emailed_link(mail_fake) -> str:
    [msg] = mail_fake.state()["messages"]
    return re.search(r"http://testserver(/calendars/connect/\S+/)", msg["text"]).group(1)


def authorize(client, path) -> str:
    """Open the emailed link, follow the provider's consent, return our callback path with code and state."""
    resp = client.get(path)
    assert resp.status_code == 302
    query = parse_qs(urlsplit(resp["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["access_type"] == ["offline"]
    assert query["login_hint"] == ["dana@acme.test"] and "calendar.events.freebusy" in query["scope"][0]
    consent = requests.get(resp["Location"], allow_redirects=False, timeout=5)
    assert consent.status_code == 302
    back = urlsplit(consent.headers["Location"])
    return f"{back.path}?{back.query}"


def test_it_connects_an_interviewers_calendar_end_to_end(client, oauth, dana, mail_fake):
    consent_link_send(interviewer=dana)
    callback = authorize(client, emailed_link(mail_fake))
    resp = client.get(callback)
    assert resp.status_code == 200 and b"calendar is connected" in resp.content
    dana.refresh_from_db()
    conn = dana.calendar.connection
    assert conn.auth_mode == CalendarConnection.AuthMode.USER_OAUTH and conn.health == Health.OK
    assert conn.credentials["refresh_token"]
    with db.cursor() as cur:
        cur.execute("SELECT credentials FROM integrations_calendarconnection WHERE id = %s", [conn.pk])
        raw = cur.fetchone()[0]
    assert conn.credentials["refresh_token"] not in raw and raw.startswith("fernet:")
    now = dt.datetime.now(dt.UTC)
    result = GoogleCalendar(conn).free_busy([dana.email], Window(now, now + dt.timedelta(days=1)))
    assert dana.email in result.busy and not result.errors


def test_it_refuses_a_callback_whose_state_did_not_start_here(client, oauth, dana, mail_fake):
    consent_link_send(interviewer=dana)
    callback = authorize(client, emailed_link(mail_fake))
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    resp = client.get(forged)
    assert resp.status_code == 400 and b"did not start here" in resp.content
    dana.refresh_from_db()
    assert dana.calendar is None


def test_it_refuses_a_replayed_callback(client, oauth, dana, mail_fake):
    consent_link_send(interviewer=dana)
    callback = authorize(client, emailed_link(mail_fake))
    assert client.get(callback).status_code == 200
    assert client.get(callback).status_code == 400


def test_an_expired_or_tampered_link_shows_a_friendly_page(client, oauth, dana, mail_fake):
    consent_link_send(interviewer=dana)
    path = emailed_link(mail_fake)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=8)):
        resp = client.get(path)
    assert resp.status_code == 400 and b"expired" in resp.content
    resp = client.get(path[:-3] + "xx/")
    assert resp.status_code == 400 and b"not valid" in resp.content


def test_it_says_when_consent_is_not_configured(client, settings, dana):
    settings.CALENDAR_OAUTH = {"google": {**settings.CALENDAR_OAUTH["google"], "client_id": ""}}
    from integrations.calendars.consent import ConsentError

    with pytest.raises(ConsentError, match="not configured"):
        consent_link_send(interviewer=dana)


def test_the_interviewer_admin_action_emails_the_consent_link(client, oauth, dana, mail_fake):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
    from django.urls import reverse

    client.force_login(f.UserFactory(username="ops"))
    resp = client.post(reverse("admin:scheduling_interviewer_changelist"),
                       {"action": "send_consent_link", ACTION_CHECKBOX_NAME: [dana.pk]}, follow=True)
    assert [str(m) for m in resp.context["messages"]] == ["Consent link emailed to dana@acme.test."]
    assert emailed_link(mail_fake).startswith("/calendars/connect/")
