"""The microsoft fake, driven through the real msal (over TLS, trusting the fake's test CA) and requests for Graph:
tokens and their failures, getSchedule limits and per-schedule errors, events with transactionId, extended
properties, Teams and attendee copies, throttling, the authorize redirect with PKCE."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import msal
import pytest
import requests

ROOT = Path(__file__).resolve().parents[3]
TENANT = "11111111-2222-3333-4444-555555555555"
ALICE, BOB, CAROL, GONE = "alice@contoso.test", "bob@contoso.test", "carol@contoso.test", "gone@contoso.test"
ROOM = "room1@contoso.test"
APP, SECRET = "loopwise-app", "app-secret"
DELEGATED, DELEGATED_SECRET = "loopwise-delegated", "delegated-secret"
REDIRECT = "http://127.0.0.1:8000/integrations/microsoft/callback"
GRAPH_SCOPE = ["https://graph.microsoft.com/.default"]
KEY_PROP = "String {6e1f5b3a-7c2d-4e8f-9a0b-1c2d3e4f5a6b} Name LoopwiseKey"


@pytest.fixture
def fake(microsoft_fake):
    microsoft_fake.seed({
        "tenant": TENANT,
        "users": [{"email": ALICE, "name": "Alice", "timezone": "Europe/Berlin"}, {"email": BOB},
                  {"email": CAROL}, {"email": GONE, "deleted": True}],
        "rooms": [{"email": ROOM, "name": "Room 1"}],
        "apps": [{"client_id": APP, "client_secret": SECRET, "app_only": True},
                 {"client_id": DELEGATED, "client_secret": DELEGATED_SECRET, "redirect_uris": [REDIRECT]}],
        "refresh_tokens": [{"token": "rt-alice", "client_id": DELEGATED, "user": ALICE},
                           {"token": "rt-bob-old", "client_id": DELEGATED, "user": BOB, "state": "expired"}],
        "busy": {BOB: [["2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z"],
                       ["2026-12-01T13:00:00Z", "2026-12-01T14:00:00Z", "oof"]]},
    })
    return microsoft_fake


@pytest.fixture
def http():
    with requests.Session() as session:
        session.trust_env = False
        yield session


def login_session(fake) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = fake.ca_pem_path  # the fake's test CA; certificate checks stay on
    return session


def msal_app(fake, client_id=APP, secret=SECRET):
    """A fresh application object per scenario (msal replays cached 400s, contract section 0 #4)."""
    return msal.ConfidentialClientApplication(client_id, client_credential=secret, authority=fake.authority(TENANT),
                                              instance_discovery=False, http_client=login_session(fake))


def app_token(fake) -> str:
    result = msal_app(fake).acquire_token_for_client(scopes=GRAPH_SCOPE)
    return result["access_token"]


def graph(fake, http, token, method, path, **kwargs):
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    kwargs.setdefault("timeout", 10)
    return http.request(method, f"{fake.url}/v1.0/{path}", headers=headers, **kwargs)


def schedule_body(ids, start="2026-12-01T08:00:00", end="2026-12-01T18:00:00", interval=60):
    return {"schedules": ids, "startTime": {"dateTime": start, "timeZone": "UTC"},
            "endTime": {"dateTime": end, "timeZone": "UTC"}, "availabilityViewInterval": interval}


def event_body(**extra):
    return {"subject": "Interview loop: session 1", "body": {"contentType": "HTML", "content": "Hello"},
            "start": {"dateTime": "2026-12-02T10:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2026-12-02T11:00:00", "timeZone": "W. Europe Standard Time"},
            "attendees": [{"emailAddress": {"address": BOB, "name": "Bob"}, "type": "required"},
                          {"emailAddress": {"address": ROOM}, "type": "resource"}], **extra}


def calls(fake, method: str, suffix: str) -> list[int]:
    return [r["status"] for r in fake.requests() if r["method"] == method and r["path"].endswith(suffix)]


# ---- identity ----------------------------------------------------------------------------------------------------

def test_it_issues_an_app_token_over_tls_that_msal_caches_and_graph_accepts(fake, http):
    app = msal_app(fake)

    first = app.acquire_token_for_client(scopes=GRAPH_SCOPE)
    second = app.acquire_token_for_client(scopes=GRAPH_SCOPE)

    assert first["token_type"] == "Bearer" and first["expires_in"] >= 600 and "id_token" not in first
    assert second["access_token"] == first["access_token"] and second["token_source"] == "cache"
    assert [r["path"] for r in fake.requests()] == [f"/{TENANT}/v2.0/.well-known/openid-configuration",
                                                    f"/{TENANT}/oauth2/v2.0/token"]
    user = graph(fake, http, first["access_token"], "GET", f"users/{ALICE}")
    assert user.status_code == 200 and user.json()["mail"] == ALICE
    assert fake.login_url.startswith("https://127.0.0.1:") and fake.authority("x") == fake.login_url + "/x"


def test_it_refuses_a_client_that_does_not_trust_its_certificate_authority(fake):
    session = requests.Session()
    session.trust_env = False  # the system CAs only: the fake's certificate must not verify

    with pytest.raises(requests.exceptions.SSLError):
        session.get(fake.authority(TENANT) + "/v2.0/.well-known/openid-configuration", timeout=10)


def test_it_answers_a_wrong_secret_and_a_revoked_consent_as_aad_error_dicts(fake):
    wrong = msal_app(fake, secret="nope").acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert wrong["error"] == "invalid_client" and wrong["error_codes"] == [7000215]
    assert wrong["error_description"].startswith("AADSTS7000215: ")

    fake.add_fault(kind="revoke", target=APP)
    revoked = msal_app(fake).acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert revoked["error"] == "invalid_grant" and revoked["error_codes"] == [65001]

    fake.clear_faults()
    still = msal_app(fake).acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert still["error_codes"] == [65001]  # an admin must consent again (seed the app again)
    fake.seed({"apps": [{"client_id": APP, "client_secret": SECRET, "app_only": True}]})
    assert "access_token" in msal_app(fake).acquire_token_for_client(scopes=GRAPH_SCOPE)


def test_it_fails_expired_and_revoked_refresh_tokens_with_their_aadsts_codes(fake, http):
    delegated = msal_app(fake, DELEGATED, DELEGATED_SECRET)
    scopes = ["https://graph.microsoft.com/Calendars.ReadWrite"]

    expired = delegated.acquire_token_by_refresh_token("rt-bob-old", scopes)
    fine = delegated.acquire_token_by_refresh_token("rt-alice", scopes)
    assert expired["error"] == "invalid_grant" and expired["error_codes"] == [700082]
    assert fine["id_token_claims"]["aud"] == DELEGATED and fine["id_token_claims"]["preferred_username"] == ALICE
    assert graph(fake, http, fine["access_token"], "GET", f"users/{ALICE}/events").status_code == 200

    fake.add_fault(kind="revoke", target=ALICE)
    revoked = msal_app(fake, DELEGATED, DELEGATED_SECRET).acquire_token_by_refresh_token("rt-alice", scopes)
    assert revoked["error"] == "invalid_grant" and revoked["error_codes"] == [50173]
    assert graph(fake, http, fine["access_token"], "GET", f"users/{ALICE}/events").json()["error"]["code"] == \
        "InvalidAuthenticationToken"
    fake.clear_faults()
    again = msal_app(fake, DELEGATED, DELEGATED_SECRET).acquire_token_by_refresh_token(fine["refresh_token"], scopes)
    assert again["error_codes"] == [50173]  # the grant stays revoked
    assert graph(fake, http, fine["access_token"], "GET", f"users/{ALICE}/events").status_code == 401


def test_it_approves_the_authorize_request_at_once_and_checks_pkce_on_the_code(fake):
    def consent(app):
        flow = app.initiate_auth_code_flow(["https://graph.microsoft.com/Calendars.ReadWrite"],
                                           redirect_uri=REDIRECT, login_hint=CAROL)
        answer = login_session(fake).get(flow["auth_uri"], allow_redirects=False, timeout=10)
        assert answer.status_code == 302
        location = urlsplit(answer.headers["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
        return flow, {k: v[0] for k, v in parse_qs(location.query).items()}

    app = msal_app(fake, DELEGATED, DELEGATED_SECRET)
    flow, reply = consent(app)
    assert reply["state"] == flow["state"] and reply["code"]
    result = app.acquire_token_by_auth_code_flow(flow, reply)
    assert result["id_token_claims"]["preferred_username"] == CAROL and result["refresh_token"]
    assert app.get_accounts()[0]["username"] == CAROL
    replayed = msal_app(fake, DELEGATED, DELEGATED_SECRET).acquire_token_by_auth_code_flow(flow, reply)
    assert replayed["error_codes"] == [54005]

    flow, reply = consent(app)
    flow["code_verifier"] = "a-verifier-that-does-not-match-the-challenge-at-all-000000000"
    wrong = msal_app(fake, DELEGATED, DELEGATED_SECRET).acquire_token_by_auth_code_flow(flow, reply)
    assert wrong["error"] == "invalid_grant" and wrong["error_codes"] == [501481]


def test_it_answers_an_expired_token_with_401_and_a_fresh_token_works(fake, http):
    app = msal_app(fake)
    token = app.acquire_token_for_client(scopes=GRAPH_SCOPE)["access_token"]
    fake.add_fault(kind="expire_token", count=1)

    expired = graph(fake, http, token, "GET", f"users/{ALICE}")
    app.remove_tokens_for_client()
    fresh = app.acquire_token_for_client(scopes=GRAPH_SCOPE)

    assert expired.status_code == 401 and expired.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert "Bearer" in expired.headers["WWW-Authenticate"]
    assert fresh["token_source"] == "identity_provider" and fresh["access_token"] != token
    assert graph(fake, http, fresh["access_token"], "GET", f"users/{ALICE}").status_code == 200


# ---- getSchedule -------------------------------------------------------------------------------------------------

def test_it_answers_get_schedule_with_items_views_and_a_per_schedule_error(fake, http):
    token = app_token(fake)
    made = graph(fake, http, token, "POST", f"users/{ALICE}/events", json=event_body(
        start={"dateTime": "2026-12-01T11:00:00", "timeZone": "UTC"},
        end={"dateTime": "2026-12-01T12:00:00", "timeZone": "UTC"}))
    assert made.status_code == 201

    answer = graph(fake, http, token, "POST", f"users/{ALICE}/calendar/getSchedule",
                   json=schedule_body([BOB, GONE, ROOM, "nobody@contoso.test"]))

    assert answer.status_code == 200
    bob, gone, room, nobody = answer.json()["value"]
    assert bob["availabilityView"] == "0201030000"  # busy 9-10, tentative invitation 11-12, oof 13-14
    assert [(i["status"], i["start"]["dateTime"], i["end"]["timeZone"]) for i in bob["scheduleItems"]] == [
        ("busy", "2026-12-01T09:00:00.0000000", "UTC"), ("tentative", "2026-12-01T11:00:00.0000000", "UTC"),
        ("oof", "2026-12-01T13:00:00.0000000", "UTC")]
    assert room["availabilityView"] == "0002000000"
    assert gone == {"scheduleId": GONE, "error": {
        "message": f"Unable to resolve e-mail address {GONE} to an Active Directory object.", "responseCode": "5009"}}
    assert nobody["error"]["responseCode"] == "5009" and "scheduleItems" not in nobody


def test_it_takes_twenty_schedules_and_refuses_twenty_one(fake, http):
    token = app_token(fake)
    twenty = [BOB] * 20

    ok = graph(fake, http, token, "POST", f"users/{ALICE}/calendar/getSchedule", json=schedule_body(twenty))
    too_many = graph(fake, http, token, "POST", f"users/{ALICE}/calendar/getSchedule",
                     json=schedule_body([*twenty, CAROL]))

    assert ok.status_code == 200 and len(ok.json()["value"]) == 20
    assert too_many.status_code == 400 and too_many.json()["error"]["code"] == "ErrorMailboxDataArrayTooBig"
    assert set(too_many.json()["error"]["innerError"]) == {"date", "request-id", "client-request-id"}


def test_it_takes_sixty_two_days_and_refuses_longer(fake, http):
    token = app_token(fake)

    ok = graph(fake, http, token, "POST", f"users/{ALICE}/calendar/getSchedule",
               json=schedule_body([BOB], "2026-12-01T00:00:00", "2027-02-01T00:00:00", 1440))
    too_long = graph(fake, http, token, "POST", f"users/{ALICE}/calendar/getSchedule",
                     json=schedule_body([BOB], "2026-12-01T00:00:00", "2027-02-01T00:01:00", 1440))

    assert ok.status_code == 200 and len(ok.json()["value"][0]["availabilityView"]) == 62
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "ErrorTimeIntervalTooBig"


# ---- events ------------------------------------------------------------------------------------------------------

def test_it_returns_the_first_event_for_a_repeated_transaction_id_unless_told_to_ignore_it(fake, http):
    token = app_token(fake)
    body = event_body(transactionId="booking-123")

    first = graph(fake, http, token, "POST", f"users/{ALICE}/events", json=body)
    repeat = graph(fake, http, token, "POST", f"users/{ALICE}/events", json=body)
    fake.add_fault(kind="ignore_transaction_id", target=ALICE)
    second = graph(fake, http, token, "POST", f"users/{ALICE}/events", json=body)

    assert first.status_code == repeat.status_code == second.status_code == 201
    assert repeat.json()["id"] == first.json()["id"] and first.json()["transactionId"] == "booking-123"
    assert second.json()["id"] != first.json()["id"]
    assert len(fake.state()["mailboxes"][ALICE]["events"]) == 2
    assert first.json()["start"] == {"dateTime": "2026-12-02T09:00:00.0000000", "timeZone": "UTC"}


def test_it_finds_an_event_by_its_extended_property_and_shows_it_on_expand(fake, http):
    token = app_token(fake)
    for key in ("booking-1", "booking-2"):
        graph(fake, http, token, "POST", f"users/{ALICE}/events",
              json=event_body(singleValueExtendedProperties=[{"id": KEY_PROP, "value": key}]))
    params = {"$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROP}' and ep/value eq 'booking-2')",
              "$expand": f"singleValueExtendedProperties($filter=id eq '{KEY_PROP}')"}

    found = graph(fake, http, token, "GET", f"users/{ALICE}/events", params=params).json()["value"]
    plain = graph(fake, http, token, "GET", f"users/{ALICE}/events", params={"$filter": params["$filter"]}).json()
    missing = graph(fake, http, token, "GET", f"users/{ALICE}/events", params={
        "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROP}' and ep/value eq 'booking-9')"})

    assert [e["singleValueExtendedProperties"] for e in found] == [[{"id": KEY_PROP, "value": "booking-2"}]]
    assert "singleValueExtendedProperties" not in plain["value"][0]
    assert missing.json()["value"] == []
    bad = graph(fake, http, token, "GET", f"users/{ALICE}/events", params={"$filter": "contains(subject, 'x')"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "BadRequest"


def test_it_makes_a_teams_meeting_and_copies_the_event_to_attendees(fake, http):
    token = app_token(fake)
    immutable = {"Prefer": 'IdType="ImmutableId", outlook.timezone="Europe/Berlin"'}

    made = graph(fake, http, token, "POST", f"users/{ALICE}/events", headers=immutable,
                 json=event_body(isOnlineMeeting=True, onlineMeetingProvider="teamsForBusiness")).json()

    join = made["onlineMeeting"]["joinUrl"]
    assert join.startswith("https://teams.microsoft.com/l/meetup-join/")
    assert made["start"] == {"dateTime": "2026-12-02T10:00:00.0000000", "timeZone": "Europe/Berlin"}
    assert graph(fake, http, token, "GET", f"users/{ALICE}/events/{made['id']}", headers=immutable).json()[
        "id"] == made["id"]
    assert {a["emailAddress"]["address"]: a["status"]["response"] for a in made["attendees"]} == {
        BOB: "none", ROOM: "accepted"}
    bob = graph(fake, http, token, "GET", f"users/{BOB}/events").json()["value"]
    room = graph(fake, http, token, "GET", f"users/{ROOM}/events").json()["value"]
    assert [(e["iCalUId"], e["isOrganizer"], e["responseStatus"]["response"], e["showAs"]) for e in bob] == [
        (made["iCalUId"], False, "notResponded", "tentative")]
    assert [(e["responseStatus"]["response"], e["onlineMeeting"]["joinUrl"]) for e in room] == [("accepted", join)]
    assert bob[0]["id"] != made["id"] and "transactionId" not in bob[0]

    moved = graph(fake, http, token, "PATCH", f"users/{ALICE}/events/{made['id']}", json={
        "attendees": [{"emailAddress": {"address": ROOM}, "type": "resource"}]})
    assert moved.status_code == 200
    bob_after = graph(fake, http, token, "GET", f"users/{BOB}/events").json()["value"]
    assert [(e["isCancelled"], e["subject"]) for e in bob_after] == [(True, "Canceled: Interview loop: session 1")]

    assert graph(fake, http, token, "DELETE", f"users/{ALICE}/events/{made['id']}").status_code == 204
    assert graph(fake, http, token, "GET", f"users/{ALICE}/events/{made['id']}").json()["error"]["code"] == \
        "ErrorItemNotFound"
    assert [e["isCancelled"] for e in graph(fake, http, token, "GET", f"users/{ROOM}/events").json()["value"]] == [
        True]


def test_it_gives_no_join_url_to_a_mailbox_without_teams(fake, http):
    fake.seed({"users": [{"email": CAROL, "teams": False}]})
    made = graph(fake, http, app_token(fake), "POST", f"users/{CAROL}/events",
                 json=event_body(isOnlineMeeting=True, onlineMeetingProvider="teamsForBusiness")).json()

    assert made["isOnlineMeeting"] is True and made["onlineMeeting"] is None


def test_it_pages_event_lists_with_a_next_link(fake, http):
    token = app_token(fake)
    for n in range(5):
        graph(fake, http, token, "POST", f"users/{CAROL}/events", json=event_body(subject=f"s{n}", attendees=[]))

    seen, url = [], f"{fake.url}/v1.0/users/{CAROL}/events?$top=2"
    while url:
        page = http.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
        seen.append([e["subject"] for e in page["value"]])
        url = page.get("@odata.nextLink")

    assert seen == [["s0", "s1"], ["s2", "s3"], ["s4"]]


def test_it_refuses_mailboxes_that_are_gone_or_not_the_delegated_users(fake, http):
    token = app_token(fake)
    delegated = msal_app(fake, DELEGATED, DELEGATED_SECRET).acquire_token_by_refresh_token(
        "rt-alice", ["https://graph.microsoft.com/Calendars.ReadWrite"])["access_token"]

    gone_user = graph(fake, http, token, "GET", f"users/{GONE}")
    gone_events = graph(fake, http, token, "GET", f"users/{GONE}/events")
    others = graph(fake, http, delegated, "GET", f"users/{BOB}/events")

    assert (gone_user.status_code, gone_user.json()["error"]["code"]) == (404, "Request_ResourceNotFound")
    assert (gone_events.status_code, gone_events.json()["error"]["code"]) == (404, "ErrorInvalidUser")
    assert (others.status_code, others.json()["error"]["code"]) == (403, "ErrorAccessDenied")


# ---- faults ------------------------------------------------------------------------------------------------------

def test_it_throttles_with_retry_after_and_answers_outages_in_graphs_shape(fake, http):
    token = app_token(fake)
    fake.add_fault(kind="throttle", target=BOB, retry_after=7, count=1)
    fake.add_fault(kind="error", status=504, target=f"/v1.0/users/{CAROL}", count=1)

    throttled = graph(fake, http, token, "GET", f"users/{BOB}/events")
    unaffected = graph(fake, http, token, "GET", f"users/{ALICE}/events")
    outage = graph(fake, http, token, "GET", f"users/{CAROL}/events")

    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"
    assert throttled.json()["error"]["code"] == "ApplicationThrottled"
    assert unaffected.status_code == 200
    assert outage.status_code == 504 and outage.json()["error"]["code"] == "UnknownError"
    assert graph(fake, http, token, "GET", f"users/{BOB}/events").status_code == 200
    assert calls(fake, "GET", f"/users/{BOB}/events") == [429, 200]


def test_it_applies_a_create_that_times_out_so_a_lookup_finds_it(fake, http):
    token = app_token(fake)
    fake.add_fault(kind="timeout", target=f"/v1.0/users/{ALICE}/events", delay_ms=1000, count=1)

    with pytest.raises(requests.exceptions.ReadTimeout):
        graph(fake, http, token, "POST", f"users/{ALICE}/events", timeout=0.2,
              json=event_body(singleValueExtendedProperties=[{"id": KEY_PROP, "value": "booking-7"}]))

    found = graph(fake, http, token, "GET", f"users/{ALICE}/events", params={
        "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROP}' and ep/value eq 'booking-7')"})
    assert len(found.json()["value"]) == 1


def test_it_refuses_a_seed_in_the_wrong_shape(fake, http):
    assert http.post(f"{fake.url}/_fake/seed", json={"people": []}).json() == {
        "error": "unknown seed key 'people'", "field": "people"}
    assert http.post(f"{fake.url}/_fake/seed", json={"busy": {"nobody@contoso.test": []}}).status_code == 400
    assert http.post(f"{fake.url}/_fake/seed", json={"busy": {BOB: [["2026-12-01T10:00:00", "x"]]}}).json()[
        "field"] == "busy"


@pytest.mark.skipif(not (ROOT.parent / "shared" / "tools" / "check_fakes.py").exists(),
                    reason="shared/tools/check_fakes.py is not beside the repository")
def test_it_runs_from_the_command_line_and_answers_the_control_surface():
    checker = subprocess.run([sys.executable, "../shared/tools/check_fakes.py", "microsoft"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)

    assert checker.stdout.strip().splitlines()[-1] == "fakes: 1/1 answer the control surface"
