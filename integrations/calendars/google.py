"""Google Workspace calendars through google-api-python-client and google-auth.

`GoogleCalendar` implements `integrations.calendars.base.CalendarProvider` for one
`CalendarConnection`. Provider facts are in /work/shared/contracts/calendars.md: section 0 (the
traps of pointing the libraries at a local server) and section 1 (Calendar API v3); the numbers
below (§0 #8, §1.4...) point there.

Auth (§1.6, §1.7)
- `user_oauth`: `credentials = {"client_id", "client_secret", "refresh_token"}`; client id and secret
  fall back to `settings.CALENDAR_OAUTH["google"]`. The credentials object is built directly, never
  with `from_authorized_user_info`, which always resets `token_uri` to Google's (§0 #10).
- `service_account`: `credentials = {"service_account_info": {...}}` (or the key JSON itself, with
  `"type": "service_account"`), `token_uri` replaced by the connection's token URL when it has one.
  Domain-wide delegation: every call is made as ONE delegated subject, the connection's
  `organiser_calendar`. Free/busy of people and rooms goes through the organiser's token too: room
  calendars cannot be impersonated, and a deleted or suspended user then comes back as `notFound`
  inside the 200 (one calendar red), whereas impersonating each owner would turn their token failure
  into `invalid_grant` for a user we cannot tell apart from a broken connection. A token failure for
  the organiser itself is the connection's failure.
- Scopes: `calendar.events` (insert, patch, get, list, delete) and `calendar.events.freebusy`
  (free/busy of the calendars the user can see). `calendar.events` alone is not accepted by
  freeBusy (§1.2). `calendar.events.owned` would be narrower, but the organiser calendar is often a
  shared scheduling calendar the granting user can write to without owning it. `check()` therefore
  reads free/busy, not `calendarList`, which needs `calendar.readonly` or `calendar.calendarlist`.

Transport
- `discovery.build(..., static_discovery=True)` makes no discovery request; with a base URL,
  `client_options={"api_endpoint": base + "/calendar/v3/"}` replaces rootUrl and servicePath (§0 #8).
- Timeouts: an `AuthorizedHttp` over `httplib2.Http(timeout=...)` (`http=` and `credentials=` cannot be
  passed together). The token endpoint goes through the same Http, so it has the same timeout.
- Never batched: `new_batch_http_request()` ignores `api_endpoint` (§0 #9).
- Every call runs `execute(num_retries=0)` inside `integrations.http.call_with_retries`: the library's
  own retries ignore `Retry-After` and sleep for real (§0 #14, §1.8); ours honour it through the shared
  sleeper. google-auth still retries the token endpoint on 5xx with its own real sleeps (§0 #12).
- An adapter instance holds httplib2 connections and is not thread-safe: one per task or request.

Errors (`classify`, the one place): a refresh failure (`invalid_grant`, `unauthorized_client`,
`invalid_client`) is permanent for the connection; 429, 403 `rateLimitExceeded`/`userRateLimitExceeded`,
5xx, timeouts and connection errors are transient, with `Retry-After` when given; 403
`forbiddenForServiceAccounts` and `insufficientPermissions` (scopes not granted) are the connection's;
404, and any other 403 (`requiredAccessLevel`: no writer access), on a calendar are that calendar's;
403 `quotaExceeded` and `forbiddenForNonOrganizer`, and other 4xx, are permanent for the request alone.

Free/busy (§1.2): at most 50 ids per `freebusy.query`; response keys matched case-insensitively; a
per-calendar `errors` list, a missing entry or a missing `busy` list is a `CalendarError`, never
"free". Busy intervals come back aware, in UTC, merged and sorted; they are not clipped to the window.

Events (§1.3 to §1.5): one event per `EventSpec` on `spec.calendar_id`, with the id
`event_id_for(spec.key)` (hex of sha256 behind a prefix: base32hex, 40 characters) and
`extendedProperties.private.loopwise_key = spec.key`. `upsert_event` inserts; before retrying a failed
insert it gets the id (Google may not detect a duplicate id at creation, §1.4), and on a 409 it gets it
too; an id that exists is patched to the spec. So a create that timed out after Google applied it ends
as exactly one event, and an update is insert, 409, get, patch. A cancelled event (or another key's)
under our id is a permanent error: keys carry the revision, so it means a caller reused a key.
httplib2 itself re-sends a request once when the connection drops before an answer (its
stale-connection path); the same 409 or look-up makes that safe for inserts. Meet: `conference.raw` (the
conferenceData of the loop's first event) attaches the same meeting; else `request_id` asks for a
new one through `createRequest`; a `pending` conference is polled a few times through the sleeper,
then reported as a transient error (a retried upsert lands on the same event). `find_event` gets the
derived id, then falls back to the private extended property. `delete_event` treats 404 and 410 as
already gone.

Departures from the brief: `check()` reads free/busy of the organiser for both auth modes (scopes,
above); the documented `"lw"` id prefix is not base32hex (`w` is outside a-v), so ids start `lo`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import ssl
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import google.auth.exceptions
import google.oauth2.credentials
import google_auth_httplib2
import httplib2
from django.conf import settings
from google.oauth2 import service_account
from googleapiclient import discovery
from googleapiclient.errors import HttpError

from integrations.calendars.base import (
    BusyBlock,
    CalendarError,
    CalendarProvider,
    Conference,
    ConnectionCheck,
    EventRef,
    EventSpec,
    FreeBusyResult,
    Window,
)
from integrations.errors import ProviderError
from integrations.http import DEFAULT_TIMEOUT, call_with_retries
from scheduling import clock

__all__ = ["GoogleCalendar", "SCOPES", "KEY_PROPERTY", "event_id_for", "classify"]

SCOPES = ("https://www.googleapis.com/auth/calendar.events",
          "https://www.googleapis.com/auth/calendar.events.freebusy")
KEY_PROPERTY = "loopwise_key"            # extendedProperties.private key holding EventSpec.key
EVENT_ID_PREFIX = "lo"                   # base32hex: a-v and 0-9 only (§1.4)
TRANSIENT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "backendError", "internalError"}
CONNECTION_REASONS = {"forbiddenForServiceAccounts", "insufficientPermissions", "authError"}
REQUEST_REASONS = {"quotaExceeded", "forbiddenForNonOrganizer"}  # 403s that condemn only the call
TOKEN_CONNECTION_ERRORS = {"invalid_grant", "unauthorized_client", "invalid_client", "access_denied"}
TRANSIENT_CALENDAR_REASONS = {"internalError", "backendError"}
CONFERENCE_POLLS = 4                     # events.get after a `pending` conference, waits 1, 2, 4, 8 s


def event_id_for(key: str) -> str:
    """The Google event id for our key: deterministic, base32hex, 40 characters (§1.4)."""
    return EVENT_ID_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:38]


# ---- errors ---------------------------------------------------------------------------------------------------

def _error_body(e: HttpError) -> tuple[str, str]:
    """(errors[0].reason, error.message) from Google's canonical error body, tolerating others."""
    try:
        data = json.loads(e.content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return "", (e.content[:200].decode("utf-8", "replace") if e.content else "")
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return "", str(error or "")
    errors = error.get("errors")
    reason = ""
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        reason = str(errors[0].get("reason") or "")
    return reason or str(error.get("status") or ""), str(error.get("message") or "")


def _retry_after(e: HttpError) -> float | None:
    value = e.resp.get("retry-after") if e.resp is not None else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:  # an HTTP date: rare from Google; fall back to our own backoff
        return None


def classify(exc: BaseException, *, calendar_id: str = "", auth_mode: str = "user_oauth") -> ProviderError:
    """The one place a Google or transport failure becomes a ProviderError (see the module docstring)."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, google.auth.exceptions.RefreshError):
        body = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        error = str(body.get("error") or str(exc.args[0] if exc.args else "").split(":", 1)[0]).strip()
        message = str(exc.args[0]) if exc.args else str(exc)
        who = "service account" if auth_mode == "service_account" else "user grant"
        if getattr(exc, "retryable", False) and error not in TOKEN_CONNECTION_ERRORS:
            return ProviderError(f"Google token endpoint: {message}", permanent=False, scope="connection",
                                 reason=error or "token_error")
        return ProviderError(f"Google refused the {who}: {message}", permanent=True, scope="connection",
                             reason=error or "refresh_error")
    if isinstance(exc, google.auth.exceptions.TransportError):
        return ProviderError(f"Google token endpoint unreachable: {exc}", permanent=False, scope="connection",
                             reason="transport")
    if isinstance(exc, google.auth.exceptions.GoogleAuthError):  # e.g. MalformedError: a key that does not parse
        return ProviderError(f"Google credentials unusable: {exc}", permanent=True, scope="connection",
                             reason="bad_credentials")
    if isinstance(exc, HttpError):
        status = int(exc.resp.status)
        reason, message = _error_body(exc)
        text = f"Google {status} {reason}: {message}".rstrip(": ")
        if status == 429 or status >= 500 or (status == 403 and reason in TRANSIENT_REASONS):
            return ProviderError(text, permanent=False, scope="request", retry_after=_retry_after(exc),
                                 status=status, reason=reason)
        if status == 401 or (status == 403 and reason in CONNECTION_REASONS):
            return ProviderError(text, permanent=True, scope="connection", status=status, reason=reason)
        if calendar_id and (status == 404 or (status == 403 and reason not in REQUEST_REASONS)):
            # Not found, or no writer access (requiredAccessLevel): that calendar is the problem.
            return ProviderError(text, permanent=True, scope="calendar", calendar_id=calendar_id, status=status,
                                 reason=reason or "notFound")
        return ProviderError(text, permanent=True, scope="request", calendar_id=calendar_id, status=status,
                             reason=reason)
    if isinstance(exc, TimeoutError):
        return ProviderError(f"Google did not answer in time: {exc or 'timed out'}", permanent=False,
                             scope="request", reason="timeout")
    if isinstance(exc, ConnectionError | ssl.SSLError | httplib2.HttpLib2Error | OSError):
        return ProviderError(f"Google unreachable: {type(exc).__name__}: {exc}", permanent=False, scope="request",
                             reason="connection")
    raise exc


# ---- parsing --------------------------------------------------------------------------------------------------

def _parse_instant(value: str) -> dt.datetime:
    instant = dt.datetime.fromisoformat(value)
    if instant.tzinfo is None:  # freeBusy answers in the request's timeZone (UTC), always with an offset
        instant = instant.replace(tzinfo=dt.UTC)
    return instant.astimezone(dt.UTC)


def _merge(blocks: Iterable[BusyBlock]) -> list[BusyBlock]:
    merged: list[BusyBlock] = []
    for block in sorted(blocks, key=lambda b: (b.start, b.end)):
        if block.end <= block.start:
            continue
        if merged and block.start <= merged[-1].end:
            if block.end > merged[-1].end:
                merged[-1] = BusyBlock(merged[-1].start, block.end)
        else:
            merged.append(block)
    return merged


def _rfc3339(instant: dt.datetime) -> str:
    if instant.tzinfo is None:
        raise ValueError("free/busy windows and event times must be aware datetimes")
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _calendar_error(entry: Any) -> CalendarError | None:
    if not isinstance(entry, dict):
        return CalendarError("missing", "Google returned no entry for this calendar")
    errors = entry.get("errors") or []
    if errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        reason = str(first.get("reason") or "unknown")
        message = str(first.get("message") or f"{first.get('domain', 'global')}: {reason}")
        return CalendarError(reason, message, permanent=reason not in TRANSIENT_CALENDAR_REASONS)
    if not isinstance(entry.get("busy"), list):
        return CalendarError("missing", "Google returned no busy list for this calendar")
    return None


def _join_url(event: dict) -> str:
    if event.get("hangoutLink"):
        return str(event["hangoutLink"])
    for point in (event.get("conferenceData") or {}).get("entryPoints") or []:
        if point.get("entryPointType") == "video" and point.get("uri"):
            return str(point["uri"])
    return ""


def _conference_status(event: dict) -> str:
    data = event.get("conferenceData") or {}
    return str(((data.get("createRequest") or {}).get("status") or {}).get("statusCode") or "")


def _event_ref(event: dict, calendar_id: str) -> EventRef:
    data = event.get("conferenceData")
    conference = None
    if data:
        raw = {k: v for k, v in data.items() if k != "createRequest"}
        conference = Conference(join_url=_join_url(event), conference_id=str(data.get("conferenceId") or ""),
                                raw=raw)
    return EventRef(event_id=str(event["id"]), calendar_id=calendar_id, ical_uid=str(event.get("iCalUID") or ""),
                    join_url=_join_url(event), conference=conference, cancelled=event.get("status") == "cancelled")


def _conference_body(conference: Conference | None) -> dict | None:
    """conferenceData for insert/patch: reuse the loop's meeting, or ask for a new one (§1.5)."""
    if conference is None:
        return None
    if conference.raw:
        return {k: v for k, v in conference.raw.items() if k != "createRequest"}
    if conference.request_id:
        return {"createRequest": {"requestId": conference.request_id,
                                  "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
    if conference.join_url:
        return {"conferenceId": conference.conference_id,
                "conferenceSolution": {"key": {"type": "hangoutsMeet"}},
                "entryPoints": [{"entryPointType": "video", "uri": conference.join_url}]}
    return None


def _event_body(spec: EventSpec) -> dict:
    zone = ZoneInfo(spec.timezone)

    def when(instant: dt.datetime) -> dict:
        if instant.tzinfo is None:
            raise ValueError("EventSpec.start and .end must be aware")
        return {"dateTime": instant.astimezone(zone).isoformat(), "timeZone": spec.timezone}

    body: dict[str, Any] = {
        "summary": spec.title,
        "description": spec.description,
        "location": spec.location,
        "start": when(spec.start),
        "end": when(spec.end),
        "attendees": [{"email": a.email, **({"displayName": a.name} if a.name else {}), "optional": a.optional,
                       **({"resource": True} if a.is_room else {})} for a in spec.attendees],
        "extendedProperties": {"private": {KEY_PROPERTY: spec.key}},
    }
    if (conference := _conference_body(spec.conference)) is not None:
        body["conferenceData"] = conference
    return body


# ---- the adapter ----------------------------------------------------------------------------------------------

class GoogleCalendar(CalendarProvider):
    """Google Calendar API v3 for one CalendarConnection (user OAuth or a service account with DWD)."""

    kind: ClassVar[str] = "google"
    max_calendars_per_request: ClassVar[int] = 50  # calendarExpansionMax (§1.2)

    def __init__(self, connection, *, base_url: str | None = None, token_url: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT):
        super().__init__(connection, base_url=base_url, token_url=token_url)
        oauth = getattr(settings, "CALENDAR_OAUTH", {}).get("google", {})
        self.base_url = (self.base_url or oauth.get("api_base_url") or "").rstrip("/")
        self.token_url = self.token_url or oauth.get("token_url") or ""
        self.timeout = timeout
        self.auth_mode = connection.auth_mode
        self._services: dict[str, Any] = {}

    # ---- plumbing -------------------------------------------------------------------------------------------

    def _subject(self) -> str:
        return self.connection.organiser_calendar or self.connection.account_email or ""

    def _credentials(self):
        creds = dict(self.connection.credentials or {})
        if self.auth_mode == "service_account":
            info = creds.get("service_account_info") or (creds if creds.get("type") == "service_account" else None)
            if not isinstance(info, dict):
                raise ProviderError("Google service account: credentials hold no service_account_info",
                                    permanent=True, scope="connection", reason="bad_credentials")
            info = dict(info)
            if self.token_url:
                info["token_uri"] = self.token_url
            sa = service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
            subject = self._subject()
            return sa.with_subject(subject) if subject else sa
        oauth = getattr(settings, "CALENDAR_OAUTH", {}).get("google", {})
        client_id = creds.get("client_id") or oauth.get("client_id")
        client_secret = creds.get("client_secret") or oauth.get("client_secret")
        if not (creds.get("refresh_token") and client_id and client_secret):
            raise ProviderError("Google user grant: credentials need client_id, client_secret and refresh_token",
                                permanent=True, scope="connection", reason="bad_credentials")
        kwargs = {"token_uri": self.token_url} if self.token_url else {}
        return google.oauth2.credentials.Credentials(None, refresh_token=creds["refresh_token"],
                                                     client_id=client_id, client_secret=client_secret,
                                                     scopes=list(SCOPES), **kwargs)

    def _service(self):
        """The Calendar v3 client, built once per adapter (no network: static discovery)."""
        if "svc" not in self._services:
            try:
                creds = self._credentials()
            except (ValueError, KeyError, TypeError, google.auth.exceptions.GoogleAuthError) as e:
                # A key that does not parse or lacks a field: the connection's own credentials are unusable.
                raise ProviderError(f"Google credentials unusable: {type(e).__name__}: {e}", permanent=True,
                                    scope="connection", reason="bad_credentials") from e
            http = google_auth_httplib2.AuthorizedHttp(creds, http=httplib2.Http(timeout=self.timeout))
            options = {"api_endpoint": self.base_url + "/calendar/v3/"} if self.base_url else None
            self._services["svc"] = discovery.build("calendar", "v3", http=http, client_options=options,
                                                    static_discovery=True, cache_discovery=False)
        return self._services["svc"]

    def _once(self, make_request: Callable[[Any], Any], *, calendar_id: str = "") -> Any:
        """Build the request with `make_request(service)` and run it once; any failure comes out classified."""
        try:
            return make_request(self._service()).execute(num_retries=0)
        except ProviderError:
            raise
        except Exception as e:  # classified below; anything unknown is re-raised there
            if isinstance(e, OSError):  # timeouts and resets included
                self._drop_connections()
            raise classify(e, calendar_id=calendar_id, auth_mode=self.auth_mode) from e

    def _execute(self, make_request: Callable[[Any], Any], *, what: str, calendar_id: str = "") -> Any:
        """`_once`, with transient failures retried by our backoff through the shared sleeper."""
        return call_with_retries(lambda: self._once(make_request, calendar_id=calendar_id), what=f"google {what}")

    def _drop_connections(self) -> None:
        """After a timeout the pooled connection still waits for the old answer; httplib2 would find that out only
        through its stale-connection path, so start afresh."""
        svc = self._services.get("svc")
        http = getattr(getattr(svc, "_http", None), "http", None)
        for conn in list(getattr(http, "connections", {}).values()):
            conn.close()
        if http is not None:
            http.connections.clear()

    # ---- free/busy ------------------------------------------------------------------------------------------

    def free_busy(self, calendar_ids: Sequence[str], window: Window) -> FreeBusyResult:
        """See CalendarProvider.free_busy; one freebusy.query per 50 calendars, made as the connection's user (the
        organiser, under delegation). `requests_made` counts freeBusy attempts, retries included; not token calls."""
        ids = list(dict.fromkeys(calendar_ids))
        busy: dict[str, list[BusyBlock]] = {}
        errors: dict[str, CalendarError] = {}
        made = 0
        size = self.max_calendars_per_request
        for i in range(0, len(ids), size):
            chunk = ids[i:i + size]
            body = {"timeMin": _rfc3339(window.start), "timeMax": _rfc3339(window.end), "timeZone": "UTC",
                    "items": [{"id": c} for c in chunk]}

            def query(svc, body=body):
                nonlocal made
                made += 1
                return svc.freebusy().query(body=body)

            answer = self._execute(query, what="freebusy.query")
            calendars = {str(k).casefold(): v for k, v in ((answer or {}).get("calendars") or {}).items()}
            for cal in chunk:
                entry = calendars.get(cal.casefold())
                if (error := _calendar_error(entry)) is not None:
                    errors[cal] = error
                    continue
                busy[cal] = _merge(BusyBlock(_parse_instant(b["start"]), _parse_instant(b["end"]))
                                   for b in entry["busy"])
        return FreeBusyResult(busy=busy, errors=errors, requests_made=made)

    # ---- events ---------------------------------------------------------------------------------------------

    def upsert_event(self, spec: EventSpec) -> EventRef:
        """See CalendarProvider.upsert_event. Insert with our id; a retry first looks the id up (Google warns that
        it may not detect a duplicate id at creation, §1.4); an id that exists is patched to the spec."""
        event_id = event_id_for(spec.key)
        body = _event_body(spec)
        tried = False

        def attempt() -> tuple[bool, dict]:  # (inserted, event)
            nonlocal tried
            if tried and (existing := self._get_once(spec.calendar_id, event_id)) is not None:
                return False, existing  # the try that failed had landed after all
            tried = True
            return True, self._once(lambda svc: svc.events().insert(
                calendarId=spec.calendar_id, body={"id": event_id, **body}, conferenceDataVersion=1,
                sendUpdates="all"), calendar_id=spec.calendar_id)

        try:
            inserted, event = call_with_retries(attempt, what="google events.insert")
        except ProviderError as e:
            if e.status != 409:
                raise
            inserted, event = False, self._get(spec.calendar_id, event_id)
        if not inserted:
            event = self._reconcile(spec, event_id, body, event)
        return _event_ref(self._await_conference(spec.calendar_id, event), spec.calendar_id)

    def _reconcile(self, spec: EventSpec, event_id: str, body: dict, existing: dict | None) -> dict:
        """The id is taken: by an earlier write for this key (patch it to the spec), or by a deleted event or
        another key's (refuse: keys carry the revision, so the caller reused a key)."""
        if existing is None:
            raise ProviderError(f"Google answered 409 for event {event_id} but cannot find it", permanent=False,
                                scope="request", calendar_id=spec.calendar_id, status=409, reason="duplicate")
        owner = ((existing.get("extendedProperties") or {}).get("private") or {}).get(KEY_PROPERTY)
        if existing.get("status") == "cancelled" or owner not in (None, spec.key):
            raise ProviderError(f"Google event id {event_id} belongs to a deleted or different event; "
                                "a rescheduled session needs a new revision in its key", permanent=True,
                                scope="request", calendar_id=spec.calendar_id, status=409, reason="duplicate")
        patch = dict(body)
        if "createRequest" in patch.get("conferenceData", {}) and existing.get("conferenceData"):
            patch.pop("conferenceData")  # the first try already asked for (or got) the meeting
        return self._execute(lambda svc: svc.events().patch(
            calendarId=spec.calendar_id, eventId=event_id, body=patch, conferenceDataVersion=1, sendUpdates="all"),
            what="events.patch", calendar_id=spec.calendar_id)

    def _get_once(self, calendar_id: str, event_id: str) -> dict | None:
        try:
            return self._once(lambda svc: svc.events().get(calendarId=calendar_id, eventId=event_id),
                              calendar_id=calendar_id)
        except ProviderError as e:
            if e.status in (404, 410):
                return None
            raise

    def _get(self, calendar_id: str, event_id: str) -> dict | None:
        return call_with_retries(lambda: self._get_once(calendar_id, event_id), what="google events.get")

    def _await_conference(self, calendar_id: str, event: dict) -> dict:
        """Meet creation is asynchronous (§1.5): poll a `pending` conference a few times, then give up."""
        delay = 1.0
        for _ in range(CONFERENCE_POLLS):
            if _conference_status(event) != "pending":
                break
            clock.sleep(delay)
            delay *= 2
            event = self._get(calendar_id, str(event["id"])) or event
        status = _conference_status(event)
        if status == "pending":
            raise ProviderError("Google Meet is still being created; retry the write", permanent=False,
                                scope="request", calendar_id=calendar_id, reason="conferencePending")
        if status == "failure":
            raise ProviderError("Google could not create the Meet conference", permanent=True, scope="request",
                                calendar_id=calendar_id, reason="conferenceFailed")
        return event

    def find_event(self, calendar_id: str, key: str) -> EventRef | None:
        """See CalendarProvider.find_event: by the derived id, then by the private extended property."""
        event = self._get(calendar_id, event_id_for(key))
        if event is None:
            answer = self._execute(lambda svc: svc.events().list(
                calendarId=calendar_id, privateExtendedProperty=f"{KEY_PROPERTY}={key}", showDeleted=True,
                maxResults=10), what="events.list", calendar_id=calendar_id)
            items = (answer or {}).get("items") or []
            items.sort(key=lambda e: e.get("status") == "cancelled")  # a live one first
            event = items[0] if items else None
        return None if event is None else _event_ref(event, calendar_id)

    def delete_event(self, calendar_id: str, key: str) -> None:
        """See CalendarProvider.delete_event; 404 and 410 mean already gone."""
        event_id = event_id_for(key)
        try:
            self._execute(lambda svc: svc.events().delete(calendarId=calendar_id, eventId=event_id,
                                                          sendUpdates="all"),
                          what="events.delete", calendar_id=calendar_id)
        except ProviderError as e:
            if e.status not in (404, 410):
                raise

    # ---- health ---------------------------------------------------------------------------------------------

    def check(self) -> ConnectionCheck:
        """A token, then free/busy of the organiser calendar (the scopes do not reach calendarList)."""
        target = self.connection.organiser_calendar or self.connection.account_email or "primary"
        start = clock.now().replace(microsecond=0)
        try:
            result = self.free_busy([target], Window(start, start + dt.timedelta(minutes=15)))
        except ProviderError as e:
            return ConnectionCheck(ok=False, message=e.message)
        if target in result.errors:
            error = result.errors[target]
            return ConnectionCheck(ok=False, message=f"{target}: {error.reason}: {error.message}")
        return ConnectionCheck(ok=True, message=f"Google Calendar reachable; free/busy of {target} read")
