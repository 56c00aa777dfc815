"""Microsoft 365 end to end, as for Google: an interviewer's delegated consent through the emailed link (state and
PKCE, the identity host over TLS), and a revoked grant that turns the connection red, tells the coordinator once
and makes the solver name the interviewers instead of letting them look busy."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import time_machine

from integrations.calendars.base import Window
from integrations.calendars.consent import consent_link_send
from integrations.calendars.freebusy import freebusy_refresh
from integrations.calendars.microsoft import MicrosoftCalendar
from integrations.models import CalendarConnection, Health
from scheduling.engine import solve
from scheduling.problem_builder import problem_build
from tests import factories as f

TENANT, DOMAIN = "contoso-tenant", "contoso.test"
NOW = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def oauth(settings, microsoft_fake):
    microsoft_fake.seed({"tenant": TENANT, "users": [{"email": f"dana@{DOMAIN}"}],
                         "apps": [{"client_id": "lw-ms", "client_secret": "lw-ms-secret"}]})
    base = f"{microsoft_fake.login_url}/{TENANT}/oauth2/v2.0"
    settings.PUBLIC_BASE_URL = "http://testserver"
    settings.CALENDAR_OAUTH = {**settings.CALENDAR_OAUTH, "microsoft": {
        **settings.CALENDAR_OAUTH["microsoft"], "client_id": "lw-ms", "client_secret": "lw-ms-secret",
        "tenant": TENANT, "authorize_url": base + "/authorize", "token_url": base + "/token",
        "login_base_url": microsoft_fake.login_url, "api_base_url": microsoft_fake.url,
        "ca_bundle": microsoft_fake.ca_pem_path}}
    return microsoft_fake


def test_an_interviewer_connects_their_microsoft_calendar_through_the_emailed_link(client, oauth, db, mail_fake):
    dana = f.InterviewerFactory(name="Dana Lee", email=f"dana@{DOMAIN}", calendar=None)
    consent_link_send(interviewer=dana, provider="microsoft")
    [msg] = mail_fake.state()["messages"]
    path = re.search(r"http://testserver(/calendars/connect/\S+/)", msg["text"]).group(1)
    resp = client.get(path)
    assert resp.status_code == 302
    query = parse_qs(urlsplit(resp["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["login_hint"] == [dana.email]
    http = requests.Session()
    http.trust_env, http.verify = False, oauth.ca_pem_path
    consent = http.get(resp["Location"], allow_redirects=False, timeout=5)
    back = urlsplit(consent.headers["Location"])
    assert client.get(f"{back.path}?{back.query}").status_code == 200
    dana.refresh_from_db()
    conn = dana.calendar.connection
    assert (conn.provider, conn.auth_mode, conn.health) == ("microsoft", "user_oauth", Health.OK)
    result = MicrosoftCalendar(conn).free_busy([dana.email], Window(NOW, NOW + dt.timedelta(days=1)))
    assert dana.email in result.busy and not result.errors


def test_a_revoked_grant_turns_the_connection_red_and_the_solver_names_the_interviewers(db, microsoft_fake,
                                                                                          mail_fake):
    people = [f"alice@{DOMAIN}", f"bob@{DOMAIN}"]
    microsoft_fake.seed({"tenant": TENANT, "users": [{"email": f"interviews@{DOMAIN}"}]
                         + [{"email": p} for p in people],
                         "apps": [{"client_id": "lw-app", "client_secret": "s", "app_only": True}]})
    conn = CalendarConnection.objects.create(
        name="Contoso 365", provider="microsoft", auth_mode="application", base_url=microsoft_fake.url,
        token_url=microsoft_fake.login_url, organiser_calendar=f"interviews@{DOMAIN}",
        credentials={"tenant": TENANT, "client_id": "lw-app", "client_secret": "s",
                     "ca_bundle": microsoft_fake.ca_pem_path})
    plan = f.PlanFactory(requisition__coordinator=f.UserFactory(username="casey", email="casey@contoso.test"),
                         window_days=7, min_notice_hours=0)
    pool = f.PoolFactory()
    f.RoleFactory(session=f.SessionTemplateFactory(plan=plan), pool=pool)
    interviewers = []
    for email in people:
        person = f.InterviewerFactory(email=email, calendar=f.CalendarFactory(connection=conn, external_id=email),
                                      max_per_day=None, max_per_week=None)
        f.MembershipFactory(pool=pool, interviewer=person)
        interviewers.append(person)
    with time_machine.travel(NOW, tick=False):
        assert freebusy_refresh().refreshed == 2
        assert solve(problem_build(plan=plan, now=NOW).problem)["options"]
        microsoft_fake.add_fault(kind="revoke")
    with time_machine.travel(NOW + dt.timedelta(minutes=20), tick=False):
        freebusy_refresh()
        freebusy_refresh()
        out = solve(problem_build(plan=plan, now=NOW + dt.timedelta(minutes=20)).problem)
    conn.refresh_from_db()
    assert conn.health == Health.RED and "invalid_grant" in conn.last_error
    assert out["options"] == []
    named = sorted(r for d in out["diagnostics"] if d["code"] == "calendar_unknown" for r in d["resources"])
    assert named == sorted(f"i{p.pk}" for p in interviewers)
    assert len(mail_fake.state()["messages"]) == 1
