"""The `google` fake: Google Calendar API v3 (freeBusy, events, calendarList, calendars.get) and Google's OAuth 2.0
token, authorize and revoke endpoints, in memory, over plain http on 127.0.0.1, so that google-api-python-client and
google-auth run unchanged with only their endpoints pointed here (contracts/calendars.md sections 0 and 1):

    fake = GoogleFake.start()
    fake.seed({"users": [{"email": "alice@acme.test"}], "oauth_clients": [{"client_id": "cid", "client_secret": "s"}],
               "refresh_tokens": [{"token": "rt-alice", "client_id": "cid", "user": "alice@acme.test"}]})
    creds = google.oauth2.credentials.Credentials(None, refresh_token="rt-alice", token_uri=fake.url + "/token",
                                                  client_id="cid", client_secret="s")
    # or: service_account.Credentials.from_service_account_info(fake.service_account_info(EMAIL)).with_subject(USER)
    svc = googleapiclient.discovery.build("calendar", "v3", credentials=creds, static_discovery=True,
                                          client_options={"api_endpoint": fake.url + "/calendar/v3/"})

The OAuth endpoints live in google_auth.py and the wire formats (errors, times, Meet) in google_wire.py.
Paths: `POST /token`, `GET /o/oauth2/v2/auth`, `POST /revoke`; under `/calendar/v3/`: `POST freeBusy`,
`GET users/me/calendarList`, `GET calendars/{id}`, and `calendars/{id}/events` (POST insert, GET list) and
`calendars/{id}/events/{eventId}` (GET, PATCH, PUT, DELETE). `primary` names the caller's own calendar.

Seed (`POST /_fake/seed`; seeding adds, and updates what it names again):

    {"users": [{"email", "name"?, "timezone"? (IANA, default UTC), "deleted"? (gone from the directory: its grants,
                delegated tokens and free/busy fail), "private"? (free/busy hidden from others: notFound),
                "freebusy_error"? (a reason freeBusy reports for this calendar, e.g. "internalError")}],
     "rooms": [{"email", "name"?, "timezone"?}],
     "service_accounts": [{"client_email", "client_id"?, "delegation"? (default true: domain-wide delegation
                           granted), "scopes"? (the scopes delegation grants; default any)}],
     "oauth_clients": [{"client_id", "client_secret", "redirect_uris"? (default: any redirect_uri)}],
     "refresh_tokens": [{"token", "client_id", "user", "scopes"? (default calendar, calendar.events,
                         calendar.events.freebusy, calendar.readonly)}],
     "busy": {"alice@acme.test": [["2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z"], ...]},
     "settings": {"expires_in"? (access-token seconds, default 3600), "meet_pending_reads"? (a new Meet conference
                  shows statusCode "pending" in this many answers first, default 0)}}

Every user, room and service account has one calendar whose id is its email. `GoogleFake.demo_busy(...)` makes
realistic `busy` for the demo. `GET /_fake/state` answers users, rooms, service_accounts, oauth_clients,
`calendars` ({id: {id, kind, summary, timeZone, busy: [[start, end]], events: [...]}}, attendee copies included),
refresh_tokens, access_tokens, consents (each authorize call), conferences and settings.

Who sees what: a user token, or a service account acting as `sub` (domain-wide delegation), reads and writes its
own calendar and reads free/busy of every calendar in the directory (users not deleted, rooms) unless `private`. A
service account without `sub` reaches only its own calendar, cannot invite attendees (403
forbiddenForServiceAccounts) and cannot create Meet conferences (400 "Invalid conference type value."). Scopes are
enforced per method as the discovery document lists them (403 insufficientPermissions); `calendar.freebusy` alone
shows only the caller's own calendar.

Events: client ids must match `^[a-v0-9]{5,1024}$` (400 invalid); an id stays taken after delete (409 duplicate);
delete answers 204 and leaves the event `cancelled` (events.get still shows it; list hides it without
`showDeleted=true`); a second delete answers 410 deleted. Each attendee with a calendar here gets one copy of the
organiser's event under the same id and iCalUID (organizer.self false, its own entry `self: true`, responseStatus
needsAction, rooms accepted; private extended properties stay on the organiser's copy); patches update the copies,
removing an attendee or deleting the event cancels them. Free/busy merges seeded busy blocks with events that are
not cancelled, not transparent and not declined. Meet: with `conferenceDataVersion=1`, `createRequest` (type
hangoutsMeet) makes a conference with a deterministic `https://meet.google.com/abc-defg-hij` link; a requestId used
before in the same calendar is ignored (no new conference); `conferenceData` naming a known `conferenceId` attaches
that conference; version 0 ignores conferenceData.

Faults (`target`: a path prefix, a calendar id from the path, the token's user or service account or client id, an
id in a freeBusy body, or, at /token, the refresh token's user and client or the JWT's iss and sub):
`throttle` 429 rateLimitExceeded, or with `status: 403` 403 rateLimitExceeded (userRateLimitExceeded when `target`
is a user), with Retry-After; `error` 5xx backendError (OAuth-shaped at /token); `slow`, `timeout`, `drop` as in
base.py; `revoke`: refreshing the named grant answers 400 invalid_grant "Token has been expired or revoked." and
marks the refresh token revoked for good, access tokens of a named grant answer 401 while the fault lasts, and for a
service account the JWT grant answers 400 invalid_grant "Invalid JWT Signature." (or "Invalid email or User ID"
when the target is the `sub`); `bad_credentials`: 401 unauthorized_client for a service account, 401 invalid_client
for an OAuth client; `expire_token`: the next API call with a valid token answers 401 authError and forgets the
token, so the client refreshes.

Departures from the real service, and why:
- One plain-http host serves what Google spreads over oauth2.googleapis.com, accounts.google.com and
  www.googleapis.com, so one URL configures everything.
- The JWT assertion's signature is not checked (the payload is decoded as is), and any `aud` is accepted
  (google-auth always sends Google's token URL, contract section 0 #11); `iat`/`exp` are checked.
- The authorize endpoint shows no page: it approves at once for `login_hint` (else the first seeded user). A refresh
  token is issued only with `access_type=offline`, and only when the user has no live grant for that client or
  `prompt=consent` is sent, as Google does. id_token (openid/email scopes) is signed with the fake's own key.
- A `revoke` or `bad_credentials` fault on a service account lasts only as long as the fault (a real deleted key
  needs a new key); a revoked refresh token stays revoked.
- freeBusy with more than 50 items (or more than calendarExpansionMax) answers 400 tooManyCalendarsRequested; Google
  does not document this case and may instead report it per calendar. Groups are not expanded: an id that is not a
  calendar here is notFound. With a `timeZone`, busy times carry that zone's offset.
- No sharing or ACLs: events of another calendar answer 404 on reads and 403 requiredAccessLevel on writes. Rooms
  always accept. Recurrence is stored, never expanded; `singleEvents` is accepted; `syncToken` and `q` answer 400.
  Event times are echoed as sent, not normalised to the calendar's zone. PATCH merges objects (null deletes a key)
  and replaces arrays and `start`/`end` whole. `sendUpdates` sends nothing. An attendee other than the organiser may
  change only extendedProperties, reminders, colorId and transparency on its copy, and deleting its copy declines.
- Meet phone numbers are fake; conference creation is `success` at once unless `meet_pending_reads` is set.
- Error messages follow observed ones where known (contract section 1.8) and are plain otherwise.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from urllib.parse import parse_qs, unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from integrations.fakes.base import Abort, FakeServer, Fault, Request, Response
from integrations.fakes.google_auth import DEFAULT_GRANTED, JWT_GRANT, SCOPE, GoogleAuth, decode_jwt, numeric_id
from integrations.fakes.google_wire import (
    STATUS_ERRORS,
    attendee_emails,
    busy_block,
    constraint,
    error_json,
    event_span,
    google_error,
    html_link,
    in_zone,
    json_body,
    meet_code,
    meet_conference,
    merge_patch,
    now_rfc3339,
    parse_time,
    query_time,
    required_time,
    rfc3339,
    seed_items,
    seed_need,
    time_zone,
)


def _scopes(*names: str) -> frozenset[str]:
    return frozenset(SCOPE + name for name in names)


FREEBUSY_SCOPES = _scopes("calendar", "calendar.events.freebusy", "calendar.freebusy", "calendar.readonly")
OTHERS_FREEBUSY_SCOPES = FREEBUSY_SCOPES - _scopes("calendar.freebusy")  # calendar.freebusy: "your calendars" only
EVENT_READ_SCOPES = _scopes("calendar", "calendar.app.created", "calendar.events", "calendar.events.freebusy",
                            "calendar.events.owned", "calendar.events.owned.readonly",
                            "calendar.events.public.readonly", "calendar.events.readonly", "calendar.readonly")
EVENT_WRITE_SCOPES = _scopes("calendar", "calendar.app.created", "calendar.events", "calendar.events.owned")
CALENDAR_LIST_SCOPES = _scopes("calendar", "calendar.calendarlist", "calendar.calendarlist.readonly",
                               "calendar.readonly")
CALENDAR_GET_SCOPES = _scopes("calendar", "calendar.app.created", "calendar.calendars", "calendar.calendars.readonly",
                              "calendar.readonly")

EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
BASE32HEX = "0123456789abcdefghijklmnopqrstuv"
CALENDAR_PATH = re.compile(r"/calendar/v3/calendars/(?P<calendar>[^/]+)(?:/.*)?")
FREEBUSY_MAX = 50
READ_ONLY = {"kind", "etag", "id", "htmlLink", "created", "updated", "organizer", "creator", "hangoutLink",
             "conferenceData", "iCalUID"}
ATTENDEE_MAY_CHANGE = {"extendedProperties", "reminders", "colorId", "transparency"}


class GoogleFake(GoogleAuth, FakeServer):
    name = "google"
    routes = GoogleAuth.auth_routes + [
        ("POST", r"/calendar/v3/freeBusy", "freebusy_query"),
        ("GET", r"/calendar/v3/users/me/calendarList", "calendar_list"),
        ("GET", r"/calendar/v3/calendars/(?P<calendar>[^/]+)", "calendar_get"),
        ("GET", r"/calendar/v3/calendars/(?P<calendar>[^/]+)/events", "events_list"),
        ("POST", r"/calendar/v3/calendars/(?P<calendar>[^/]+)/events", "events_insert"),
        ("GET", r"/calendar/v3/calendars/(?P<calendar>[^/]+)/events/(?P<event>[^/]+)", "events_get"),
        ("PATCH", r"/calendar/v3/calendars/(?P<calendar>[^/]+)/events/(?P<event>[^/]+)", "events_patch"),
        ("PUT", r"/calendar/v3/calendars/(?P<calendar>[^/]+)/events/(?P<event>[^/]+)", "events_update"),
        ("DELETE", r"/calendar/v3/calendars/(?P<calendar>[^/]+)/events/(?P<event>[^/]+)", "events_delete"),
    ]

    def __init__(self, **options: Any):
        super().__init__(**options)
        self._init_keys()

    def new_state(self) -> dict[str, Any]:
        return {"users": {}, "rooms": {}, "service_accounts": {}, "oauth_clients": {}, "refresh_tokens": {},
                "access_tokens": {}, "codes": {}, "consents": [], "calendars": {}, "conferences": {},
                "request_ids": {}, "pending": {}, "settings": {"expires_in": 3600, "meet_pending_reads": 0},
                "counter": 0}

    # ---- seed and state ------------------------------------------------------------------------------------

    def on_seed(self, data: Any) -> dict[str, int]:
        if not isinstance(data, dict):
            raise Abort(400, "expected a JSON object", field="body")
        if unknown := sorted(set(data) - {"users", "rooms", "service_accounts", "oauth_clients", "refresh_tokens",
                                          "busy", "settings"}):
            raise Abort(400, f"unknown seed key {unknown[0]!r}", field=unknown[0])
        s = self.store
        for user in seed_items(data, "users"):
            email = seed_need(user, "email", "users").lower()
            _known_zone(user.get("timezone", "UTC"), email)
            record = s["users"].setdefault(email, {"email": email, "name": email.split("@")[0], "timezone": "UTC",
                                                   "deleted": False, "private": False, "freebusy_error": None})
            record.update({k: user[k] for k in ("name", "timezone", "deleted", "private", "freebusy_error")
                           if k in user})
            self._add_calendar(email, "user", record["name"], record["timezone"], record)
        for room in seed_items(data, "rooms"):
            email = seed_need(room, "email", "rooms").lower()
            _known_zone(room.get("timezone", "UTC"), email)
            record = s["rooms"].setdefault(email, {"email": email, "name": email.split("@")[0], "timezone": "UTC"})
            record.update({k: room[k] for k in ("name", "timezone") if k in room})
            self._add_calendar(email, "room", record["name"], record["timezone"], {})
        for account in seed_items(data, "service_accounts"):
            email = seed_need(account, "client_email", "service_accounts").lower()
            s["service_accounts"][email] = {"client_email": email,
                                            "client_id": account.get("client_id") or numeric_id(email),
                                            "delegation": account.get("delegation", True),
                                            "scopes": account.get("scopes")}
            self._add_calendar(email, "service_account", email, "UTC", {})
        for client in seed_items(data, "oauth_clients"):
            client_id = seed_need(client, "client_id", "oauth_clients")
            s["oauth_clients"][client_id] = {"client_id": client_id,
                                             "client_secret": seed_need(client, "client_secret", "oauth_clients"),
                                             "redirect_uris": list(client.get("redirect_uris") or [])}
        for token in seed_items(data, "refresh_tokens"):
            client_id = seed_need(token, "client_id", "refresh_tokens")
            user = seed_need(token, "user", "refresh_tokens")
            if client_id not in s["oauth_clients"] or user.lower() not in s["users"]:
                raise Abort(400, f"refresh token {token.get('token')!r}: seed its client and user first",
                            field="refresh_tokens")
            value = seed_need(token, "token", "refresh_tokens")
            s["refresh_tokens"][value] = {"token": value, "client_id": client_id, "user": user.lower(),
                                          "scopes": list(token.get("scopes") or DEFAULT_GRANTED), "revoked": False}
        for calendar_id, blocks in (data.get("busy") or {}).items():
            calendar = s["calendars"].get(calendar_id.lower())
            if calendar is None:
                raise Abort(400, f"busy for {calendar_id!r}: seed that user or room first", field="busy")
            calendar["busy"] = sorted(calendar["busy"] + [busy_block(b) for b in blocks])
        for key, value in (data.get("settings") or {}).items():
            if key not in s["settings"] or type(value) is not int or value < (1 if key == "expires_in" else 0):
                raise Abort(400, f"settings.{key} must be a known setting with a whole number", field="settings")
            s["settings"][key] = value
        return {name: len(s[name]) for name in ("users", "rooms", "service_accounts", "oauth_clients",
                                                "refresh_tokens", "calendars")}

    def _add_calendar(self, email: str, kind: str, summary: str, timezone: str, user: dict[str, Any]) -> None:
        calendar = self.store["calendars"].setdefault(email, {"id": email, "kind": kind, "busy": [], "events": {}})
        calendar.update({"summary": summary, "timeZone": timezone, "private": bool(user.get("private")),
                         "freebusy_error": user.get("freebusy_error")})

    def state_json(self) -> dict[str, Any]:
        s = self.store
        calendars = {cid: {"id": cid, "kind": c["kind"], "summary": c["summary"], "timeZone": c["timeZone"],
                           "busy": [[rfc3339(a), rfc3339(b)] for a, b in c["busy"]],
                           "events": list(c["events"].values())}
                     for cid, c in s["calendars"].items()}
        access = [{**t, "expires_at": rfc3339(datetime.fromtimestamp(t["expires_at"], UTC))}
                  for t in s["access_tokens"].values()]
        state = {"users": list(s["users"].values()), "rooms": list(s["rooms"].values()),
                 "service_accounts": list(s["service_accounts"].values()),
                 "oauth_clients": list(s["oauth_clients"].values()), "calendars": calendars,
                 "refresh_tokens": list(s["refresh_tokens"].values()), "access_tokens": access,
                 "consents": s["consents"], "conferences": s["conferences"], "settings": s["settings"]}
        return json.loads(json.dumps(state, default=str))

    # ---- faults --------------------------------------------------------------------------------------------

    def check_fault(self, fault: Fault) -> None:
        if fault.kind in ("ignore_transaction_id", "quota_exhausted", "component_down"):
            raise Abort(400, f"the google fake has no {fault.kind} fault", field="kind")

    def fault_subjects(self, req: Request) -> set[str]:
        """The calendar in the path, the token's user, service account and client, the ids of a freeBusy body,
        and at /token the refresh token's user and client or the JWT's iss and sub."""
        subjects: set[str] = set()
        with self.lock:
            grant = self.store["access_tokens"].get((req.headers.get("Authorization") or "").removeprefix("Bearer "))
            if grant is not None:
                subjects |= {grant["principal"], grant["client_id"], grant["subject"] or grant["principal"]}
            if match := CALENDAR_PATH.fullmatch(req.path):
                calendar = unquote(match["calendar"])
                subjects |= {calendar, calendar.lower()}
            if req.path == "/calendar/v3/freeBusy":
                try:
                    subjects |= {str(i.get("id")) for i in json.loads(req.body).get("items") or []}
                except (ValueError, AttributeError):
                    pass
            if req.path == "/token":
                subjects |= self._token_subjects(req)
        return subjects | {s.lower() for s in subjects}

    def _token_subjects(self, req: Request) -> set[str]:
        form = {k: v[0] for k, v in parse_qs(req.body.decode(errors="replace")).items()}
        if stored := self.store["refresh_tokens"].get(form.get("refresh_token", "")):
            return {stored["user"], stored["client_id"], stored["token"]}
        if code := self.store["codes"].get(form.get("code", "")):
            return {code["user"], code["client_id"]}
        if form.get("grant_type") == JWT_GRANT:
            try:
                _header, claims = decode_jwt(form.get("assertion", ""))
            except Abort:
                return set()
            iss = str(claims.get("iss", "")).lower()
            account = self.store["service_accounts"].get(iss, {})
            return {iss, str(claims.get("sub") or iss), account.get("client_id", iss)}
        return {form.get("client_id", "")}

    def error_body(self, status: int, reason: str) -> dict[str, Any]:
        if reason == "body is not JSON":
            return error_json(400, "global", "parseError", "Parse Error")
        domain, google_reason, message = STATUS_ERRORS.get(status) or (
            ("global", "backendError", "Backend Error") if status >= 500 else ("global", "badRequest", reason))
        return error_json(status, domain, google_reason, message)

    def fault_response(self, fault: Fault, req: Request) -> Response:
        throttle = fault.kind == "throttle"
        status = fault.status or (429 if throttle else 503)
        headers = {"Retry-After": f"{1 if fault.retry_after is None else fault.retry_after:g}"} if throttle else {}
        if req.path in ("/token", "/revoke"):  # google-auth retries these (contract section 0 #12)
            error, description = ("rate_limit_exceeded", "Rate Limit Exceeded") if throttle else (
                "internal_failure", "Backend Error")
            return Response(status, {"error": error, "error_description": description}, headers)
        if not throttle:
            return Response(status, self.error_body(status, "error"))
        with self.lock:
            per_user = status == 403 and fault.target is not None and fault.target.lower() in self.store["users"]
        reason, message = ("userRateLimitExceeded", "User Rate Limit Exceeded") if per_user else (
            "rateLimitExceeded", "Rate Limit Exceeded")
        return Response(status, error_json(status, "usageLimits", reason, message), headers)

    # ---- access --------------------------------------------------------------------------------------------

    def _authorized(self, req: Request, accepted: frozenset[str]) -> dict[str, Any]:
        grant = self.authenticate(req)
        if not accepted & set(grant["scopes"]):
            body = error_json(403, "global", "insufficientPermissions", "Insufficient Permission")
            body["error"].update(message="Request had insufficient authentication scopes.", status="PERMISSION_DENIED")
            raise Abort(403, "insufficient scopes", body=body)
        return grant

    @staticmethod
    def _actor(grant: dict[str, Any]) -> str:
        return grant["subject"] or grant["principal"]

    def _calendar(self, grant: dict[str, Any], calendar_id: str) -> dict[str, Any] | None:
        """The calendar a path or a freeBusy item names (`primary`: the caller's), if it exists and is not deleted."""
        return self._live_calendar(self._actor(grant) if calendar_id == "primary" else calendar_id)

    def _live_calendar(self, calendar_id: str) -> dict[str, Any] | None:
        calendar = self.store["calendars"].get(calendar_id.lower())
        if calendar is None or (calendar["kind"] == "user" and not self._user_alive(calendar["id"])):
            return None
        return calendar

    def _own(self, grant: dict[str, Any], calendar_id: str, *, write: bool = False) -> dict[str, Any]:
        calendar = self._calendar(grant, calendar_id)
        if calendar is None or (calendar["id"] != self._actor(grant) and not write):
            raise google_error(404, "notFound", "Not Found")
        if calendar["id"] != self._actor(grant):
            raise google_error(403, "requiredAccessLevel", "You need to have writer access to this calendar.")
        return calendar

    def _sees_freebusy(self, grant: dict[str, Any], calendar: dict[str, Any]) -> bool:
        if calendar["id"] == self._actor(grant):
            return True
        if grant["kind"] == "service_account" and not grant["subject"]:
            return False
        return not calendar["private"] and bool(OTHERS_FREEBUSY_SCOPES & set(grant["scopes"]))

    # ---- freeBusy ------------------------------------------------------------------------------------------

    def freebusy_query(self, req: Request) -> dict[str, Any]:
        grant = self._authorized(req, FREEBUSY_SCOPES)
        body = json_body(req)
        time_min, time_max = required_time(body, "timeMin"), required_time(body, "timeMax")
        if time_max <= time_min:
            raise google_error(400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar")
        zone = time_zone(body.get("timeZone") or "UTC")
        ids = list(dict.fromkeys(str(item.get("id")) for item in body.get("items") or [] if isinstance(item, dict)))
        limit = body.get("calendarExpansionMax", FREEBUSY_MAX)
        if type(limit) is not int or not 1 <= limit <= FREEBUSY_MAX:
            raise google_error(400, "invalid", "Invalid value for: calendarExpansionMax")
        if len(ids) > limit:
            raise google_error(400, "tooManyCalendarsRequested", "Too many calendars requested.", domain="calendar")
        calendars = {}
        for calendar_id in ids:
            calendar = self._calendar(grant, calendar_id)
            if calendar is None or not self._sees_freebusy(grant, calendar):
                calendars[calendar_id] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
            elif calendar["freebusy_error"]:
                calendars[calendar_id] = {"errors": [{"domain": "global", "reason": calendar["freebusy_error"]}],
                                          "busy": []}
            else:
                busy = self._busy(calendar, time_min, time_max)
                calendars[calendar_id] = {"busy": [{"start": in_zone(a, zone), "end": in_zone(b, zone)}
                                                   for a, b in busy]}
        return {"kind": "calendar#freeBusy", "timeMin": rfc3339(time_min, ms=True),
                "timeMax": rfc3339(time_max, ms=True), "calendars": calendars}

    def _busy(self, calendar: dict[str, Any], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Seeded blocks and busy events overlapping [start, end), clipped to it and merged."""
        spans = [b for b in calendar["busy"] if b[0] < end and b[1] > start]
        for event in calendar["events"].values():
            own = next((a for a in event.get("attendees", []) if a.get("self")), {})
            if event["status"] == "cancelled" or event.get("transparency") == "transparent" \
                    or own.get("responseStatus") == "declined":
                continue
            a, b = event_span(event, calendar["timeZone"])
            if a < end and b > start:
                spans.append((a, b))
        merged: list[tuple[datetime, datetime]] = []
        for a, b in sorted((max(a, start), min(b, end)) for a, b in spans):
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            elif a < b:
                merged.append((a, b))
        return merged

    # ---- calendars -----------------------------------------------------------------------------------------

    def calendar_list(self, req: Request) -> dict[str, Any]:
        grant = self._authorized(req, CALENDAR_LIST_SCOPES)
        calendar = self._calendar(grant, "primary")
        items = [{**self._calendar_json(calendar), "kind": "calendar#calendarListEntry", "accessRole": "owner",
                  "primary": True, "selected": True, "defaultReminders": []}] if calendar else []
        return {"kind": "calendar#calendarList", "etag": self._etag(), "items": items}

    def calendar_get(self, req: Request) -> dict[str, Any]:
        grant = self._authorized(req, CALENDAR_GET_SCOPES)
        return self._calendar_json(self._own(grant, req.params["calendar"]))

    def _calendar_json(self, calendar: dict[str, Any]) -> dict[str, Any]:
        solutions = [] if calendar["kind"] == "room" else ["hangoutsMeet"]
        return {"kind": "calendar#calendar", "etag": self._etag(), "id": calendar["id"],
                "summary": calendar["summary"], "timeZone": calendar["timeZone"],
                "conferenceProperties": {"allowedConferenceSolutionTypes": solutions}}

    # ---- events: reads -------------------------------------------------------------------------------------

    def events_get(self, req: Request) -> dict[str, Any]:
        grant = self._authorized(req, EVENT_READ_SCOPES)
        calendar = self._own(grant, req.params["calendar"])
        return self._show(calendar, self._event(calendar, req.params["event"]))

    def events_list(self, req: Request) -> dict[str, Any]:
        grant = self._authorized(req, EVENT_READ_SCOPES)
        calendar = self._own(grant, req.params["calendar"])
        for unsupported in ("syncToken", "q"):
            if req.arg(unsupported) is not None:
                raise google_error(400, "badRequest", f"the google fake does not support {unsupported}")
        time_min, time_max = query_time(req, "timeMin"), query_time(req, "timeMax")
        updated_min = query_time(req, "updatedMin")
        private = [constraint(c) for c in req.query.get("privateExtendedProperty", [])]
        shared = [constraint(c) for c in req.query.get("sharedExtendedProperty", [])]
        show_deleted, ical_uid = req.arg("showDeleted") == "true", req.arg("iCalUID")
        try:
            max_results = min(int(req.arg("maxResults") or 250), 2500)
            offset = int(base64.urlsafe_b64decode(req.arg("pageToken"))) if req.arg("pageToken") else 0
        except ValueError:
            raise google_error(400, "invalid", "Invalid value for maxResults or pageToken.") from None
        if max_results < 1 or offset < 0:
            raise google_error(400, "invalid", "Invalid value for maxResults or pageToken.")
        items = []
        for event in calendar["events"].values():
            props = event.get("extendedProperties", {})
            start, end = event_span(event, calendar["timeZone"])
            if (event["status"] == "cancelled" and not show_deleted) or (ical_uid and event["iCalUID"] != ical_uid) \
                    or (time_min and end <= time_min) or (time_max and start >= time_max) \
                    or (updated_min and parse_time(event["updated"]) < updated_min) \
                    or any(props.get("private", {}).get(k) != v for k, v in private) \
                    or any(props.get("shared", {}).get(k) != v for k, v in shared):
                continue
            items.append(event)
        order = req.arg("orderBy")
        if order == "startTime":
            if req.arg("singleEvents") != "true":
                raise google_error(400, "badRequest",
                                   "The requested ordering is not available for the particular query.")
            items.sort(key=lambda e: event_span(e, calendar["timeZone"])[0])
        elif order == "updated":
            items.sort(key=lambda e: e["updated"])
        page = items[offset:offset + max_results]
        updated = max((e["updated"] for e in items), default=now_rfc3339())
        answer = {"kind": "calendar#events", "etag": self._etag(), "summary": calendar["summary"], "description": "",
                  "updated": updated, "timeZone": calendar["timeZone"],
                  "accessRole": "owner", "defaultReminders": [{"method": "popup", "minutes": 10}],
                  "items": [self._show(calendar, e) for e in page]}
        if offset + max_results < len(items):
            answer["nextPageToken"] = base64.urlsafe_b64encode(str(offset + max_results).encode()).decode()
        return answer

    def _event(self, calendar: dict[str, Any], event_id: str) -> dict[str, Any]:
        event = calendar["events"].get(event_id)
        if event is None:
            raise google_error(404, "notFound", "Not Found")
        return event

    def _show(self, calendar: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        """The event as an answer shows it; a pending Meet conference completes after `meet_pending_reads` shows."""
        key = f"{calendar['id']} {event['id']}"
        if key in self.store["pending"]:
            if self.store["pending"][key] > 0:
                self.store["pending"][key] -= 1
            else:
                del self.store["pending"][key]
                request_id = event["conferenceData"]["createRequest"]["requestId"]
                self._attach(event, self.store["conferences"][meet_code(f"{calendar['id']} {request_id}")],
                             keep_request=True)
                self._sync_copies(calendar, event, before=set())
        return copy.deepcopy(event)

    # ---- events: writes ------------------------------------------------------------------------------------

    def events_insert(self, req: Request) -> dict[str, Any]:
        grant = self._authorized(req, EVENT_WRITE_SCOPES)
        calendar = self._own(grant, req.params["calendar"], write=True)
        body = json_body(req)
        event_id = body.get("id")
        if event_id is None:
            event_id = "".join(secrets.choice(BASE32HEX) for _ in range(26))
        elif not isinstance(event_id, str) or not EVENT_ID.fullmatch(event_id):
            raise google_error(400, "invalid", "Invalid resource id value.")
        elif event_id in calendar["events"]:
            raise google_error(409, "duplicate", "The requested identifier already exists.")
        event = {k: copy.deepcopy(v) for k, v in body.items() if k not in READ_ONLY and v is not None}
        now, actor = now_rfc3339(), self._actor(grant)
        event.update({"kind": "calendar#event", "id": event_id, "status": event.get("status") or "confirmed",
                      "htmlLink": html_link(event_id, calendar["id"]), "created": now, "updated": now,
                      "iCalUID": body.get("iCalUID") or f"{event_id}@google.com",
                      "creator": {"email": actor, "self": actor == calendar["id"]},
                      "organizer": {"email": calendar["id"], "self": True}, "sequence": int(body.get("sequence") or 0),
                      "etag": self._etag()})
        if "attendees" in event:
            event["attendees"] = self._attendees(calendar, event["attendees"], [])
        self._check_event(grant, calendar, event)
        if req.arg("conferenceDataVersion") == "1" and body.get("conferenceData") is not None:
            self._conference(grant, calendar, event, body["conferenceData"])
        calendar["events"][event_id] = event
        self._sync_copies(calendar, event, before=set())
        return self._show(calendar, event)

    def events_patch(self, req: Request) -> dict[str, Any]:
        return self._modify(req, replace=False)

    def events_update(self, req: Request) -> dict[str, Any]:
        return self._modify(req, replace=True)

    def _modify(self, req: Request, *, replace: bool) -> dict[str, Any]:
        grant = self._authorized(req, EVENT_WRITE_SCOPES)
        calendar = self._own(grant, req.params["calendar"], write=True)
        event = self._event(calendar, req.params["event"])
        body = json_body(req)
        if not event["organizer"]["self"] and any(
                k not in READ_ONLY | ATTENDEE_MAY_CHANGE and body[k] != event.get(k) for k in body):
            raise google_error(403, "forbiddenForNonOrganizer",
                               "Shared properties can only be changed by the organizer of the event.",
                               domain="calendar")
        new = copy.deepcopy(event)
        if replace:
            new = {k: v for k, v in new.items() if k in READ_ONLY | {"sequence", "status"}}
        for key, value in body.items():
            if key in READ_ONLY:
                continue
            if not replace and key not in ("start", "end"):
                merge_patch(new, key, value)
            elif value is None:
                new.pop(key, None)
            else:
                new[key] = copy.deepcopy(value)
        if "attendees" in body:
            new["attendees"] = self._attendees(calendar, body["attendees"] or [], event.get("attendees", []))
        self._check_event(grant, calendar, new)
        if req.arg("conferenceDataVersion") == "1" and (replace or "conferenceData" in body):
            self._conference(grant, calendar, new, body.get("conferenceData"))
        new.update({"sequence": event["sequence"] + 1, "updated": now_rfc3339(), "etag": self._etag()})
        calendar["events"][event["id"]] = new
        if new["organizer"]["self"]:
            self._sync_copies(calendar, new, before=attendee_emails(event))
        return self._show(calendar, new)

    def events_delete(self, req: Request) -> None:
        grant = self._authorized(req, EVENT_WRITE_SCOPES)
        calendar = self._own(grant, req.params["calendar"], write=True)
        event = self._event(calendar, req.params["event"])
        if event["status"] == "cancelled":
            raise google_error(410, "deleted", "Resource has been deleted")
        event.update({"status": "cancelled", "updated": now_rfc3339(), "etag": self._etag()})
        if event["organizer"]["self"]:
            self._sync_copies(calendar, event, before=attendee_emails(event))
            return
        organiser = self.store["calendars"].get(event["organizer"]["email"], {"events": {}})
        original = organiser["events"].get(event["id"])
        for attendee in (original or {}).get("attendees", []):  # an attendee removing its copy declines
            if attendee["email"].lower() == calendar["id"]:
                attendee["responseStatus"] = "declined"

    def _check_event(self, grant: dict[str, Any], calendar: dict[str, Any], event: dict[str, Any]) -> None:
        for key in ("start", "end"):
            if not isinstance(event.get(key), dict):
                raise google_error(400, "required", f"Missing {key} time.")
        start, end = event_span(event, calendar["timeZone"])
        if end < start:
            raise google_error(400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar")
        if event.get("attendees") and grant["kind"] == "service_account" and not grant["subject"]:
            raise google_error(403, "forbiddenForServiceAccounts", "Service accounts cannot invite attendees "
                               "without Domain-Wide Delegation of Authority.", domain="calendar")

    def _attendees(self, calendar: dict[str, Any], attendees: Any, before: list[dict[str, Any]]) -> list[dict]:
        if not isinstance(attendees, list) or not all(isinstance(a, dict) and isinstance(a.get("email"), str)
                                                      for a in attendees):
            raise google_error(400, "required", "Missing attendee email.")
        previous = {a["email"].lower(): a.get("responseStatus") for a in before}
        out = []
        for attendee in attendees:
            attendee, email = dict(attendee), attendee["email"].lower()
            attendee.pop("self", None)
            room = email in self.store["rooms"]
            if room:
                attendee["resource"] = True
            if email == calendar["id"]:
                attendee.update(organizer=True, self=True)
            default = "accepted" if room or email == calendar["id"] else "needsAction"
            attendee.setdefault("responseStatus", previous.get(email) or default)
            out.append(attendee)
        return out

    def _sync_copies(self, calendar: dict[str, Any], event: dict[str, Any], *, before: set[str]) -> None:
        """One copy of the organiser's event per attendee with a calendar here, under the same id: made, updated
        or cancelled to match the event; never a second one."""
        status = {a["email"].lower(): a.get("responseStatus") for a in event.get("attendees", [])}
        for email in (set(status) | before) - {calendar["id"]}:
            target = self._live_calendar(email)
            if target is None:
                continue
            existing = target["events"].get(event["id"])
            if existing is not None and existing["organizer"]["email"] != calendar["id"]:
                continue  # that id is another organiser's event in this calendar
            declined_and_gone = status.get(email) == "declined" and (existing or {}).get("status") == "cancelled"
            if email in status and event["status"] != "cancelled" and not declined_and_gone:
                target["events"][event["id"]] = self._copy(event, target, existing)
            elif existing is not None and existing["status"] != "cancelled":
                existing.update({"status": "cancelled", "updated": now_rfc3339(), "etag": self._etag(),
                                 "sequence": event["sequence"]})

    def _copy(self, event: dict[str, Any], target: dict[str, Any], existing: dict[str, Any] | None) -> dict:
        made = copy.deepcopy(event)
        made.update({"htmlLink": html_link(event["id"], target["id"]), "etag": self._etag(),
                     "organizer": {**event["organizer"], "self": False},
                     "creator": {**event["creator"], "self": event["creator"]["email"] == target["id"]},
                     "created": existing["created"] if existing else event["updated"]})
        for attendee in made.get("attendees", []):
            attendee.pop("self", None)
            if attendee["email"].lower() == target["id"]:
                attendee["self"] = True
        props = made.pop("extendedProperties", {})
        own = (existing or {}).get("extendedProperties", {}).get("private")
        props = {k: v for k, v in {"shared": props.get("shared"), "private": own}.items() if v}
        if props:
            made["extendedProperties"] = props
        return made

    # ---- Meet ----------------------------------------------------------------------------------------------

    def _conference(self, grant: dict[str, Any], calendar: dict[str, Any], event: dict[str, Any], data: Any) -> None:
        if data is None:
            event.pop("conferenceData", None)
            event.pop("hangoutLink", None)
            return
        if not isinstance(data, dict):
            raise google_error(400, "invalid", "Invalid conference data.")
        known = self.store["conferences"].get(data.get("conferenceId") or "")
        create = data.get("createRequest")
        if known is not None:
            mine = (event.get("conferenceData") or {}).get("conferenceId") == known["conferenceId"]
            self._attach(event, known, keep_request=mine and "createRequest" in event["conferenceData"])
        elif isinstance(create, dict):
            kind = (create.get("conferenceSolutionKey") or {}).get("type")
            sa_alone = grant["kind"] == "service_account" and not grant["subject"]
            if kind != "hangoutsMeet" or sa_alone or calendar["kind"] == "room":
                raise google_error(400, "invalid", "Invalid conference type value.")
            request_id = create.get("requestId")
            if not isinstance(request_id, str) or not request_id:
                raise google_error(400, "invalid", "Invalid conference create request id.")
            slot = f"{calendar['id']} {request_id}"
            if slot in self.store["request_ids"]:
                return  # a requestId used before is ignored: no new conference
            self.store["request_ids"][slot] = event["id"]
            conference = meet_conference(request_id, slot)
            self.store["conferences"][conference["conferenceId"]] = conference
            if pending := self.store["settings"]["meet_pending_reads"]:
                request = {**copy.deepcopy(conference["createRequest"]), "status": {"statusCode": "pending"}}
                event["conferenceData"] = {"createRequest": request}
                event.pop("hangoutLink", None)
                self.store["pending"][f"{calendar['id']} {event['id']}"] = pending
            else:
                self._attach(event, conference, keep_request=True)
        elif data.get("entryPoints"):
            event["conferenceData"] = copy.deepcopy(data)
            video = next((p["uri"] for p in data["entryPoints"] if p.get("entryPointType") == "video"), None)
            if video and (data.get("conferenceSolution") or {}).get("key", {}).get("type") == "hangoutsMeet":
                event["hangoutLink"] = video
        else:
            raise google_error(400, "invalid", "Invalid conference data.")

    @staticmethod
    def _attach(event: dict[str, Any], conference: dict[str, Any], *, keep_request: bool) -> None:
        event["conferenceData"] = {k: copy.deepcopy(v) for k, v in conference.items()
                                   if keep_request or k != "createRequest"}
        event["hangoutLink"] = conference["entryPoints"][0]["uri"]

    def _etag(self) -> str:
        self.store["counter"] += 1
        return f'"{3_500_000_000_000_000 + self.store["counter"]}"'

    # ---- the demo ------------------------------------------------------------------------------------------

    @staticmethod
    def demo_busy(emails: Iterable[str], start: date | datetime, end: date | datetime, *, seed: int | str = 0,
                  fraction: float = 0.5, timezone_by_email: dict[str, str] | None = None,
                  day_start: int = 9, day_end: int = 17) -> dict[str, list[list[str]]]:
        """Busy blocks for `seed({"busy": ...})`: on weekdays from `start` to `end` (dates, end excluded), each
        person's working hours (09:00-17:00 in their zone) are walked in 30-90 minute chunks, each busy with
        probability `fraction`, so about that share of working time is busy. The same seed gives the same blocks."""
        first = start.date() if isinstance(start, datetime) else start
        last = end.date() if isinstance(end, datetime) else end
        busy: dict[str, list[list[str]]] = {}
        for email in emails:
            zone = ZoneInfo((timezone_by_email or {}).get(email, "UTC"))
            rng = random.Random(f"{seed}:{email.lower()}")
            blocks, day = [], first
            while day < last:
                if day.weekday() < 5:
                    cursor = datetime.combine(day, clock_time(day_start), zone)
                    stop = datetime.combine(day, clock_time(day_end), zone)
                    while cursor < stop:
                        length = timedelta(minutes=rng.choice((30, 45, 60, 90)))
                        if rng.random() < fraction:
                            blocks.append([rfc3339(cursor), rfc3339(min(cursor + length, stop))])
                        cursor += length
                day += timedelta(days=1)
            busy[email] = blocks
        return busy


def _known_zone(name: Any, email: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise Abort(400, f"{email}: unknown time zone {name!r}", field="timezone") from None
