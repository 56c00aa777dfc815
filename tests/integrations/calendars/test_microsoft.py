"""Microsoft-only behaviour of MicrosoftCalendar: getSchedule's limits, token errors with AADSTS codes, throttling,
retried creates behind the extended-property lookup, Teams, app-only and delegated auth; through msal and requests
against the microsoft fake (Graph on http, the identity endpoints on https with a trustme CA)."""

from __future__ import annotations

import datetime as dt

import pytest

from integrations.calendars.base import Attendee, Conference, EventSpec, ProviderError, Window
from integrations.calendars.microsoft import KEY_PROPERTY_ID, MicrosoftCalendar, transaction_id_for
from integrations.models import CalendarConnection
from scheduling import clock

DOMAIN = "contoso.test"
TENANT = "contoso-tenant"
ORGANISER = f"interviews@{DOMAIN}"
ALICE, BOB, CAROL = f"alice@{DOMAIN}", f"bob@{DOMAIN}", f"carol@{DOMAIN}"
ROOM = f"room-oslo@{DOMAIN}"
CLIENT_ID, SECRET = "loopwise-test", "s3cret"
CREATE_PATH = f"/v1.0/users/{ORGANISER}/calendar/events"
DAY = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
WINDOW = Window(DAY + dt.timedelta(hours=7), DAY + dt.timedelta(hours=19))


def at(hour: float) -> dt.datetime:
    return DAY + dt.timedelta(hours=hour)


@pytest.fixture
def microsoft(microsoft_fake):
    microsoft_fake.seed({
        "tenant": TENANT,
        "users": [{"email": e} for e in (ORGANISER, ALICE, BOB, CAROL)],
        "rooms": [{"email": ROOM, "name": "Oslo"}],
        "apps": [{"client_id": CLIENT_ID, "client_secret": SECRET, "app_only": True}],
        "refresh_tokens": [{"token": "rt-interviews", "client_id": CLIENT_ID, "user": ORGANISER}],
    })
    return microsoft_fake


@pytest.fixture
def waits(settings):
    """Records every wait made through scheduling.clock.sleep instead of sleeping (cap raised to see the values)."""
    settings.LOOPWISE_MAX_SLEEP_SECONDS = 120
    made: list[float] = []
    with clock.use_sleeper(made.append):
        yield made


def app_connection(fake, **changes) -> CalendarConnection:
    values = {"name": "Contoso", "provider": "microsoft", "auth_mode": "application", "base_url": fake.url,
              "token_url": fake.login_url, "organiser_calendar": ORGANISER,
              "credentials": {"tenant": TENANT, "client_id": CLIENT_ID, "client_secret": SECRET,
                              "ca_bundle": fake.ca_pem_path}}
    return CalendarConnection(**{**values, **changes})


def user_connection(fake, refresh_token: str = "rt-interviews") -> CalendarConnection:
    return app_connection(fake, auth_mode="user_oauth", account_email=ORGANISER,
                          credentials={"tenant": TENANT, "client_id": CLIENT_ID, "client_secret": SECRET,
                                       "refresh_token": refresh_token, "ca_bundle": fake.ca_pem_path})


def session(key: str, start: float, conference: Conference | None = None, **changes) -> EventSpec:
    values = {"key": key, "calendar_id": ORGANISER, "title": "Interview", "start": at(start), "end": at(start + 1),
              "timezone": "Europe/Oslo", "conference": conference, "description": "Panel",
              "attendees": (Attendee(ALICE, "Alice"), Attendee(ROOM, "Oslo", is_room=True))}
    return EventSpec(**{**values, **changes})


def calls(fake, method: str, suffix: str = "", contains: str = "") -> list[dict]:
    return [r for r in fake.requests() if method in ("", r["method"]) and r["path"].endswith(suffix)
            and contains in r["path"]]


def schedule_calls(fake) -> list[dict]:
    return calls(fake, "POST", "/calendar/getSchedule")


def token_calls(fake) -> list[dict]:
    return calls(fake, "POST", "/oauth2/v2.0/token")


def live(fake, mailbox: str) -> list[dict]:
    return [e for e in fake.state()["mailboxes"][mailbox]["events"] if not e.get("isCancelled")]


# ---- getSchedule ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("count", "requests"), [(20, 1), (21, 2), (40, 2), (41, 3)])
def test_it_sends_at_most_20_schedules_per_getschedule(microsoft, count, requests):
    people = [f"p{i:03d}@{DOMAIN}" for i in range(count)]
    microsoft.seed({"users": [{"email": p} for p in people]})

    result = MicrosoftCalendar(app_connection(microsoft)).free_busy(people, WINDOW)

    assert len(schedule_calls(microsoft)) == requests == result.requests_made
    assert set(result.busy) == set(people) and not result.errors


@pytest.mark.parametrize(("days", "requests"), [(61, 1), (62, 2), (70, 2), (123, 3)])
def test_it_splits_a_window_into_pieces_shorter_than_62_days(microsoft, days, requests):
    late = DAY + dt.timedelta(days=days - 1, hours=9)
    microsoft.seed({"busy": {ALICE: [[at(9).isoformat(), at(10).isoformat()],
                                     [late.isoformat(), (late + dt.timedelta(hours=1)).isoformat()]]}})

    result = MicrosoftCalendar(app_connection(microsoft)).free_busy([ALICE], Window(DAY, DAY + dt.timedelta(days=days)))

    assert len(schedule_calls(microsoft)) == requests == result.requests_made
    assert [(b.start, b.end) for b in result.busy[ALICE]] == [(at(9), at(10)), (late, late + dt.timedelta(hours=1))]
    assert all(r["status"] == 200 for r in schedule_calls(microsoft))


def test_it_counts_tentative_and_away_as_busy_and_working_elsewhere_as_free(microsoft):
    microsoft.seed({"busy": {ALICE: [[at(8).isoformat(), at(9).isoformat(), "tentative"],
                                     [at(10).isoformat(), at(11).isoformat(), "oof"],
                                     [at(12).isoformat(), at(13).isoformat(), "workingElsewhere"],
                                     [at(10.5).isoformat(), at(11.5).isoformat(), "busy"]]}})

    result = MicrosoftCalendar(app_connection(microsoft)).free_busy([ALICE], WINDOW)

    assert [(b.start, b.end) for b in result.busy[ALICE]] == [(at(8), at(9)), (at(10), at(11.5))]
    assert all(b.start.tzinfo is dt.UTC for b in result.busy[ALICE])


def test_it_turns_only_a_deleted_mailbox_red(microsoft):
    microsoft.seed({"users": [{"email": CAROL, "deleted": True}],
                    "busy": {ALICE: [[at(9).isoformat(), at(10).isoformat()]]}})

    result = MicrosoftCalendar(app_connection(microsoft)).free_busy([ALICE, CAROL, BOB], WINDOW)

    assert set(result.errors) == {CAROL} and result.errors[CAROL].permanent
    assert [(b.start, b.end) for b in result.busy[ALICE]] == [(at(9), at(10))] and result.busy[BOB] == []
    assert [r["status"] for r in schedule_calls(microsoft)] == [200]


# ---- token errors ------------------------------------------------------------------------------------------------

def test_it_turns_a_revoked_user_grant_into_a_permanent_connection_error(microsoft):
    adapter = MicrosoftCalendar(user_connection(microsoft))
    adapter.free_busy([ALICE], WINDOW)  # holds a live access token from here
    microsoft.add_fault(kind="revoke", target=ORGANISER)

    with pytest.raises(ProviderError) as caught:
        adapter.free_busy([ALICE], WINDOW)

    error = caught.value
    assert (error.permanent, error.scope, error.reason) == (True, "connection", "invalid_grant")
    assert "AADSTS50173" in error.message and "revoked" in error.message
    assert [r["status"] for r in schedule_calls(microsoft)] == [200, 401]  # Graph refused, the refresh said why


@pytest.mark.parametrize(("state", "code"), [("expired", "AADSTS700082"), ("consent_withdrawn", "AADSTS65001")])
def test_it_names_the_aadsts_code_of_a_dead_refresh_token(microsoft, state, code):
    microsoft.seed({"refresh_tokens": [{"token": "rt-dead", "client_id": CLIENT_ID, "user": ORGANISER,
                                        "state": state}]})

    with pytest.raises(ProviderError) as caught:
        MicrosoftCalendar(user_connection(microsoft, "rt-dead")).free_busy([ALICE], WINDOW)

    assert (caught.value.permanent, caught.value.scope) == (True, "connection") and code in caught.value.message
    assert schedule_calls(microsoft) == []


def test_it_turns_withdrawn_admin_consent_into_a_connection_error(microsoft):
    microsoft.add_fault(kind="revoke")

    check = MicrosoftCalendar(app_connection(microsoft)).check()

    assert not check.ok and "invalid_grant" in check.message and "AADSTS65001" in check.message


def test_it_turns_a_wrong_client_secret_into_a_permanent_connection_error(microsoft, waits):
    connection = app_connection(microsoft)
    connection.credentials = {**connection.credentials, "client_secret": "wrong"}

    with pytest.raises(ProviderError) as caught:
        MicrosoftCalendar(connection).free_busy([ALICE], WINDOW)

    assert (caught.value.permanent, caught.value.scope, caught.value.reason) == (True, "connection",
                                                                                "invalid_client")
    assert "AADSTS7000215" in caught.value.message and waits == []


def test_it_acquires_a_new_token_once_after_a_graph_401(microsoft, waits):
    adapter = MicrosoftCalendar(app_connection(microsoft))
    adapter.free_busy([ALICE], WINDOW)
    microsoft.add_fault(kind="expire_token", count=1)

    result = adapter.free_busy([ALICE], WINDOW)

    assert result.busy == {ALICE: []} and waits == []
    assert len(token_calls(microsoft)) == 2
    assert [r["status"] for r in schedule_calls(microsoft)] == [200, 401, 200]


def test_it_reuses_the_cached_app_token(microsoft):
    adapter = MicrosoftCalendar(app_connection(microsoft))

    adapter.free_busy([ALICE], WINDOW)
    adapter.free_busy([BOB], WINDOW)

    assert len(token_calls(microsoft)) == 1


def test_it_retries_a_token_endpoint_outage_past_msals_replay_cache(microsoft, waits):
    microsoft.add_fault(kind="error", target="/" + TENANT + "/oauth2/v2.0/token", count=1, status=503)

    result = MicrosoftCalendar(app_connection(microsoft)).free_busy([ALICE], WINDOW)

    assert result.busy == {ALICE: []} and len(waits) == 1
    assert [r["status"] for r in token_calls(microsoft)] == [503, 200]


def test_it_refuses_a_login_host_it_cannot_verify(microsoft):
    connection = app_connection(microsoft)
    connection.credentials = {k: v for k, v in connection.credentials.items() if k != "ca_bundle"}  # certifi only

    with pytest.raises(ProviderError) as caught:
        MicrosoftCalendar(connection).free_busy([ALICE], WINDOW)

    assert (caught.value.permanent, caught.value.scope, caught.value.reason) == (True, "connection", "tls")


def test_it_keeps_the_rotated_refresh_token_of_a_saved_connection(microsoft, db):
    connection = user_connection(microsoft)
    connection.save()

    MicrosoftCalendar(connection).free_busy([ALICE], WINDOW)

    connection.refresh_from_db()
    assert connection.credentials["refresh_token"] != "rt-interviews"
    MicrosoftCalendar(connection).free_busy([ALICE], WINDOW)  # the new one works
    assert [r["status"] for r in token_calls(microsoft)] == [200, 200]


# ---- throttling --------------------------------------------------------------------------------------------------

def test_it_waits_as_long_as_graph_asks_when_throttled(microsoft, waits):
    microsoft.add_fault(kind="throttle", target="/v1.0/users/", count=1, status=429, retry_after=7)

    result = MicrosoftCalendar(app_connection(microsoft)).free_busy([ALICE], WINDOW)

    assert result.busy == {ALICE: []} and waits == [7]
    assert [r["status"] for r in schedule_calls(microsoft)] == [429, 200]


@pytest.mark.parametrize("status", [503, 504])
def test_it_retries_unavailable_and_gateway_timeouts_without_turning_anything_red(microsoft, waits, status):
    microsoft.add_fault(kind="error", target="/v1.0/users/", count=2, status=status)

    result = MicrosoftCalendar(app_connection(microsoft)).free_busy([ALICE], WINDOW)

    assert result.busy == {ALICE: []} and result.errors == {} and len(waits) == 2


def test_it_gives_up_on_a_lasting_outage_with_a_transient_error(microsoft, waits):
    microsoft.add_fault(kind="error", target="/v1.0/users/", status=503)

    with pytest.raises(ProviderError) as caught:
        MicrosoftCalendar(app_connection(microsoft)).free_busy([ALICE], WINDOW)

    assert not caught.value.permanent and caught.value.status == 503 and len(waits) == 3


# ---- events ------------------------------------------------------------------------------------------------------

def test_it_writes_the_event_with_our_key_a_transaction_id_and_the_attendees(microsoft):
    ref = MicrosoftCalendar(app_connection(microsoft)).upsert_event(session("b1:s1:r1", 10))

    (event,) = live(microsoft, ORGANISER)
    assert event["_immutable_id"] == ref.event_id and ref.ical_uid
    assert event["transactionId"] == transaction_id_for("b1:s1:r1")
    assert [(p["id"], p["value"]) for p in event["singleValueExtendedProperties"]] == [(KEY_PROPERTY_ID, "b1:s1:r1")]
    assert [(a["emailAddress"]["address"], a["type"]) for a in event["attendees"]] == [(ALICE, "required"),
                                                                                      (ROOM, "resource")]
    assert len(live(microsoft, ALICE)) == 1 and len(live(microsoft, ROOM)) == 1


def test_it_leaves_one_event_when_a_create_times_out_after_graph_applied_it(microsoft):
    microsoft.add_fault(kind="timeout", target=CREATE_PATH, count=1, delay_ms=1500)
    adapter = MicrosoftCalendar(app_connection(microsoft), timeout=0.5)
    seen_at_retry: list[int] = []

    with clock.use_sleeper(lambda s: seen_at_retry.append(len(live(microsoft, ORGANISER)))):
        ref = adapter.upsert_event(session("b1:s1:r1", 10))

    assert seen_at_retry == [1]  # the timed-out create was in Graph's state before the retry
    (event,) = live(microsoft, ORGANISER)
    assert event["_immutable_id"] == ref.event_id and len(live(microsoft, ALICE)) == 1
    assert len(calls(microsoft, "POST", CREATE_PATH)) == 1  # the retry found it by our key: no second create
    assert len(calls(microsoft, "GET", f"/v1.0/users/{ORGANISER}/events")) == 2


def test_it_leaves_one_event_when_graph_ignores_the_transaction_id(microsoft, waits):
    microsoft.add_fault(kind="ignore_transaction_id")
    microsoft.add_fault(kind="timeout", target=CREATE_PATH, count=1, delay_ms=1500)
    adapter = MicrosoftCalendar(app_connection(microsoft), timeout=0.5)

    first = adapter.upsert_event(session("b1:s1:r1", 10))
    again = adapter.upsert_event(session("b1:s1:r1", 10))

    assert [e["_immutable_id"] for e in live(microsoft, ORGANISER)] == [first.event_id] == [again.event_id]
    assert len(live(microsoft, ALICE)) == 1
    assert len(calls(microsoft, "POST", CREATE_PATH)) == 1 and len(calls(microsoft, "PATCH")) == 1


def test_it_shares_one_teams_meeting_between_the_sessions_of_a_loop(microsoft):
    adapter = MicrosoftCalendar(app_connection(microsoft))

    first = adapter.upsert_event(session("b1:s1:r1", 10, Conference(request_id="lw-1-1")))
    shared = Conference(join_url=first.conference.join_url, conference_id=first.conference.conference_id,
                        raw=first.conference.raw)
    second = adapter.upsert_event(session("b1:s2:r1", 11, shared))
    third = adapter.upsert_event(session("b1:s3:r1", 12, shared, attendees=(Attendee(BOB),)))

    assert first.join_url.startswith("https://") and second.join_url == third.join_url == first.join_url
    events = {e["_immutable_id"]: e for e in live(microsoft, ORGANISER)}
    assert events[first.event_id]["isOnlineMeeting"] is True
    assert events[first.event_id]["onlineMeeting"]["joinUrl"] == first.join_url
    for ref in (second, third):
        assert not events[ref.event_id].get("isOnlineMeeting")
        assert first.join_url in events[ref.event_id]["body"]["content"]
    assert events[third.event_id]["location"]["locationUri"] == first.join_url


def test_it_fails_the_write_when_teams_gives_no_join_link(microsoft):
    microsoft.seed({"users": [{"email": ORGANISER, "teams": False}]})

    with pytest.raises(ProviderError) as caught:
        MicrosoftCalendar(app_connection(microsoft)).upsert_event(session("b1:s1:r1", 10,
                                                                          Conference(request_id="lw-1-1")))

    assert caught.value.permanent and caught.value.reason == "teamsUnavailable"


def test_it_keeps_the_teams_meeting_when_the_first_session_is_updated(microsoft):
    adapter = MicrosoftCalendar(app_connection(microsoft))
    first = adapter.upsert_event(session("b1:s1:r1", 10, Conference(request_id="lw-1-1")))

    moved = adapter.upsert_event(session("b1:s1:r1", 13, Conference(request_id="lw-1-1")))

    assert moved.event_id == first.event_id and moved.join_url == first.join_url
    (event,) = live(microsoft, ORGANISER)
    assert event["isOnlineMeeting"] is True and event["start"]["dateTime"].startswith("2026-12-01T13:00:00")


def test_it_blames_a_mailbox_it_cannot_write_to(microsoft):
    microsoft.seed({"users": [{"email": CAROL, "deleted": True}]})

    with pytest.raises(ProviderError) as caught:
        MicrosoftCalendar(app_connection(microsoft)).upsert_event(session("b1:s1:r1", 10, calendar_id=CAROL))

    assert (caught.value.permanent, caught.value.scope, caught.value.calendar_id) == (True, "calendar", CAROL)


def test_it_books_through_a_delegated_grant(microsoft):
    adapter = MicrosoftCalendar(user_connection(microsoft))

    ref = adapter.upsert_event(session("b1:s1:r1", 10))

    assert adapter.find_event(ORGANISER, "b1:s1:r1").event_id == ref.event_id
    assert adapter.check().ok
