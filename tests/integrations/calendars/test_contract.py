"""Behaviour every calendar provider shows, through the real client libraries against the provider's fake.

Parametrised over providers: each has a harness fixture (`<provider>_harness`) that starts its fake, seeds an
organiser mailbox, people and a room, and builds an unsaved CalendarConnection pointing at the fake: Google with a
user grant, Microsoft with an app-only (client credentials) connection whose msal trusts the fake's test CA.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from integrations.calendars.base import Attendee, CalendarProvider, EventSpec, ProviderError, Window
from integrations.calendars.google import GoogleCalendar
from integrations.calendars.microsoft import MicrosoftCalendar
from integrations.models import CalendarConnection

PROVIDERS = ["google", "microsoft"]
DAY = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
WINDOW = Window(DAY + dt.timedelta(hours=7), DAY + dt.timedelta(hours=19))


def at(hour: float) -> dt.datetime:
    return DAY + dt.timedelta(hours=hour)


@dataclass
class Harness:
    """One provider's fake, seeded, and an adapter factory for a connection pointing at it."""

    provider: type[CalendarProvider]
    fake: Any
    connection: CalendarConnection
    organiser: str
    people: list[str]
    room: str
    missing_calendar: str                                       # an id the provider does not know
    revoked_words: str                                          # what the provider says about a revoked grant
    add_people: Callable[[int], list[str]]                      # seeds N more people, returns their ids
    seed_busy: Callable[[str, list[tuple[dt.datetime, dt.datetime]]], None]
    free_busy_requests: Callable[[], int]                       # free/busy calls the fake received
    live_events: Callable[[str], list[dict]]                    # not-cancelled events on a calendar: id, title
    revoke: Callable[[], None]                                  # the connection's grant is revoked
    kwargs: dict = field(default_factory=dict)

    def adapter(self, **kwargs) -> CalendarProvider:
        return self.provider(self.connection, **{**self.kwargs, **kwargs})


@pytest.fixture
def google_harness(google_fake) -> Harness:
    domain = "acme.test"
    organiser = f"interviews@{domain}"
    people = [f"alice@{domain}", f"bob@{domain}"]
    room = f"room-oslo@{domain}"
    google_fake.seed({
        "users": [{"email": organiser, "name": "Interviews"}] + [{"email": p} for p in people],
        "rooms": [{"email": room, "name": "Oslo"}],
        "oauth_clients": [{"client_id": "loopwise-test", "client_secret": "s3cret"}],
        "refresh_tokens": [{"token": "rt-interviews", "client_id": "loopwise-test", "user": organiser}],
    })
    connection = CalendarConnection(
        name="Acme Google", provider="google", auth_mode="user_oauth", base_url=google_fake.url,
        token_url=google_fake.url + "/token", organiser_calendar=organiser, account_email=organiser,
        credentials={"client_id": "loopwise-test", "client_secret": "s3cret", "refresh_token": "rt-interviews"})
    counter = iter(range(10_000))

    def add_people(n: int) -> list[str]:
        emails = [f"person{next(counter):04d}@{domain}" for _ in range(n)]
        google_fake.seed({"users": [{"email": e} for e in emails]})
        return emails

    def seed_busy(calendar_id, blocks):
        google_fake.seed({"busy": {calendar_id: [[a.isoformat(), b.isoformat()] for a, b in blocks]}})

    def live_events(calendar_id):
        events = google_fake.state()["calendars"][calendar_id]["events"]
        return [{"id": e["id"], "title": e.get("summary", "")} for e in events if e["status"] != "cancelled"]

    return Harness(
        provider=GoogleCalendar, fake=google_fake, connection=connection, organiser=organiser, people=people,
        room=room, missing_calendar=f"nobody@{domain}", revoked_words="invalid_grant", add_people=add_people,
        seed_busy=seed_busy,
        free_busy_requests=lambda: sum(1 for r in google_fake.requests() if r["path"] == "/calendar/v3/freeBusy"),
        live_events=live_events,
        revoke=lambda: google_fake.add_fault(kind="revoke", target=organiser))


@pytest.fixture
def microsoft_harness(microsoft_fake) -> Harness:
    domain, tenant = "contoso.test", "contoso-tenant"
    organiser = f"interviews@{domain}"
    people = [f"alice@{domain}", f"bob@{domain}"]
    room = f"room-oslo@{domain}"
    microsoft_fake.seed({
        "tenant": tenant,
        "users": [{"email": organiser, "name": "Interviews"}] + [{"email": p} for p in people],
        "rooms": [{"email": room, "name": "Oslo"}],
        "apps": [{"client_id": "loopwise-test", "client_secret": "s3cret", "app_only": True}],
    })
    connection = CalendarConnection(
        name="Contoso Microsoft", provider="microsoft", auth_mode="application", base_url=microsoft_fake.url,
        token_url=microsoft_fake.login_url, organiser_calendar=organiser, account_email=organiser,
        credentials={"tenant": tenant, "client_id": "loopwise-test", "client_secret": "s3cret",
                     "ca_bundle": microsoft_fake.ca_pem_path})
    counter = iter(range(10_000))

    def add_people(n: int) -> list[str]:
        emails = [f"person{next(counter):04d}@{domain}" for _ in range(n)]
        microsoft_fake.seed({"users": [{"email": e} for e in emails]})
        return emails

    def seed_busy(calendar_id, blocks):
        microsoft_fake.seed({"busy": {calendar_id: [[a.isoformat(), b.isoformat()] for a, b in blocks]}})

    def live_events(calendar_id):
        # the adapter asks for immutable ids (Prefer: IdType="ImmutableId"); the state keeps both
        return [{"id": e["_immutable_id"], "title": e.get("subject", "")}
                for e in ms_events(microsoft_fake, calendar_id) if not e.get("isCancelled")]

    return Harness(
        provider=MicrosoftCalendar, fake=microsoft_fake, connection=connection, organiser=organiser, people=people,
        room=room, missing_calendar=f"nobody@{domain}", revoked_words="invalid_grant", add_people=add_people,
        seed_busy=seed_busy,
        free_busy_requests=lambda: sum(1 for r in microsoft_fake.requests() if r["path"].endswith("/getSchedule")),
        live_events=live_events,
        revoke=lambda: microsoft_fake.add_fault(kind="revoke"))


def ms_events(fake, calendar_id: str) -> list[dict]:
    """Events in one mailbox of the microsoft fake's state."""
    return fake.state()["mailboxes"][calendar_id]["events"]


@pytest.fixture(params=PROVIDERS)
def harness(request) -> Harness:
    return request.getfixturevalue(f"{request.param}_harness")


def spec_for(h: Harness, key: str = "booking-1:session-1:r1", **changes) -> EventSpec:
    values = {"key": key, "calendar_id": h.organiser, "title": "Interview: system design", "start": at(10),
              "end": at(11), "timezone": "Europe/London", "description": "Panel interview",
              "attendees": (Attendee(h.people[0], "Alice"), Attendee(h.room, "Oslo", is_room=True))}
    return EventSpec(**{**values, **changes})


# ---- free/busy ---------------------------------------------------------------------------------------------------

def test_it_reads_busy_blocks_merged_sorted_and_in_utc(harness):
    alice, bob = harness.people
    oslo = dt.timezone(dt.timedelta(hours=1))
    harness.seed_busy(alice, [(at(14), at(15)), (at(9), at(10)), (at(9.5), at(10.5))])
    harness.seed_busy(harness.room, [(dt.datetime(2026, 12, 1, 13, tzinfo=oslo), dt.datetime(2026, 12, 1, 14,
                                                                                               tzinfo=oslo))])

    result = harness.adapter().free_busy([alice, bob, harness.room], WINDOW)

    assert result.errors == {}
    assert [(b.start, b.end) for b in result.busy[alice]] == [(at(9), at(10.5)), (at(14), at(15))]
    assert all(b.start.utcoffset() == dt.timedelta(0) for b in result.busy[alice])
    assert result.busy[bob] == []
    assert [(b.start, b.end) for b in result.busy[harness.room]] == [(at(12), at(13))]


@pytest.mark.parametrize("extra", [0, 1])
def test_it_batches_free_busy_to_the_providers_limit(harness, extra):
    limit = harness.provider.max_calendars_per_request
    calendars = harness.add_people(limit + extra)
    harness.seed_busy(calendars[-1], [(at(9), at(10))])

    result = harness.adapter().free_busy(calendars, WINDOW)

    assert set(result.busy) == set(calendars) and result.errors == {}
    assert [(b.start, b.end) for b in result.busy[calendars[-1]]] == [(at(9), at(10))]
    assert harness.free_busy_requests() == result.requests_made == 1 + extra


def test_it_reports_a_calendar_it_cannot_read_without_failing_the_others(harness):
    alice, bob = harness.people
    harness.seed_busy(bob, [(at(9), at(10))])

    result = harness.adapter().free_busy([alice, harness.missing_calendar, bob], WINDOW)

    assert set(result.errors) == {harness.missing_calendar}
    assert result.errors[harness.missing_calendar].reason
    assert harness.missing_calendar not in result.busy
    assert result.busy[alice] == [] and len(result.busy[bob]) == 1


def test_it_raises_a_permanent_connection_error_when_the_grant_is_revoked(harness):
    harness.revoke()

    with pytest.raises(ProviderError) as caught:
        harness.adapter().free_busy(harness.people, WINDOW)

    assert caught.value.permanent and caught.value.scope == "connection"
    assert harness.revoked_words in caught.value.message


# ---- events ------------------------------------------------------------------------------------------------------

def test_it_writes_one_event_per_key_however_often_it_is_upserted(harness):
    adapter = harness.adapter()

    first = adapter.upsert_event(spec_for(harness))
    second = adapter.upsert_event(spec_for(harness, title="Interview: system design (moved)", start=at(12),
                                           end=at(13)))

    assert second.event_id == first.event_id and second.calendar_id == harness.organiser
    assert harness.live_events(harness.organiser) == [{"id": first.event_id,
                                                        "title": "Interview: system design (moved)"}]


def test_it_gives_each_attendee_exactly_one_copy(harness):
    adapter = harness.adapter()
    adapter.upsert_event(spec_for(harness))
    adapter.upsert_event(spec_for(harness, description="Bring a laptop"))

    assert len(harness.live_events(harness.people[0])) == 1
    assert len(harness.live_events(harness.room)) == 1
    assert harness.live_events(harness.people[1]) == []


def test_it_keeps_events_of_different_keys_apart(harness):
    adapter = harness.adapter()

    one = adapter.upsert_event(spec_for(harness, key="booking-1:session-1:r1"))
    two = adapter.upsert_event(spec_for(harness, key="booking-1:session-2:r1", start=at(11), end=at(12)))

    assert one.event_id != two.event_id
    assert len(harness.live_events(harness.organiser)) == 2


def test_it_finds_an_event_by_its_key(harness):
    adapter = harness.adapter()
    written = adapter.upsert_event(spec_for(harness))

    found = adapter.find_event(harness.organiser, "booking-1:session-1:r1")

    assert found is not None and found.event_id == written.event_id and not found.cancelled
    assert found.ical_uid == written.ical_uid != ""
    assert adapter.find_event(harness.organiser, "booking-1:session-9:r1") is None


def test_it_deletes_an_event_and_deleting_it_again_is_not_an_error(harness):
    adapter = harness.adapter()
    adapter.upsert_event(spec_for(harness))

    adapter.delete_event(harness.organiser, "booking-1:session-1:r1")
    adapter.delete_event(harness.organiser, "booking-1:session-1:r1")
    adapter.delete_event(harness.organiser, "never-written:session-1:r1")

    assert harness.live_events(harness.organiser) == []
    assert harness.live_events(harness.people[0]) == []
    found = adapter.find_event(harness.organiser, "booking-1:session-1:r1")
    assert found is None or found.cancelled


# ---- health ------------------------------------------------------------------------------------------------------

def test_it_passes_the_check_of_a_working_connection(harness):
    check = harness.adapter().check()

    assert check.ok, check.message


def test_it_fails_the_check_in_the_providers_words_once_the_grant_is_revoked(harness):
    harness.revoke()

    check = harness.adapter().check()

    assert not check.ok
    assert harness.revoked_words in check.message
