"""The google fake, driven through google-api-python-client and google-auth with only the endpoints overridden:
free/busy, events with attendee copies and Meet, idempotent ids, OAuth grants and their failures, faults."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import google_auth_httplib2
import httplib2
import pytest
import requests
from google.auth.exceptions import RefreshError
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from integrations.fakes.google import GoogleFake

ROOT = Path(__file__).resolve().parents[3]
SCOPE = "https://www.googleapis.com/auth/"
ALICE, BOB, CAROL, SCHED = "alice@acme.test", "bob@acme.test", "carol@acme.test", "sched@acme.test"
ROOM = "c_room1@resource.calendar.google.com"
ROBOT = "loopwise@acme-project.iam.gserviceaccount.com"
CLIENT_ID, CLIENT_SECRET = "loopwise-client.apps.googleusercontent.com", "client-secret"
REDIRECT = "http://127.0.0.1:8000/integrations/google/callback"


@pytest.fixture
def fake(google_fake):
    google_fake.seed({
        "users": [{"email": ALICE, "name": "Alice"}, {"email": BOB}, {"email": CAROL}, {"email": SCHED}],
        "rooms": [{"email": ROOM, "name": "Room 1"}],
        "service_accounts": [{"client_email": ROBOT}],
        "oauth_clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [REDIRECT]}],
        "refresh_tokens": [{"token": f"rt-{who}", "client_id": CLIENT_ID, "user": who}
                           for who in (ALICE, BOB, SCHED)],
        "busy": {ALICE: [["2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z"],
                         ["2026-12-01T09:30:00Z", "2026-12-01T11:00:00Z"],
                         ["2026-12-01T16:00:00Z", "2026-12-01T19:00:00Z"]]},
    })
    return google_fake


def user_creds(fake, who: str, scopes: list[str] | None = None):
    return user_credentials.Credentials(None, refresh_token=f"rt-{who}", token_uri=fake.url + "/token",
                                        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, scopes=scopes)


def robot_creds(fake, subject: str | None = None):
    creds = service_account.Credentials.from_service_account_info(fake.service_account_info(ROBOT),
                                                                  scopes=[SCOPE + "calendar"])
    return creds.with_subject(subject) if subject else creds


def calendar(fake, creds=None, *, http=None):
    return build("calendar", "v3", credentials=creds, http=http, static_discovery=True,
                 client_options={"api_endpoint": fake.url + "/calendar/v3/"})


def freebusy(svc, ids, start="2026-12-01T08:00:00Z", end="2026-12-01T18:00:00Z"):
    return svc.freebusy().query(body={"timeMin": start, "timeMax": end, "items": [{"id": i} for i in ids]}).execute()


def session_body(**extra):
    return {"summary": "Interview loop: session 1", "start": {"dateTime": "2026-12-02T10:00:00+01:00"},
            "end": {"dateTime": "2026-12-02T11:00:00+01:00"}, **extra}


def reason(error: HttpError) -> str:
    return json.loads(error.content)["error"]["errors"][0]["reason"]


def calls(fake, method: str, path: str) -> list[int]:
    return [r["status"] for r in fake.requests() if r["method"] == method and r["path"] == path]


# ---- free/busy -----------------------------------------------------------------------------------------------


def test_it_answers_free_busy_with_merged_blocks_and_per_calendar_errors_in_a_200(fake):
    fake.seed({"users": [{"email": "gone@acme.test", "deleted": True}]})
    svc = calendar(fake, user_creds(fake, SCHED))
    svc.events().insert(calendarId="primary", body={
        "summary": "1:1", "start": {"dateTime": "2026-12-01T12:00:00Z"}, "end": {"dateTime": "2026-12-01T12:30:00Z"},
        "attendees": [{"email": ALICE}]}).execute()

    answer = freebusy(svc, [ALICE, "Bob@acme.test", "nobody@acme.test", "gone@acme.test"])

    assert answer["kind"] == "calendar#freeBusy"
    assert answer["timeMin"] == "2026-12-01T08:00:00.000Z"
    assert answer["timeMax"] == "2026-12-01T18:00:00.000Z"
    assert answer["calendars"][ALICE] == {"busy": [
        {"start": "2026-12-01T09:00:00Z", "end": "2026-12-01T11:00:00Z"},
        {"start": "2026-12-01T12:00:00Z", "end": "2026-12-01T12:30:00Z"},  # the invitation's copy counts
        {"start": "2026-12-01T16:00:00Z", "end": "2026-12-01T18:00:00Z"},  # clipped to the window
    ]}
    assert answer["calendars"]["Bob@acme.test"] == {"busy": []}
    for missing in ("nobody@acme.test", "gone@acme.test"):
        assert answer["calendars"][missing] == {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}


def test_it_takes_fifty_calendars_and_refuses_fifty_one(fake):
    svc = calendar(fake, user_creds(fake, SCHED))
    ids = [ALICE] + [f"person{n}@acme.test" for n in range(50)]

    assert len(freebusy(svc, ids[:50])["calendars"]) == 50
    with pytest.raises(HttpError) as refused:
        freebusy(svc, ids)

    assert refused.value.status_code == 400
    assert reason(refused.value) == "tooManyCalendarsRequested"


def test_it_reports_a_seeded_calendar_error_and_hides_private_calendars(fake):
    fake.seed({"users": [{"email": BOB, "freebusy_error": "internalError"}, {"email": CAROL, "private": True}]})

    answer = freebusy(calendar(fake, user_creds(fake, ALICE)), [BOB, CAROL])

    assert answer["calendars"][BOB]["errors"] == [{"domain": "global", "reason": "internalError"}]
    assert answer["calendars"][CAROL]["errors"] == [{"domain": "global", "reason": "notFound"}]


def test_it_enforces_the_scopes_each_method_accepts(fake):
    events_only = calendar(fake, user_creds(fake, ALICE, scopes=[SCOPE + "calendar.events"]))

    with pytest.raises(HttpError) as refused:
        freebusy(events_only, [BOB])
    events_only.events().insert(calendarId="primary", body=session_body()).execute()

    assert refused.value.status_code == 403
    assert reason(refused.value) == "insufficientPermissions"


# ---- events --------------------------------------------------------------------------------------------------


def test_it_inserts_an_event_with_our_id_and_refuses_that_id_again_even_after_delete(fake):
    svc = calendar(fake, user_creds(fake, SCHED)).events()
    event_id = "b0a1s1r1" + "0" * 24

    created = svc.insert(calendarId=SCHED, body=session_body(id=event_id)).execute()
    with pytest.raises(HttpError) as duplicate:
        svc.insert(calendarId=SCHED, body=session_body(id=event_id)).execute()
    svc.delete(calendarId=SCHED, eventId=event_id).execute()
    with pytest.raises(HttpError) as after_delete:
        svc.insert(calendarId=SCHED, body=session_body(id=event_id)).execute()
    with pytest.raises(HttpError) as invalid:
        svc.insert(calendarId=SCHED, body=session_body(id="Not_Base32hex")).execute()

    assert created["id"] == event_id
    assert created["status"] == "confirmed"
    assert created["iCalUID"] == f"{event_id}@google.com"
    assert created["organizer"] == {"email": SCHED, "self": True}
    assert created["sequence"] == 0
    assert created["kind"] == "calendar#event"
    assert created["htmlLink"].startswith("https://www.google.com/calendar/event?eid=")
    assert {"etag", "created", "updated", "creator"} <= set(created)
    assert (duplicate.value.status_code, reason(duplicate.value)) == (409, "duplicate")
    assert json.loads(duplicate.value.content)["error"]["message"] == "The requested identifier already exists."
    assert (after_delete.value.status_code, reason(after_delete.value)) == (409, "duplicate")
    assert (invalid.value.status_code, reason(invalid.value)) == (400, "invalid")


def test_it_copies_an_event_to_each_attendee_once_and_keeps_the_copies_in_step(fake):
    svc = calendar(fake, user_creds(fake, SCHED)).events()
    event_id = "loop1session1"
    body = session_body(id=event_id, attendees=[{"email": ALICE}, {"email": BOB}, {"email": ROOM},
                                                {"email": "outsider@elsewhere.test"}],
                        extendedProperties={"private": {"loopwise": "b1-s1-r0"}, "shared": {"loop": "b1"}})

    created = svc.insert(calendarId=SCHED, body=body).execute()
    with pytest.raises(HttpError):  # a retried create: Google refuses the id, nothing is copied twice
        svc.insert(calendarId=SCHED, body=body).execute()

    calendars = fake.state()["calendars"]
    [alice_copy] = calendars[ALICE]["events"]
    assert [e["id"] for e in calendars[BOB]["events"]] == [event_id]
    assert [e["id"] for e in calendars[ROOM]["events"]] == [event_id]
    assert alice_copy["iCalUID"] == created["iCalUID"]
    assert alice_copy["organizer"] == {"email": SCHED, "self": False}
    assert alice_copy["extendedProperties"] == {"shared": {"loop": "b1"}}  # private properties stay with sched
    assert [a for a in alice_copy["attendees"] if a.get("self")] == [
        {"email": ALICE, "self": True, "responseStatus": "needsAction"}]
    assert {a["email"]: a["responseStatus"] for a in created["attendees"]} == {
        ALICE: "needsAction", BOB: "needsAction", ROOM: "accepted", "outsider@elsewhere.test": "needsAction"}
    assert next(a for a in created["attendees"] if a["email"] == ROOM)["resource"] is True

    patched = svc.patch(calendarId=SCHED, eventId=event_id, body={
        "start": {"dateTime": "2026-12-02T14:00:00+01:00"}, "end": {"dateTime": "2026-12-02T15:00:00+01:00"},
        "attendees": [{"email": ALICE}, {"email": CAROL}, {"email": ROOM}]}).execute()

    calendars = fake.state()["calendars"]
    assert patched["sequence"] == 1
    assert patched["summary"] == "Interview loop: session 1"
    assert patched["extendedProperties"]["private"] == {"loopwise": "b1-s1-r0"}
    assert [(e["start"]["dateTime"], e["sequence"]) for e in calendars[ALICE]["events"]] == [
        ("2026-12-02T14:00:00+01:00", 1)]
    assert [e["status"] for e in calendars[BOB]["events"]] == ["cancelled"]  # removed from the loop
    assert [e["status"] for e in calendars[CAROL]["events"]] == ["confirmed"]

    svc.delete(calendarId=SCHED, eventId=event_id).execute()
    with pytest.raises(HttpError) as again:
        svc.delete(calendarId=SCHED, eventId=event_id).execute()

    assert svc.get(calendarId=SCHED, eventId=event_id).execute()["status"] == "cancelled"
    assert (again.value.status_code, reason(again.value)) == (410, "deleted")
    calendars = fake.state()["calendars"]
    for who in (ALICE, BOB, CAROL, ROOM):
        assert [e["status"] for e in calendars[who]["events"]] == ["cancelled"]
    busy = freebusy(calendar(fake, user_creds(fake, SCHED)), [ALICE, CAROL], "2026-12-02T00:00:00Z",
                    "2026-12-03T00:00:00Z")
    assert busy["calendars"][CAROL]["busy"] == []


def test_it_lists_events_by_private_property_with_deleted_ones_on_request_and_pages(fake):
    svc = calendar(fake, user_creds(fake, SCHED)).events()
    for n in range(3):
        svc.insert(calendarId=SCHED, body=session_body(
            id=f"booking{n}00", extendedProperties={"private": {"loopwise": f"key-{n}"}})).execute()
    svc.delete(calendarId=SCHED, eventId="booking100").execute()

    def ids(**params):
        return [e["id"] for e in svc.list(calendarId=SCHED, **params).execute()["items"]]

    assert ids(privateExtendedProperty="loopwise=key-0") == ["booking000"]
    assert ids(privateExtendedProperty="loopwise=key-1") == []
    assert ids(privateExtendedProperty="loopwise=key-1", showDeleted=True) == ["booking100"]
    assert ids(privateExtendedProperty="loopwise=key-9", showDeleted=True) == []
    assert ids(iCalUID="booking200@google.com") == ["booking200"]
    assert ids(timeMin="2026-12-02T10:00:00Z") == []  # every event ends at 10:00 UTC
    assert ids(timeMax="2026-12-02T09:30:00Z") == ["booking000", "booking200"]

    request, seen = svc.list(calendarId=SCHED, maxResults=1, showDeleted=True), []
    while request is not None:
        page = request.execute()
        seen += [e["id"] for e in page["items"]]
        request = svc.list_next(request, page)
    assert seen == ["booking000", "booking100", "booking200"]


def test_it_keeps_events_to_their_own_calendar(fake):
    svc = calendar(fake, user_creds(fake, ALICE)).events()

    with pytest.raises(HttpError) as write:
        svc.insert(calendarId=BOB, body=session_body()).execute()
    with pytest.raises(HttpError) as read:
        svc.list(calendarId=BOB).execute()
    with pytest.raises(HttpError) as missing:
        svc.get(calendarId=ALICE, eventId="nosuchevent").execute()

    assert (write.value.status_code, reason(write.value)) == (403, "requiredAccessLevel")
    assert (read.value.status_code, reason(read.value)) == (404, "notFound")
    assert json.loads(missing.value.content) == {"error": {
        "errors": [{"domain": "global", "reason": "notFound", "message": "Not Found"}],
        "code": 404, "message": "Not Found"}}


def test_it_lists_the_callers_own_calendar(fake):
    answer = calendar(fake, user_creds(fake, ALICE)).calendarList().list().execute()

    assert [(c["id"], c["primary"], c["accessRole"]) for c in answer["items"]] == [(ALICE, True, "owner")]


# ---- Meet ----------------------------------------------------------------------------------------------------


def meet(request_id: str) -> dict:
    return {"createRequest": {"requestId": request_id, "conferenceSolutionKey": {"type": "hangoutsMeet"}}}


def test_it_creates_one_meet_conference_per_request_id_and_reuses_it_by_conference_id(fake):
    svc = calendar(fake, user_creds(fake, SCHED)).events()

    first = svc.insert(calendarId="primary", conferenceDataVersion=1, sendUpdates="all", body=session_body(
        id="loop7session1", conferenceData=meet("loop-7"), attendees=[{"email": ALICE}])).execute()
    reused = svc.insert(calendarId="primary", conferenceDataVersion=1,
                        body=session_body(id="loop7session2", conferenceData=meet("loop-7"))).execute()
    attached = svc.insert(calendarId="primary", conferenceDataVersion=1, body=session_body(
        id="loop7session3", conferenceData={"conferenceId": first["conferenceData"]["conferenceId"],
                                            "conferenceSolution": {"key": {"type": "hangoutsMeet"}}})).execute()
    ignored = svc.insert(calendarId="primary", body=session_body(id="loop8session1",
                                                                 conferenceData=meet("loop-8"))).execute()

    link = first["hangoutLink"]
    assert link.startswith("https://meet.google.com/") and len(link.rsplit("/", 1)[1]) == len("abc-defg-hij")
    assert first["conferenceData"]["createRequest"]["status"] == {"statusCode": "success"}
    assert first["conferenceData"]["entryPoints"][0] == {
        "entryPointType": "video", "uri": link, "label": link.removeprefix("https://")}
    assert first["conferenceData"]["conferenceSolution"]["key"] == {"type": "hangoutsMeet"}
    assert "conferenceData" not in reused and "hangoutLink" not in reused
    assert attached["hangoutLink"] == link
    assert "conferenceData" not in ignored  # conferenceDataVersion 0
    assert fake.state()["calendars"][ALICE]["events"][0]["hangoutLink"] == link


def test_it_can_report_a_meet_conference_pending_before_success(fake):
    fake.seed({"settings": {"meet_pending_reads": 1}})
    svc = calendar(fake, user_creds(fake, SCHED)).events()

    created = svc.insert(calendarId="primary", conferenceDataVersion=1,
                         body=session_body(id="pending01", conferenceData=meet("loop-9"))).execute()
    later = svc.get(calendarId="primary", eventId="pending01").execute()

    assert created["conferenceData"]["createRequest"]["status"] == {"statusCode": "pending"}
    assert "hangoutLink" not in created
    assert later["conferenceData"]["createRequest"]["status"] == {"statusCode": "success"}
    assert later["hangoutLink"].startswith("https://meet.google.com/")


# ---- OAuth ---------------------------------------------------------------------------------------------------


def test_it_fails_a_revoked_refresh_token_the_way_google_does_and_only_that_one(fake):
    fake.add_fault(kind="revoke", target=ALICE, count=1)

    with pytest.raises(RefreshError) as refused:
        freebusy(calendar(fake, user_creds(fake, ALICE)), [ALICE])
    fake.clear_faults()
    with pytest.raises(RefreshError):  # a revoked grant stays revoked
        freebusy(calendar(fake, user_creds(fake, ALICE)), [ALICE])

    assert refused.value.args[0] == "invalid_grant: Token has been expired or revoked."
    assert freebusy(calendar(fake, user_creds(fake, BOB)), [ALICE])["calendars"][ALICE]["busy"]
    assert [t["revoked"] for t in fake.state()["refresh_tokens"] if t["user"] == ALICE] == [True]


def test_it_fails_domain_wide_delegation_only_for_a_deleted_user(fake):
    fake.seed({"users": [{"email": BOB, "deleted": True}]})

    with pytest.raises(RefreshError) as refused:
        freebusy(calendar(fake, robot_creds(fake, BOB)), [BOB])
    answer = freebusy(calendar(fake, robot_creds(fake, ALICE)), [ALICE, BOB])

    assert refused.value.args[0] == "invalid_grant: Invalid email or User ID"
    assert answer["calendars"][ALICE]["busy"]
    assert answer["calendars"][BOB]["errors"] == [{"domain": "global", "reason": "notFound"}]


def test_it_refuses_a_service_account_without_delegation_and_broken_credentials(fake):
    alone = calendar(fake, robot_creds(fake)).events()

    with pytest.raises(HttpError) as invite:
        alone.insert(calendarId="primary", body=session_body(attendees=[{"email": ALICE}])).execute()
    alone.insert(calendarId="primary", body=session_body()).execute()  # its own calendar, nobody invited
    fake.add_fault(kind="bad_credentials", target=ROBOT)
    with pytest.raises(RefreshError) as broken:
        freebusy(calendar(fake, robot_creds(fake, ALICE)), [ALICE])

    assert (invite.value.status_code, reason(invite.value)) == (403, "forbiddenForServiceAccounts")
    assert broken.value.args[0].startswith("unauthorized_client: Client is unauthorized to retrieve access tokens")


def test_it_expires_an_access_token_and_the_library_refreshes_it(fake):
    svc = calendar(fake, user_creds(fake, ALICE))
    freebusy(svc, [ALICE])
    fake.add_fault(kind="expire_token", target=ALICE, count=1)

    freebusy(svc, [ALICE])

    assert calls(fake, "POST", "/token") == [200, 200]
    assert calls(fake, "POST", "/calendar/v3/freeBusy") == [200, 401, 200]


def test_it_approves_consent_at_once_with_state_and_checks_pkce(fake, http):
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    scopes = f"{SCOPE}calendar.events {SCOPE}calendar.events.freebusy"

    def consent() -> str:
        answer = http.get(f"{fake.url}/o/oauth2/v2/auth", allow_redirects=False, params={
            "client_id": CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code", "scope": scopes,
            "state": "signed-state", "code_challenge": challenge, "code_challenge_method": "S256",
            "access_type": "offline", "prompt": "consent", "login_hint": CAROL})
        assert answer.status_code == 302
        location = urlsplit(answer.headers["Location"])
        query = parse_qs(location.query)
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
        assert query["state"] == ["signed-state"]
        return query["code"][0]

    def exchange(code: str, code_verifier: str):
        return http.post(f"{fake.url}/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "code_verifier": code_verifier})

    wrong = exchange(consent(), "not-the-verifier")
    code = consent()
    right = exchange(code, verifier)
    reused = exchange(code, verifier)

    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    assert right.status_code == 200
    assert right.json()["scope"] == scopes
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    creds = user_credentials.Credentials(None, refresh_token=right.json()["refresh_token"], client_id=CLIENT_ID,
                                         client_secret=CLIENT_SECRET, token_uri=fake.url + "/token")
    assert calendar(fake, creds).events().insert(calendarId="primary", body=session_body()).execute()["organizer"] == {
        "email": CAROL, "self": True}
    consent_record = fake.state()["consents"][-1]
    assert (consent_record["user"], consent_record["code_challenge_method"]) == (CAROL, "S256")
    mismatch = http.get(f"{fake.url}/o/oauth2/v2/auth", allow_redirects=False, params={
        "client_id": CLIENT_ID, "redirect_uri": "http://evil.test/cb", "response_type": "code", "scope": scopes})
    assert mismatch.status_code == 400


# ---- faults --------------------------------------------------------------------------------------------------


def test_it_throttles_with_a_403_rate_limit_the_library_retries(fake):
    svc = calendar(fake, user_creds(fake, ALICE))
    freebusy(svc, [ALICE])  # the token first, so the fault meets the API call
    fake.add_fault(kind="throttle", status=403, target="/calendar/v3/freeBusy", count=1, retry_after=2)

    answer = svc.freebusy().query(body={"timeMin": "2026-12-01T08:00:00Z", "timeMax": "2026-12-01T18:00:00Z",
                                        "items": [{"id": ALICE}]}).execute(num_retries=1)

    assert answer["calendars"][ALICE]["busy"]
    assert calls(fake, "POST", "/calendar/v3/freeBusy") == [200, 403, 200]
    fake.add_fault(kind="throttle", status=403, target=ALICE, count=1)
    with pytest.raises(HttpError) as per_user:
        freebusy(svc, [ALICE])
    assert per_user.value.resp["retry-after"] == "1"
    assert json.loads(per_user.value.content)["error"] == {
        "errors": [{"domain": "usageLimits", "reason": "userRateLimitExceeded", "message": "User Rate Limit Exceeded"}],
        "code": 403, "message": "User Rate Limit Exceeded"}


def test_it_answers_throttling_and_outages_in_googles_shapes(fake, http):
    svc = calendar(fake, user_creds(fake, ALICE))
    freebusy(svc, [ALICE])
    fake.add_fault(kind="throttle", target=ALICE, count=1, retry_after=3)
    fake.add_fault(kind="error", status=500, target="/calendar/v3/freeBusy", count=1)

    with pytest.raises(HttpError) as throttled:
        freebusy(svc, [ALICE])
    answer = svc.freebusy().query(body={"timeMin": "2026-12-01T08:00:00Z", "timeMax": "2026-12-01T18:00:00Z",
                                        "items": [{"id": BOB}]}).execute(num_retries=1)

    assert throttled.value.status_code == 429
    assert throttled.value.resp["retry-after"] == "3"
    assert json.loads(throttled.value.content)["error"]["errors"] == [
        {"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}]
    assert answer["calendars"][BOB] == {"busy": []}
    assert calls(fake, "POST", "/calendar/v3/freeBusy") == [200, 429, 500, 200]


def test_it_applies_a_create_that_times_out_so_the_retry_finds_it(fake):
    creds = user_creds(fake, SCHED)
    svc = calendar(fake, http=google_auth_httplib2.AuthorizedHttp(creds, http=httplib2.Http(timeout=1))).events()
    svc.list(calendarId=SCHED).execute()
    fake.add_fault(kind="timeout", target=f"/calendar/v3/calendars/{SCHED}/events", delay_ms=1500, count=1)
    body = session_body(id="booking42session1", attendees=[{"email": ALICE}],
                        extendedProperties={"private": {"loopwise": "b42-s1-r0"}})

    with pytest.raises(TimeoutError):
        svc.insert(calendarId=SCHED, body=body).execute()
    found = svc.list(calendarId=SCHED, privateExtendedProperty="loopwise=b42-s1-r0", showDeleted=True).execute()
    with pytest.raises(HttpError) as retried:
        svc.insert(calendarId=SCHED, body=body).execute()

    assert [e["id"] for e in found["items"]] == ["booking42session1"]
    assert retried.value.status_code == 409
    calendars = fake.state()["calendars"]
    assert len(calendars[SCHED]["events"]) == len(calendars[ALICE]["events"]) == 1


# ---- seed, demo, command line --------------------------------------------------------------------------------


def test_it_refuses_a_seed_in_the_wrong_shape(fake, http):
    assert http.post(f"{fake.url}/_fake/seed", json={"people": []}).json() == {
        "error": "unknown seed key 'people'", "field": "people"}
    assert http.post(f"{fake.url}/_fake/seed", json={"busy": {"nobody@acme.test": []}}).status_code == 400
    assert http.post(f"{fake.url}/_fake/seed", json={"busy": {ALICE: [["2026-12-01T10:00:00", "x"]]}}).json()[
        "field"] == "busy"


def test_it_makes_demo_calendars_about_half_busy_in_working_hours():
    start, end = date(2026, 11, 30), date(2026, 12, 28)  # four weeks from a Monday
    zones = {"ana@acme.test": "Europe/Berlin"}

    busy = GoogleFake.demo_busy(["ana@acme.test", "ben@acme.test"], start, end, seed=7, timezone_by_email=zones)

    assert busy == GoogleFake.demo_busy(["ana@acme.test", "ben@acme.test"], start, end, seed=7,
                                        timezone_by_email=zones)
    assert busy != GoogleFake.demo_busy(["ana@acme.test", "ben@acme.test"], start, end, seed=8,
                                        timezone_by_email=zones)
    for email, hour_offset in (("ana@acme.test", 1), ("ben@acme.test", 0)):
        spans = [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in busy[email]]
        minutes = sum((b - a) / timedelta(minutes=1) for a, b in spans)
        assert 0.4 < minutes / (20 * 8 * 60) < 0.6
        assert all(a.weekday() < 5 and 9 <= a.hour + hour_offset and b.hour + hour_offset <= 17 for a, b in spans)
        assert all(timedelta(minutes=15) <= b - a <= timedelta(minutes=90) for a, b in spans)
        assert all(a.tzinfo == UTC for a, _ in spans)


@pytest.mark.skipif(not (ROOT.parent / "shared" / "tools" / "check_fakes.py").exists(),
                    reason="shared/tools/check_fakes.py is not beside the repository")
def test_it_runs_from_the_command_line_and_answers_the_control_surface():
    checker = subprocess.run([sys.executable, "../shared/tools/check_fakes.py", "google"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)

    assert checker.stdout.strip().splitlines()[-1] == "fakes: 1/1 answer the control surface"


@pytest.fixture
def http():
    with requests.Session() as session:
        session.trust_env = False
        yield session
