"""The calendar provider interface, shared by Google Workspace and Microsoft 365.

An adapter reads free/busy for many calendars over a window, creates, updates, finds and deletes
events, and checks its connection. It speaks only the dataclasses below, never ORM rows or
provider JSON, so the services above it (the free/busy cache, booking, health) are the same for
every provider.

Errors are classified once, here in the adapter (style.md section 8):
- `ProviderError(permanent=True, scope="connection")`: the connection's own credentials are
  broken (a revoked grant, `invalid_grant`, `unauthorized_client`, a deleted key). The
  connection turns red.
- `scope="calendar"`: one calendar failed (not found, no access, one delegated user's token).
  For free/busy this never raises: the calendar comes back in `FreeBusyResult.errors`.
- `permanent=False`: throttling, 5xx, timeouts. Retried in `integrations.http.call_with_retries`
  through the shared sleeper; never turns anything red by itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from django.utils.module_loading import import_string

from integrations.errors import ProviderError

__all__ = ["Window", "BusyBlock", "CalendarError", "FreeBusyResult", "Attendee", "Conference", "EventSpec",
           "EventRef", "ConnectionCheck", "ProviderError", "CalendarProvider", "PROVIDERS", "provider_for"]


@dataclass(frozen=True, slots=True)
class Window:
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True, slots=True)
class BusyBlock:
    """A busy interval [start, end), aware, in UTC."""

    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True, slots=True)
class CalendarError:
    """Why one calendar could not be read (availability unknown, never free)."""

    reason: str          # the provider's own reason, e.g. "notFound", "ErrorMailboxNotFound"
    message: str
    permanent: bool = True


@dataclass(frozen=True)
class FreeBusyResult:
    busy: dict[str, list[BusyBlock]] = field(default_factory=dict)       # calendar id -> merged, sorted
    errors: dict[str, CalendarError] = field(default_factory=dict)       # calendar id -> why unknown
    requests_made: int = 0


@dataclass(frozen=True, slots=True)
class Attendee:
    email: str
    name: str = ""
    is_room: bool = False
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Conference:
    """A video meeting: `request_id` asks the provider to create one; `join_url` and `conference_id`
    reuse one created earlier (one meeting per loop, reused by every session)."""

    request_id: str = ""
    join_url: str = ""
    conference_id: str = ""
    raw: dict | None = None  # provider data needed to attach the same meeting to another event


@dataclass(frozen=True)
class EventSpec:
    """One event to write on the organiser calendar. `key` (booking, session, revision) makes a
    retried write land on the same event; the adapter derives its provider id from it."""

    key: str
    calendar_id: str
    title: str
    start: dt.datetime
    end: dt.datetime
    timezone: str = "UTC"
    description: str = ""
    location: str = ""
    attendees: tuple[Attendee, ...] = ()
    conference: Conference | None = None


@dataclass(frozen=True, slots=True)
class EventRef:
    event_id: str
    calendar_id: str
    ical_uid: str = ""
    join_url: str = ""
    conference: Conference | None = None
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    ok: bool
    message: str


class CalendarProvider:
    """Reads free/busy and writes events for one CalendarConnection."""

    kind: ClassVar[str]
    max_calendars_per_request: ClassVar[int]

    def __init__(self, connection, *, base_url: str | None = None, token_url: str | None = None):
        """`connection` is an integrations.models.CalendarConnection (credentials decrypted on access).
        Base and token URLs default to the connection's own, then to the real service."""
        self.connection = connection
        self.base_url = base_url or connection.base_url or ""
        self.token_url = token_url or connection.token_url or ""

    def free_busy(self, calendar_ids: Sequence[str], window: Window) -> FreeBusyResult:
        """Busy blocks of every calendar in `calendar_ids`, batched to `max_calendars_per_request`.
        A calendar that fails alone is in `errors`; raises ProviderError only for the connection."""
        raise NotImplementedError

    def upsert_event(self, spec: EventSpec) -> EventRef:
        """Create the event for `spec.key`, or update it if it exists; a retry never makes a second one."""
        raise NotImplementedError

    def find_event(self, calendar_id: str, key: str) -> EventRef | None:
        """The event written for `key`, or None (a cancelled one comes back with `cancelled=True`)."""
        raise NotImplementedError

    def delete_event(self, calendar_id: str, key: str) -> None:
        """Cancel the event written for `key`; deleting one that is gone already is not an error."""
        raise NotImplementedError

    def check(self) -> ConnectionCheck:
        """Whether the connection's own credentials work (a token can be had, one read succeeds)."""
        raise NotImplementedError


PROVIDERS: dict[str, str] = {
    "google": "integrations.calendars.google.GoogleCalendar",
    "microsoft": "integrations.calendars.microsoft.MicrosoftCalendar",
}


def provider_for(connection, **kwargs) -> CalendarProvider:
    """The adapter for `connection.provider`, imported on first use."""
    return import_string(PROVIDERS[connection.provider])(connection, **kwargs)
