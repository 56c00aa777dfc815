"""Google-only behaviour of GoogleCalendar: the freeBusy limit, Meet, retried creates, token failures, throttling,
and domain-wide delegation; through google-api-python-client and google-auth against the google fake."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from integrations.calendars.base import Attendee, Conference, EventSpec, ProviderError, Window
from integrations.calendars.google import GoogleCalendar, event_id_for
from integrations.models import CalendarConnection
from scheduling import clock

DOMAIN = "acme.test"
ORGANISER = f"interviews@{DOMAIN}"
ALICE, BOB, CAROL = f"alice@{DOMAIN}", f"bob@{DOMAIN}", f"carol@{DOMAIN}"
ROOM = f"room-oslo@{DOMAIN}"
SERVICE_ACCOUNT = "loopwise@acme-project.iam.gserviceaccount.com"
DAY = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
WINDOW = Window(DAY + dt.timedelta(hours=7), DAY + dt.timedelta(hours=19))


def at(hour: float) -> dt.datetime:
    return DAY + dt.timedelta(hours=hour)


@pytest.fixture
def google(google_fake):
    google_fake.seed({
        "users": [{"email": e} for e in (ORGANISER, ALICE, BOB, CAROL)],
        "rooms": [{"email": ROOM, "name": "Oslo"}],
        "oauth_clients": [{"client_id": "loopwise-test", "client_secret": "s3cret"}],
        "refresh_tokens": [{"token": "rt-interviews", "client_id": "loopwise-test", "user": ORGANISER}],
        "service_accounts": [{"client_email": SERVICE_ACCOUNT}],
    })
    return google_fake


def user_connection(fake) -> CalendarConnection:
    return CalendarConnection(
        name="Acme Google", provider="google", auth_mode="user_oauth", base_url=fake.url,
        token_url=fake.url + "/token", organiser_calendar=ORGANISER, account_email=ORGANISER,
        credentials={"client_id": "loopwise-test", "client_secret": "s3cret", "refresh_token": "rt-interviews"})


def service_connection(fake) -> CalendarConnection:
    return CalendarConnection(
        name="Acme Workspace", provider="google", auth_mode="service_account", base_url=fake.url,
        token_url=fake.url + "/token", organiser_calendar=ORGANISER, account_email=f"admin@{DOMAIN}",
        credentials={"service_account_info": fake.service_account_info(SERVICE_ACCOUNT)})


def session(key: str, start: float, conference: Conference | None = None, **changes) -> EventSpec:
    values = {"key": key, "calendar_id": ORGANISER, "title": "Interview", "start": at(start), "end": at(start + 1),
              "timezone": "Europe/Oslo", "conference": conference,
              "attendees": (Attendee(ALICE, "Alice"), Attendee(ROOM, "Oslo", is_room=True))}
    return EventSpec(**{**values, **changes})


def calls(fake, method: str, prefix: str) -> list[dict]:
    """Requests the fake received under `prefix`, of `method` (any when empty)."""
    return [r for r in fake.requests() if method in ("", r["method"]) and r["path"].startswith(prefix)]


def live(fake, calendar_id: str) -> list[dict]:
    return [e for e in fake.state()["calendars"][calendar_id]["events"] if e["status"] != "cancelled"]


@pytest.fixture
def waits(settings):
    """Records every wait made through scheduling.clock.sleep instead of sleeping (cap raised to see the values)."""
    settings.LOOPWISE_MAX_SLEEP_SECONDS = 120
    made: list[float] = []
    with clock.use_sleeper(made.append):
        yield made


# ---- free/busy ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("count", "queries"), [(50, 1), (51, 2), (100, 2), (101, 3)])
def test_it_sends_at_most_50_calendars_per_freebusy_query(google, count, queries):
    people = [f"p{i:03d}@{DOMAIN}" for i in range(count)]
    google.seed({"users": [{"email": p} for p in people]})

    result = GoogleCalendar(user_connection(google)).free_busy(people, WINDOW)

    assert len(calls(google, "POST", "/calendar/v3/freeBusy")) == queries == result.requests_made
    assert set(result.busy) == set(people) and not result.errors


def test_it_reports_notfound_inside_a_200_as_that_calendars_error(google):
    google.seed({"users": [{"email": CAROL, "private": True}], "busy": {ALICE: [["2026-12-01T09:00:00Z",
                                                                                  "2026-12-01T10:00:00Z"]]}})

    result = GoogleCalendar(user_connection(google)).free_busy([ALICE, CAROL, f"ghost@{DOMAIN}"], WINDOW)

    assert {k: v.reason for k, v in result.errors.items()} == {CAROL: "notFound", f"ghost@{DOMAIN}": "notFound"}
    assert [(b.start, b.end) for b in result.busy[ALICE]] == [(at(9), at(10))]
    assert calls(google, "POST", "/calendar/v3/freeBusy")[0]["status"] == 200


def test_it_marks_an_internal_error_of_one_calendar_as_passing(google):
    google.seed({"users": [{"email": BOB, "freebusy_error": "internalError"}]})

    result = GoogleCalendar(user_connection(google)).free_busy([ALICE, BOB], WINDOW)

    assert result.errors[BOB].reason == "internalError" and not result.errors[BOB].permanent
    assert result.busy[ALICE] == []


# ---- events, Meet ------------------------------------------------------------------------------------------------

def test_it_writes_events_with_a_base32hex_id_and_our_key(google):
    ref = GoogleCalendar(user_connection(google)).upsert_event(session("b1:s1:r1", 10))

    assert re.fullmatch(r"[a-v0-9]{5,1024}", ref.event_id) and ref.event_id == event_id_for("b1:s1:r1")
    (event,) = live(google, ORGANISER)
    assert event["extendedProperties"]["private"] == {"loopwise_key": "b1:s1:r1"}
    assert event["start"] == {"dateTime": "2026-12-01T11:00:00+01:00", "timeZone": "Europe/Oslo"}
    assert [(a["email"], a.get("resource", False)) for a in event["attendees"]] == [(ALICE, False), (ROOM, True)]
    (post,) = calls(google, "POST", "/calendar/v3/calendars/")
    assert "conferenceDataVersion=1" in post["query"] and "sendUpdates=all" in post["query"]


def test_it_creates_one_meet_conference_per_loop_and_reuses_it(google):
    adapter = GoogleCalendar(user_connection(google))

    first = adapter.upsert_event(session("b1:s1:r1", 10, Conference(request_id="loop-b1")))
    second = adapter.upsert_event(session("b1:s2:r1", 11, first.conference))

    assert first.join_url.startswith("https://meet.google.com/") and second.join_url == first.join_url
    assert second.conference.conference_id == first.conference.conference_id
    assert "createRequest" not in first.conference.raw
    assert len(google.state()["conferences"]) == 1
    events = live(google, ORGANISER)
    assert len(events) == 2 and {e["hangoutLink"] for e in events} == {first.join_url}
    assert {e["hangoutLink"] for e in live(google, ALICE)} == {first.join_url}


def test_it_waits_for_a_pending_meet_conference(google, waits):
    google.seed({"settings": {"meet_pending_reads": 2}})

    ref = GoogleCalendar(user_connection(google)).upsert_event(session("b1:s1:r1", 10,
                                                                       Conference(request_id="loop-b1")))

    assert ref.join_url.startswith("https://meet.google.com/")
    assert waits == [1.0, 2.0]
    assert len(calls(google, "GET", "/calendar/v3/calendars/")) == 2


def test_it_updates_the_attendee_copies_and_cancels_a_removed_attendees_copy(google):
    adapter = GoogleCalendar(user_connection(google))
    adapter.upsert_event(session("b1:s1:r1", 10))

    adapter.upsert_event(session("b1:s1:r1", 10, attendees=(Attendee(BOB), Attendee(ROOM, is_room=True))))

    assert live(google, ALICE) == []
    assert len(live(google, BOB)) == 1 and len(live(google, ROOM)) == 1
    assert len(live(google, ORGANISER)) == 1


def test_it_leaves_exactly_one_event_when_a_create_times_out_after_google_applied_it(google, waits):
    google.add_fault(kind="timeout", target="/calendar/v3/calendars/", count=1, delay_ms=1500)
    seen_at_retry: list[int] = []
    adapter = GoogleCalendar(user_connection(google), timeout=0.5)

    with clock.use_sleeper(lambda s: seen_at_retry.append(len(live(google, ORGANISER)))):
        ref = adapter.upsert_event(session("b1:s1:r1", 10, Conference(request_id="loop-b1")))

    assert seen_at_retry == [1]  # the timed-out create was in Google's state before the retry
    (event,) = live(google, ORGANISER)
    assert event["id"] == ref.event_id and ref.join_url == event["hangoutLink"]
    assert len(live(google, ALICE)) == 1 and len(google.state()["conferences"]) == 1
    writes = [(r["method"], r["status"]) for r in google.requests() if r["path"].startswith("/calendar/v3/")]
    assert writes == [("POST", 200), ("GET", 200), ("PATCH", 200)]  # looked up before a second insert


def test_it_refuses_to_revive_a_deleted_events_id(google):
    adapter = GoogleCalendar(user_connection(google))
    adapter.upsert_event(session("b1:s1:r1", 10))
    adapter.delete_event(ORGANISER, "b1:s1:r1")

    with pytest.raises(ProviderError) as caught:
        adapter.upsert_event(session("b1:s1:r1", 10))

    assert caught.value.permanent and caught.value.scope == "request" and caught.value.status == 409
    assert live(google, ORGANISER) == []
    found = adapter.find_event(ORGANISER, "b1:s1:r1")
    assert found is not None and found.cancelled


# ---- auth and errors ---------------------------------------------------------------------------------------------

def test_it_turns_a_revoked_user_grant_into_a_permanent_connection_error(google):
    adapter = GoogleCalendar(user_connection(google))
    adapter.free_busy([ALICE], WINDOW)  # holds a live access token from here
    google.add_fault(kind="revoke", target=ORGANISER)

    with pytest.raises(ProviderError) as caught:
        adapter.free_busy([ALICE], WINDOW)

    error = caught.value
    assert (error.permanent, error.scope, error.reason) == (True, "connection", "invalid_grant")
    assert "Token has been expired or revoked." in error.message
    assert google.state()["refresh_tokens"][0]["revoked"] is True


def test_it_refreshes_an_expired_access_token_without_noise(google, waits):
    adapter = GoogleCalendar(user_connection(google))
    adapter.free_busy([ALICE], WINDOW)
    google.add_fault(kind="expire_token", count=1)

    result = adapter.free_busy([ALICE], WINDOW)

    assert result.busy == {ALICE: []} and waits == []
    assert len(calls(google, "POST", "/token")) == 2


@pytest.mark.parametrize(("status", "retry_after"), [(429, 7), (403, 3)])
def test_it_waits_as_long_as_google_asks_when_throttled(google, waits, status, retry_after):
    google.add_fault(kind="throttle", target="/calendar/v3/freeBusy", count=1, status=status,
                     retry_after=retry_after)

    result = GoogleCalendar(user_connection(google)).free_busy([ALICE], WINDOW)

    assert result.busy == {ALICE: []}
    assert waits == [retry_after]
    assert [r["status"] for r in calls(google, "POST", "/calendar/v3/freeBusy")] == [status, 200]


def test_it_retries_5xx_with_backoff_and_recovers(google, waits):
    google.add_fault(kind="error", target="/calendar/v3/calendars/", count=2, status=503)

    ref = GoogleCalendar(user_connection(google)).upsert_event(session("b1:s1:r1", 10))

    assert len(waits) == 2 and waits[0] <= 0.5 and waits[1] <= 1.0
    sent = [(r["method"], r["status"]) for r in calls(google, "", "/calendar/v3/calendars/")]
    assert sent == [("POST", 503), ("GET", 503), ("GET", 404), ("POST", 200)]  # each retry looks the id up first
    assert [e["id"] for e in live(google, ORGANISER)] == [ref.event_id]


def test_it_gives_up_on_a_lasting_outage_with_a_transient_error(google, waits):
    google.add_fault(kind="error", target="/calendar/v3/freeBusy", status=500)

    with pytest.raises(ProviderError) as caught:
        GoogleCalendar(user_connection(google)).free_busy([ALICE], WINDOW)

    assert not caught.value.permanent and caught.value.status == 500
    assert len(waits) == 3


def test_it_blames_the_calendar_it_cannot_write_to(google):
    with pytest.raises(ProviderError) as caught:
        GoogleCalendar(user_connection(google)).upsert_event(session("b1:s1:r1", 10, calendar_id=BOB))

    error = caught.value
    assert (error.permanent, error.scope, error.calendar_id, error.reason) == (True, "calendar", BOB,
                                                                              "requiredAccessLevel")
    assert live(google, BOB) == []


def narrow_grant(google, *scopes: str) -> GoogleCalendar:
    google.seed({"refresh_tokens": [{"token": "rt-narrow", "client_id": "loopwise-test", "user": ORGANISER,
                                     "scopes": [f"https://www.googleapis.com/auth/{s}" for s in scopes]}]})
    connection = user_connection(google)
    connection.credentials = {**connection.credentials, "refresh_token": "rt-narrow"}
    return GoogleCalendar(connection)


def test_it_does_everything_with_the_least_scopes(google):
    adapter = narrow_grant(google, "calendar.events", "calendar.events.freebusy")

    assert adapter.check().ok
    assert adapter.free_busy([ALICE, ROOM], WINDOW).errors == {}
    adapter.upsert_event(session("b1:s1:r1", 10, Conference(request_id="loop-b1")))
    assert adapter.find_event(ORGANISER, "b1:s1:r1") is not None
    adapter.delete_event(ORGANISER, "b1:s1:r1")


def test_it_turns_a_grant_missing_a_scope_into_a_connection_error(google):
    adapter = narrow_grant(google, "calendar.events")

    with pytest.raises(ProviderError) as caught:
        adapter.free_busy([ALICE], WINDOW)

    assert (caught.value.permanent, caught.value.scope, caught.value.reason) == (True, "connection", "invalid_scope")


def test_it_reports_unusable_credentials_in_the_check(google):
    connection = user_connection(google)
    connection.credentials = {"client_id": "loopwise-test", "client_secret": "wrong", "refresh_token": "rt-interviews"}

    check = GoogleCalendar(connection).check()

    assert not check.ok and "invalid_client" in check.message


# ---- service account with domain-wide delegation ------------------------------------------------------------------

def test_it_reads_free_busy_as_the_organiser_and_isolates_a_deleted_user(google):
    google.seed({"users": [{"email": CAROL, "deleted": True}],
                 "busy": {ALICE: [["2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z"]]}})

    result = GoogleCalendar(service_connection(google)).free_busy([ALICE, BOB, CAROL, ROOM], WINDOW)

    assert {k: v.reason for k, v in result.errors.items()} == {CAROL: "notFound"}
    assert [(b.start, b.end) for b in result.busy[ALICE]] == [(at(9), at(10))]
    assert result.busy[BOB] == [] and result.busy[ROOM] == []
    (token,) = google.state()["access_tokens"]
    assert (token["kind"], token["subject"]) == ("service_account", ORGANISER)


def test_it_books_with_attendees_and_meet_under_delegation(google):
    ref = GoogleCalendar(service_connection(google)).upsert_event(session("b1:s1:r1", 10,
                                                                          Conference(request_id="loop-b1")))

    assert ref.join_url.startswith("https://meet.google.com/")
    assert len(live(google, ALICE)) == 1 and len(live(google, ROOM)) == 1
    assert GoogleCalendar(service_connection(google)).check().ok


def test_it_turns_missing_delegation_into_a_permanent_connection_error(google):
    google.seed({"service_accounts": [{"client_email": SERVICE_ACCOUNT, "delegation": False}]})

    with pytest.raises(ProviderError) as caught:
        GoogleCalendar(service_connection(google)).free_busy([ALICE], WINDOW)

    assert (caught.value.permanent, caught.value.scope, caught.value.reason) == (True, "connection",
                                                                                 "unauthorized_client")


def test_it_turns_a_deleted_organiser_into_a_connection_error(google):
    google.seed({"users": [{"email": ORGANISER, "deleted": True}]})

    with pytest.raises(ProviderError) as caught:
        GoogleCalendar(service_connection(google)).free_busy([ALICE], WINDOW)

    assert (caught.value.permanent, caught.value.scope, caught.value.reason) == (True, "connection", "invalid_grant")


def test_it_reports_a_key_that_does_not_parse_as_the_connections_failure(google):
    connection = service_connection(google)
    connection.credentials = {"type": "service_account", "client_email": SERVICE_ACCOUNT,
                              "private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
                              "token_uri": google.url + "/token"}

    check = GoogleCalendar(connection).check()

    assert not check.ok and "credentials unusable" in check.message
    assert google.requests() == []
