"""Microsoft 365 calendars through msal (tokens) and requests (Microsoft Graph v1.0).

`MicrosoftCalendar` implements `integrations.calendars.base.CalendarProvider` for one
`CalendarConnection`. Provider facts are in /work/shared/contracts/calendars.md: section 0 (the msal
traps, #1 to #7) and section 2 (Graph); the numbers below (§0 #4, §2.2...) point there.

Auth (§2.5)
- `application` (app-only, admin consent): `credentials = {"tenant", "client_id", "client_secret"}`;
  `acquire_token_for_client` for `https://graph.microsoft.com/.default`, answered from msal's token
  cache until five minutes before expiry (§0 #5).
- `user_oauth` (delegated, one user's consent): `credentials = {"tenant", "client_id", "client_secret",
  "refresh_token"}`; client id and secret fall back to `settings.CALENDAR_OAUTH["microsoft"]`, the tenant to
  "organizations". `acquire_token_by_refresh_token` on every new access token (msal does not cache by RT);
  the access token is kept on the adapter until five minutes before it expires, and a rotated refresh token
  is written back to the saved connection.
- The authority is `<login base>/<tenant>`: the login base is the connection's `token_url` (the field is
  reused as the authority host, e.g. `https://127.0.0.1:8443`; a full token endpoint
  `https://host/{tenant}/oauth2/v2.0/token`, as the consent flow stores it, gives host and tenant), else
  `settings.CALENDAR_OAUTH["microsoft"]["login_base_url"]`, else `https://login.microsoftonline.com`.
  It must be https (§0 #1). `instance_discovery=False`, so msal never calls Microsoft's discovery
  endpoint for a host it does not know (§0 #2, #3).
- msal gets our own `requests.Session` with `trust_env=False` (REQUESTS_CA_BUNDLE would override
  `verify`, §0 #1) and `verify=` the connection's `credentials["ca_bundle"]` (tests and the demo: the
  fake's trustme CA) or certifi's bundle. Certificate checks are never switched off. Graph calls use the
  same session.
- msal replays a failed token answer from its throttling cache (400 for 60 s, 429/5xx for Retry-After,
  §0 #4): after a transient token failure the msal application is rebuilt (keeping its token cache), so
  our own retry reaches the server.

Graph (§2.1): `Prefer: outlook.timezone="UTC", IdType="ImmutableId"` on every call, so times come back
in UTC and event ids survive folder moves. After a Graph 401 the cached token is dropped
(`remove_tokens_for_client()`, or the delegated token) and acquired again, once per call; a second 401 is
the connection's. Every call goes through `integrations.http.call_with_retries`.

Errors (`classify`, the one place), from the three shapes msal fails in (§0 #6: an error dict for a
4xx, `requests.HTTPError` for a 5xx (`msal.exceptions.MsalServiceError` in msal 1.39), `ValueError` for a
body that is not JSON) and from Graph:
- token `invalid_grant`/`interaction_required` (AADSTS 70008, 700082, 50173, 65001, 70043, 50076...:
  expired, revoked, consent withdrawn), `invalid_client`, `unauthorized_client`, `invalid_scope`,
  `access_denied`, and any other token error we do not know: permanent, the connection's;
  `temporarily_unavailable`, `server_error`, a 429 or 5xx, a body that is not JSON: transient;
  an authority msal refuses (not https, a tenant the OpenID configuration does not know): the connection's.
- Graph 429 (with `Retry-After`), 5xx, timeouts and connection errors: transient. 401 (after one fresh
  token) and 403 on the organiser's own getSchedule: the connection's. 403/404 on a calendar we read or
  write (`ErrorItemNotFound`, `ErrorInvalidUser`, `MailboxNotEnabledForRESTAPI`, `ErrorAccessDenied`):
  that calendar's. Other 4xx (`ErrorTimeIntervalTooBig`...): the request's.

Free/busy (§2.2): `POST /users/{organiser}/calendar/getSchedule`, at most 20 schedules and less than 62
days per call (longer windows are split into 61-day pieces, each batch asked for every piece). A
per-schedule `error` inside the 200 is that calendar's `CalendarError`, as is a missing entry. Busy means a
scheduleItem whose status (compared case-insensitively) is `busy`, `oof` or `tentative`: a meeting the
interviewer has tentatively accepted is likely to happen, and offering the slot to a candidate would risk a
double booking. `free`, `workingElsewhere` and `unknown` are not busy. Times are the 7-fractional-digit,
offset-less `dateTime` plus `timeZone` (UTC, as asked); blocks are merged, sorted and aware in UTC.

Events (§2.3, §2.4): on the organiser mailbox (created in its default calendar, `POST
/users/{calendar_id}/calendar/events`; looked up, patched and deleted under `/users/{calendar_id}/events`),
interviewers as `required` (or `optional`) attendees and a room as a `resource` attendee with the room as the
location. Our key is in a single-value extended property (`KEY_PROPERTY_ID`), and `transactionId` is derived
from it. Graph ids are the server's, so `upsert_event` first looks the key up by the extended property (every
attempt, retries included): found, it is patched to the spec (or, when it is what this call's own timed-out
create left, returned as is); not found, it is created with the `transactionId`. Microsoft does not document how
it answers a repeated transactionId (§2.4), so it is only a second line of defence. More than one event under
our key (a lost lookup race) is healed: the first is kept, the others deleted.

Teams, one meeting per loop (§2.3): the first session's spec carries `Conference(request_id=...)` and is
created with `isOnlineMeeting: true, onlineMeetingProvider: "teamsForBusiness"`; its answer's
`onlineMeeting.joinUrl` (read-only in Graph) becomes `EventRef.conference` (`join_url`, `conference_id`).
Graph cannot attach an existing online meeting to another event, so later sessions (a `Conference` with a
`join_url`) are plain events that carry the same join link in their HTML body and, when they have no room, as
the location (`locationUri`). A first session created without a join link (a tenant or mailbox without
Teams) is a permanent error for the request. An event that is itself the online meeting is patched without
its body, which would otherwise risk turning it back into a plain meeting (§2.3, as Cal.com does).
`find_event` looks the key up; `delete_event` deletes every event under the key (404 means gone). Graph
deletes events outright, so a deleted event is not found (None) rather than `cancelled`.

An adapter instance holds a requests session and an msal application: one per task or request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import certifi
import msal
import msal.exceptions
import requests
from django.conf import settings

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

__all__ = ["MicrosoftCalendar", "KEY_PROPERTY_ID", "APP_SCOPES", "DELEGATED_SCOPES", "transaction_id_for",
           "classify"]

log = logging.getLogger(__name__)

LOGIN_BASE = "https://login.microsoftonline.com"
GRAPH_BASE = "https://graph.microsoft.com"
APP_SCOPES = ("https://graph.microsoft.com/.default",)
# Delegated: write events on the user's calendar, read free/busy (getSchedule) of the people and rooms they
# can see. msal adds openid, profile and offline_access itself.
DELEGATED_SCOPES = ("https://graph.microsoft.com/Calendars.ReadWrite",)
KEY_PROPERTY_ID = "String {78b81265-aac9-401e-ba07-1bca91b24b82} Name LoopwiseKey"
PREFER = 'outlook.timezone="UTC", IdType="ImmutableId"'
MAX_SCHEDULES = 20                          # getSchedule entities per request (§2.2, documented)
MAX_RANGE = dt.timedelta(days=61)           # "less than 62 days" (§2.2)
VIEW_INTERVAL = 60                          # availabilityViewInterval: an integer, never null (§2.2)
BUSY_STATUSES = {"busy", "oof", "tentative"}
TOKEN_TRANSIENT_ERRORS = {"temporarily_unavailable", "server_error"}
TOKEN_TRANSIENT_CODES = {50196}             # LoopDetected: too many identical requests, slow down
AADSTS_MEANING = {
    70008: "the grant expired or was revoked",
    700082: "the refresh token expired through inactivity",
    50173: "the grant was revoked (by an admin or the user, or after a password change)",
    700084: "the refresh token reached its fixed lifetime",
    70043: "the refresh token expired under a Conditional Access sign-in frequency",
    70000: "the refresh token is invalid",
    50076: "multi-factor authentication is required",
    50079: "multi-factor authentication must be registered",
    65001: "consent is missing or was withdrawn",
    7000215: "the client secret is wrong",
    7000222: "the client secret has expired",
    700016: "the application is not in the tenant",
    90002: "the tenant does not exist",
}
CALENDAR_CODES = {"ErrorItemNotFound", "ErrorInvalidUser", "ResourceNotFound", "MailboxNotEnabledForRESTAPI",
                  "ErrorMailboxNotFound", "ErrorNonExistentMailbox", "ErrorAccessDenied"}
TOKEN_EARLY = dt.timedelta(minutes=5)       # like msal (§0 #5): a token with less left counts as expired


def transaction_id_for(key: str) -> str:
    """The Graph `transactionId` for our key: deterministic, so a retried create repeats it (§2.4)."""
    return "loopwise-" + hashlib.sha256(key.encode()).hexdigest()[:40]


# ---- errors ---------------------------------------------------------------------------------------------------

class TokenError(Exception):
    """msal's error dict (its way of failing a 4xx token answer, §0 #6), with the HTTP status we saw."""

    def __init__(self, result: dict, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(str(result.get("error") or "token_error"))
        self.result = result
        self.status = status
        self.retry_after = retry_after


def _retry_after(headers) -> float | None:
    value = (headers or {}).get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:  # an HTTP date: rare from Graph; fall back to our own backoff
        return None


def _graph_error(resp: requests.Response) -> tuple[str, str]:
    """(error.code, error.message) from Graph's error body (§2.7), tolerating others."""
    try:
        data = resp.json()
    except ValueError:
        return "", (resp.text or "")[:200]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("code") or ""), str(error.get("message") or "")
    return str(error or ""), str(data.get("error_description") or "") if isinstance(data, dict) else ""


def _aadsts(result: dict) -> tuple[list[int], str]:
    """The AADSTS codes and the first line of the description (the rest is trace ids and timestamps)."""
    codes = [int(c) for c in (result.get("error_codes") or []) if str(c).isdigit()]
    first_line = str(result.get("error_description") or "").splitlines()[0:1]
    return codes, (first_line[0].strip() if first_line else "")


def classify(exc: BaseException, *, calendar_id: str = "", organiser_call: bool = False,
             auth_mode: str = "application") -> ProviderError:
    """The one place an msal, Graph or transport failure becomes a ProviderError (see the module docstring).
    `calendar_id`: the calendar the call reads or writes (403/404 are then that calendar's);
    `organiser_call`: the call reads through the organiser mailbox (getSchedule), so 403/404 are the connection's."""
    if isinstance(exc, ProviderError):
        return exc
    who = "user grant" if auth_mode == "user_oauth" else "application"
    if isinstance(exc, TokenError):
        result = exc.result
        error = str(result.get("error") or "token_error")
        codes, first = _aadsts(result)
        meaning = "; ".join(AADSTS_MEANING[c] for c in codes if c in AADSTS_MEANING)
        text = f"Microsoft refused the {who}: {error}: {first}" + (f" ({meaning})" if meaning else "")
        if (exc.status == 429 or (exc.status or 0) >= 500 or error in TOKEN_TRANSIENT_ERRORS
                or TOKEN_TRANSIENT_CODES & set(codes)):
            return ProviderError(f"Microsoft token endpoint: {error}: {first}", permanent=False, scope="connection",
                                 retry_after=exc.retry_after, status=exc.status, reason=error)
        # invalid_grant (revoked, expired, consent withdrawn), invalid_client, unauthorized_client, invalid_scope,
        # and anything else the token endpoint refuses: retrying will not help, the connection's credentials will.
        return ProviderError(text, permanent=True, scope="connection", status=exc.status, reason=error)
    if isinstance(exc, msal.exceptions.MsalServiceError):
        # msal 1.39 raises this (not requests.HTTPError as older versions did, §0 #6) for a 5xx from the token or
        # OpenID configuration endpoint; it carries no body worth reading.
        return ProviderError(f"Microsoft token endpoint: {exc}", permanent=False, scope="connection",
                             reason="token_endpoint_unavailable")
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        resp = exc.response
        status = resp.status_code
        code, message = _graph_error(resp)
        text = f"Microsoft {status} {code}: {message}".rstrip(": ")
        if status == 429 or status >= 500:
            return ProviderError(text, permanent=False, scope="request", retry_after=_retry_after(resp.headers),
                                 status=status, reason=code or str(status))
        if status == 401 or (organiser_call and status in (403, 404)):
            return ProviderError(text, permanent=True, scope="connection", status=status, reason=code)
        if calendar_id and (status in (403, 404) or code in CALENDAR_CODES):
            return ProviderError(text, permanent=True, scope="calendar", calendar_id=calendar_id, status=status,
                                 reason=code or "ErrorItemNotFound")
        return ProviderError(text, permanent=True, scope="request", calendar_id=calendar_id, status=status,
                             reason=code)
    if isinstance(exc, requests.Timeout):
        return ProviderError(f"Microsoft did not answer in time: {exc}", permanent=False, scope="request",
                             reason="timeout")
    if isinstance(exc, requests.exceptions.SSLError):
        # A certificate we do not trust: configuration, not weather. Never retried, never switched off.
        return ProviderError(f"Microsoft TLS verification failed: {exc}", permanent=True, scope="connection",
                             reason="tls")
    if isinstance(exc, requests.ConnectionError | ConnectionError):
        return ProviderError(f"Microsoft unreachable: {type(exc).__name__}: {exc}", permanent=False,
                             scope="request", reason="connection")
    if isinstance(exc, json.JSONDecodeError | requests.exceptions.JSONDecodeError):
        return ProviderError(f"Microsoft answered something that is not JSON: {exc}", permanent=False,
                             scope="request", reason="not_json")
    if isinstance(exc, ValueError):
        # msal refuses the authority (not https, §0 #1) or the OpenID configuration said 4xx (an unknown tenant).
        return ProviderError(f"Microsoft authority unusable: {exc}", permanent=True, scope="connection",
                             reason="bad_authority")
    raise exc


# ---- parsing --------------------------------------------------------------------------------------------------

def _graph_time(value: dict) -> dt.datetime:
    """A Graph dateTimeTimeZone: 7 fractional digits, no offset, and a separate timeZone (§2.1)."""
    text = str(value["dateTime"])
    if "." in text:
        whole, fraction = text.split(".", 1)
        text = f"{whole}.{fraction[:6]}"
    instant = dt.datetime.fromisoformat(text)
    zone_name = str(value.get("timeZone") or "UTC")
    if instant.tzinfo is None:
        if zone_name in ("UTC", "Etc/UTC", "Coordinated Universal Time", "tzone://Microsoft/Utc"):
            instant = instant.replace(tzinfo=dt.UTC)
        else:
            try:
                instant = instant.replace(tzinfo=ZoneInfo(zone_name))
            except (ZoneInfoNotFoundError, ValueError) as e:  # a Windows zone name: we asked for UTC
                raise ValueError(f"unknown time zone {zone_name!r}") from e
    return instant.astimezone(dt.UTC)


def _wire_time(instant: dt.datetime) -> dict:
    if instant.tzinfo is None:
        raise ValueError("free/busy windows and event times must be aware datetimes")
    return {"dateTime": instant.astimezone(dt.UTC).replace(tzinfo=None).isoformat(), "timeZone": "UTC"}


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


def _pieces(window: Window) -> list[Window]:
    """The window cut into pieces shorter than 62 days (§2.2)."""
    pieces, start = [], window.start
    while start < window.end:
        end = min(window.end, start + MAX_RANGE)
        pieces.append(Window(start, end))
        start = end
    return pieces or [window]


def _schedule_busy(entry: dict) -> list[BusyBlock]:
    blocks = []
    for item in entry.get("scheduleItems") or []:
        if str(item.get("status") or "").casefold() in BUSY_STATUSES:
            blocks.append(BusyBlock(_graph_time(item["start"]), _graph_time(item["end"])))
    return blocks


def _schedule_error(entry: Any) -> CalendarError | None:
    if not isinstance(entry, dict):
        return CalendarError("missing", "Microsoft returned no schedule for this calendar")
    error = entry.get("error")
    if error:
        error = error if isinstance(error, dict) else {"message": str(error)}
        return CalendarError(str(error.get("responseCode") or "error"), str(error.get("message") or ""))
    return None


def _join_url(event: dict) -> str:
    return str((event.get("onlineMeeting") or {}).get("joinUrl") or "")


def _key_of(event: dict) -> str:
    for prop in event.get("singleValueExtendedProperties") or []:
        if str(prop.get("id", "")).casefold() == KEY_PROPERTY_ID.casefold():
            return str(prop.get("value") or "")
    return ""


def _event_ref(event: dict, calendar_id: str, reused: Conference | None = None) -> EventRef:
    join_url = _join_url(event)
    conference = None
    if join_url:
        meeting = event.get("onlineMeeting") or {}
        conference = Conference(join_url=join_url, conference_id=str(meeting.get("conferenceId") or ""),
                                raw={"joinUrl": join_url, "provider": str(event.get("onlineMeetingProvider") or "")})
    elif reused is not None and reused.join_url:
        conference, join_url = reused, reused.join_url
    return EventRef(event_id=str(event["id"]), calendar_id=calendar_id, ical_uid=str(event.get("iCalUId") or ""),
                    join_url=join_url, conference=conference, cancelled=bool(event.get("isCancelled")))


def _event_body(spec: EventSpec) -> dict:
    room = next((a for a in spec.attendees if a.is_room), None)
    reuse = spec.conference.join_url if spec.conference and spec.conference.join_url else ""
    content = html.escape(spec.description).replace("\n", "<br>")
    if reuse:
        link = html.escape(reuse, quote=True)
        content += f'<p>Join the Microsoft Teams meeting: <a href="{link}">{link}</a></p>'
    body: dict[str, Any] = {
        "subject": spec.title,
        "body": {"contentType": "HTML", "content": content},
        "start": _wire_time(spec.start),
        "end": _wire_time(spec.end),
        "attendees": [{"emailAddress": {"address": a.email, **({"name": a.name} if a.name else {})},
                       "type": "resource" if a.is_room else "optional" if a.optional else "required"}
                      for a in spec.attendees],
        "singleValueExtendedProperties": [{"id": KEY_PROPERTY_ID, "value": spec.key}],
    }
    if room is not None:
        body["location"] = {"displayName": spec.location or room.name or room.email,
                            "locationEmailAddress": room.email, "locationType": "conferenceRoom"}
    elif reuse:
        body["location"] = {"displayName": spec.location or "Microsoft Teams Meeting", "locationUri": reuse}
    elif spec.location:
        body["location"] = {"displayName": spec.location}
    if spec.conference is not None and spec.conference.request_id and not reuse:
        body["isOnlineMeeting"] = True
        body["onlineMeetingProvider"] = "teamsForBusiness"
    return body


def _split_login_url(url: str) -> tuple[str, str]:
    """(login base, tenant) from the connection's token URL: the identity host itself (`https://host`), or a full
    token endpoint `https://host/{tenant}/oauth2/v2.0/token` as the consent flow stores it."""
    parts = urlsplit(url.rstrip("/"))
    segments = [s for s in parts.path.split("/") if s]
    if "oauth2" in segments and segments.index("oauth2") > 0:
        at = segments.index("oauth2")
        prefix = "/".join(segments[:at - 1])
        return urlunsplit((parts.scheme, parts.netloc, "/" + prefix if prefix else "", "", "")), segments[at - 1]
    return url.rstrip("/"), ""


def _odata_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# ---- the adapter ----------------------------------------------------------------------------------------------

class MicrosoftCalendar(CalendarProvider):
    """Microsoft Graph v1.0 for one CalendarConnection (app-only client credentials or one user's grant)."""

    kind: ClassVar[str] = "microsoft"
    max_calendars_per_request: ClassVar[int] = MAX_SCHEDULES

    def __init__(self, connection, *, base_url: str | None = None, token_url: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT):
        super().__init__(connection, base_url=base_url, token_url=token_url)
        oauth = getattr(settings, "CALENDAR_OAUTH", {}).get("microsoft", {})
        self.base_url = (self.base_url or oauth.get("api_base_url") or GRAPH_BASE).rstrip("/")
        login_base, url_tenant = _split_login_url(self.token_url or oauth.get("login_base_url") or LOGIN_BASE)
        self.login_base = login_base
        self.timeout = timeout
        self.auth_mode = connection.auth_mode
        creds = dict(connection.credentials or {})
        self.tenant = str(creds.get("tenant") or url_tenant or oauth.get("tenant") or "organizations")
        self.client_id = str(creds.get("client_id") or oauth.get("client_id") or "")
        self._secret = str(creds.get("client_secret") or oauth.get("client_secret") or "")
        self._refresh_token = str(creds.get("refresh_token") or "")
        self.session = requests.Session()
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify (§0 #1)
        self.session.verify = str(creds.get("ca_bundle") or oauth.get("ca_bundle") or certifi.where())
        self.session.hooks["response"].append(self._remember_token_answer)
        self._token_cache = msal.TokenCache()
        self._app: msal.ConfidentialClientApplication | None = None
        self._delegated: tuple[str, dt.datetime] | None = None
        self._last_token_answer: tuple[int, float | None] = (200, None)

    # ---- tokens ---------------------------------------------------------------------------------------------

    def _remember_token_answer(self, resp: requests.Response, *args, **kwargs) -> None:
        """msal turns a 4xx token answer into a dict without its status; keep the status and Retry-After."""
        if resp.request is not None and resp.request.url and "/oauth2/" in resp.request.url:
            self._last_token_answer = (resp.status_code, _retry_after(resp.headers))

    def _msal(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            if not (self.client_id and self._secret):
                raise ProviderError("Microsoft: credentials need tenant, client_id and client_secret", permanent=True,
                                    scope="connection", reason="bad_credentials")
            if self.auth_mode == "user_oauth" and not self._refresh_token:
                raise ProviderError("Microsoft user grant: credentials hold no refresh_token", permanent=True,
                                    scope="connection", reason="bad_credentials")
            self._app = msal.ConfidentialClientApplication(
                self.client_id, client_credential=self._secret, authority=f"{self.login_base}/{self.tenant}",
                instance_discovery=False, http_client=self.session, token_cache=self._token_cache,
                timeout=self.timeout)
        return self._app

    def _token(self) -> str:
        try:
            return self._acquire()
        except Exception:
            self._app = None  # msal would replay the failed answer (§0 #4); a new app keeps the token cache
            raise

    def _acquire(self) -> str:
        app = self._msal()
        if self.auth_mode == "user_oauth":
            if self._delegated and self._delegated[1] - TOKEN_EARLY > clock.now():
                return self._delegated[0]
            result = app.acquire_token_by_refresh_token(self._refresh_token, scopes=list(DELEGATED_SCOPES))
        else:
            result = app.acquire_token_for_client(scopes=list(APP_SCOPES))
        if not isinstance(result, dict) or not result.get("access_token"):
            status, retry_after = self._last_token_answer
            raise TokenError(result if isinstance(result, dict) else {}, status=status, retry_after=retry_after)
        if self.auth_mode == "user_oauth":
            expires_in = int(result.get("expires_in") or 0)
            self._delegated = (result["access_token"], clock.now() + dt.timedelta(seconds=expires_in))
            if result.get("refresh_token") and result["refresh_token"] != self._refresh_token:
                self._keep_refresh_token(result["refresh_token"])
        return result["access_token"]

    def _keep_refresh_token(self, token: str) -> None:
        """Microsoft rotates refresh tokens; keep the newest on the saved connection."""
        self._refresh_token = token
        if getattr(self.connection, "pk", None):
            creds = dict(self.connection.credentials or {})
            creds["refresh_token"] = token
            self.connection.credentials = creds
            self.connection.save(update_fields=["credentials"])

    def _drop_token(self) -> None:
        """After a Graph 401 (§0 #5): forget the access token so the next call acquires a new one."""
        self._delegated = None
        if self._app is not None and self.auth_mode != "user_oauth":
            self._app.remove_tokens_for_client()

    # ---- plumbing -------------------------------------------------------------------------------------------

    def _send(self, method: str, path: str, *, body: dict | None = None, params: dict | None = None) -> Any:
        """One Graph call (one fresh token after a 401); raises unclassified exceptions."""
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {self._token()}", "Prefer": PREFER, "Accept": "application/json"}
            resp = self.session.request(method, self.base_url + path, json=body, params=params, headers=headers,
                                        timeout=self.timeout)
            if resp.status_code == 401 and attempt == 0:
                self._drop_token()
                continue
            resp.raise_for_status()
            if resp.status_code == 204 or not resp.content:
                return None
            return resp.json()
        raise AssertionError("unreachable")

    def _once(self, method: str, path: str, *, body: dict | None = None, params: dict | None = None,
              calendar_id: str = "", organiser_call: bool = False) -> Any:
        try:
            return self._send(method, path, body=body, params=params)
        except ProviderError:
            raise
        except Exception as e:  # classified below; anything unknown is re-raised there
            raise classify(e, calendar_id=calendar_id, organiser_call=organiser_call,
                           auth_mode=self.auth_mode) from e

    def _call(self, method: str, path: str, *, what: str, **kwargs) -> Any:
        return call_with_retries(lambda: self._once(method, path, **kwargs), what=f"microsoft {what}")

    @staticmethod
    def _user(calendar_id: str) -> str:
        return "/v1.0/users/" + quote(calendar_id, safe="@")

    # ---- free/busy ------------------------------------------------------------------------------------------

    def _organiser(self) -> str:
        return self.connection.organiser_calendar or self.connection.account_email or ""

    def free_busy(self, calendar_ids: Sequence[str], window: Window) -> FreeBusyResult:
        """See CalendarProvider.free_busy; one getSchedule per 20 calendars and per 61-day piece of the window,
        through the organiser mailbox. `requests_made` counts getSchedule attempts, retries included."""
        ids = list(dict.fromkeys(calendar_ids))
        busy: dict[str, list[BusyBlock]] = {c: [] for c in ids}
        errors: dict[str, CalendarError] = {}
        made = 0
        path = self._user(self._organiser()) + "/calendar/getSchedule"
        for i in range(0, len(ids), MAX_SCHEDULES):
            chunk = ids[i:i + MAX_SCHEDULES]
            for piece in _pieces(window):
                body = {"schedules": chunk, "startTime": _wire_time(piece.start), "endTime": _wire_time(piece.end),
                        "availabilityViewInterval": VIEW_INTERVAL}

                def query(body=body):
                    nonlocal made
                    made += 1
                    return self._once("POST", path, body=body, organiser_call=True)

                answer = call_with_retries(query, what="microsoft getSchedule") or {}
                entries = {str(e.get("scheduleId") or "").casefold(): e for e in answer.get("value") or []
                           if isinstance(e, dict)}
                for cal in chunk:
                    if cal in errors:
                        continue
                    entry = entries.get(cal.casefold())
                    error = _schedule_error(entry)
                    if error is None:
                        try:
                            busy[cal].extend(_schedule_busy(entry))
                        except (KeyError, TypeError, ValueError) as e:
                            error = CalendarError("unparseable", f"Microsoft schedule not understood: {e}")
                    if error is not None:
                        errors[cal] = error
        return FreeBusyResult(busy={c: _merge(b) for c, b in busy.items() if c not in errors}, errors=errors,
                              requests_made=made)

    # ---- events ---------------------------------------------------------------------------------------------

    def _lookup_once(self, calendar_id: str, key: str) -> list[dict]:
        """Every event under our key, by the extended property (§2.4)."""
        params = {
            "$filter": (f"singleValueExtendedProperties/Any(ep: ep/id eq {_odata_quote(KEY_PROPERTY_ID)} "
                        f"and ep/value eq {_odata_quote(key)})"),
            "$expand": f"singleValueExtendedProperties($filter=id eq {_odata_quote(KEY_PROPERTY_ID)})",
        }
        answer = self._once("GET", self._user(calendar_id) + "/events", params=params, calendar_id=calendar_id)
        events = [e for e in (answer or {}).get("value") or [] if isinstance(e, dict)]
        return [e for e in events if _key_of(e) in ("", key)]  # a fake or a server that does not expand: trust it

    def _lookup(self, calendar_id: str, key: str) -> list[dict]:
        return call_with_retries(lambda: self._lookup_once(calendar_id, key), what="microsoft events lookup")

    def upsert_event(self, spec: EventSpec) -> EventRef:
        """See CalendarProvider.upsert_event: look the key up, then patch what is there or create with a
        transactionId; every retry looks up first, so a create that timed out after Graph applied it is found."""
        body = _event_body(spec)
        events_path = self._user(spec.calendar_id) + "/events"
        create_path = self._user(spec.calendar_id) + "/calendar/events"  # the mailbox's default calendar
        created_before = False

        def attempt() -> tuple[str, list[dict]]:
            nonlocal created_before
            found = self._lookup_once(spec.calendar_id, spec.key)
            if found:
                return ("ours" if created_before else "found"), found
            created_before = True
            event = self._once("POST", create_path, body={**body, "transactionId": transaction_id_for(spec.key)},
                               calendar_id=spec.calendar_id)
            return "created", [event]

        outcome, events = call_with_retries(attempt, what="microsoft events create")
        event, extra = events[0], events[1:]
        for duplicate in extra:
            log.warning("microsoft: deleting a duplicate event %s for one key on %s", duplicate.get("id"),
                        spec.calendar_id)
            self._delete_id(spec.calendar_id, str(duplicate["id"]))
        if outcome == "found":
            event = self._patch(spec, event, body) or event
        wants_teams = bool(spec.conference and spec.conference.request_id and not spec.conference.join_url)
        if wants_teams and not _join_url(event):
            event = call_with_retries(lambda: self._once("GET", f"{events_path}/{quote(str(event['id']))}",
                                                         calendar_id=spec.calendar_id), what="microsoft events get")
            if not _join_url(event):
                raise ProviderError(f"Microsoft created event {event['id']} without a Teams meeting: the organiser "
                                    "mailbox or tenant has no Teams", permanent=True, scope="request",
                                    calendar_id=spec.calendar_id, reason="teamsUnavailable")
        return _event_ref(event, spec.calendar_id, reused=spec.conference)

    def _patch(self, spec: EventSpec, existing: dict, body: dict) -> dict | None:
        patch = dict(body)
        patch.pop("singleValueExtendedProperties")
        if existing.get("isOnlineMeeting") or _join_url(existing):
            # Keep the Teams blob: overwriting the body can turn an online meeting back into a plain one (§2.3).
            for field in ("body", "isOnlineMeeting", "onlineMeetingProvider"):
                patch.pop(field, None)
        path = f"{self._user(spec.calendar_id)}/events/{quote(str(existing['id']))}"
        return self._call("PATCH", path, body=patch, what="events patch", calendar_id=spec.calendar_id)

    def find_event(self, calendar_id: str, key: str) -> EventRef | None:
        """See CalendarProvider.find_event: by the extended property. Graph deletes outright, so a deleted event
        is None, not cancelled."""
        found = self._lookup(calendar_id, key)
        found.sort(key=lambda e: bool(e.get("isCancelled")))  # a live one first
        return _event_ref(found[0], calendar_id) if found else None

    def delete_event(self, calendar_id: str, key: str) -> None:
        """See CalendarProvider.delete_event: every event under the key (the organiser's delete sends the
        cancellations); 404 means gone already."""
        for event in self._lookup(calendar_id, key):
            self._delete_id(calendar_id, str(event["id"]))

    def _delete_id(self, calendar_id: str, event_id: str) -> None:
        try:
            self._call("DELETE", f"{self._user(calendar_id)}/events/{quote(event_id)}", what="events delete",
                       calendar_id=calendar_id)
        except ProviderError as e:
            if e.status not in (404, 410):
                raise

    # ---- health ---------------------------------------------------------------------------------------------

    def check(self) -> ConnectionCheck:
        """A token, then getSchedule of the organiser mailbox for a quarter of an hour."""
        target = self._organiser()
        if not target:
            return ConnectionCheck(ok=False, message="Microsoft: the connection names no organiser mailbox")
        start = clock.now().replace(microsecond=0)
        try:
            result = self.free_busy([target], Window(start, start + dt.timedelta(minutes=15)))
        except ProviderError as e:
            return ConnectionCheck(ok=False, message=e.message)
        if target in result.errors:
            error = result.errors[target]
            return ConnectionCheck(ok=False, message=f"{target}: {error.reason}: {error.message}")
        return ConnectionCheck(ok=True, message=f"Microsoft Graph reachable; free/busy of {target} read")
