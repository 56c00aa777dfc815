"""The `microsoft` fake: Microsoft Graph v1.0 (getSchedule, events, users) over plain http and the Microsoft identity
platform endpoints msal calls (OpenID configuration, `/oauth2/v2.0/token`, `/oauth2/v2.0/authorize`) over TLS with
a trustme test CA, in memory on 127.0.0.1, so that msal and requests run unchanged with only their endpoints
pointed here (contracts/calendars.md sections 0 and 2):

    fake = MicrosoftFake.start()     # fake.url: Graph (and /_fake/); fake.login_url: https, the login host
    fake.seed({"tenant": "contoso", "users": [{"email": "alice@contoso.test"}],
               "apps": [{"client_id": "cid", "client_secret": "s", "app_only": True}]})
    s = requests.Session(); s.trust_env = False; s.verify = fake.ca_pem_path   # never verify=False
    app = msal.ConfidentialClientApplication("cid", client_credential="s", authority=fake.authority("contoso"),
                                             instance_discovery=False, http_client=s)
    token = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])["access_token"]
    requests.post(fake.url + "/v1.0/users/alice@contoso.test/calendar/getSchedule", json=..., headers=...)

The identity endpoints live in microsoft_auth.py and the wire formats (errors, times, `$filter`) in
microsoft_wire.py. Both listeners serve every route; use `url` for Graph and `login_url` for msal.
Identity (under `login_url`): `GET /{tenant}/v2.0/.well-known/openid-configuration` (a doubled slash is
tolerated), `GET /common/discovery/instance`, `POST /{tenant}/oauth2/v2.0/token` (client_credentials,
authorization_code with PKCE, refresh_token), `GET /{tenant}/oauth2/v2.0/authorize`. Graph, under `/v1.0/`:
`GET users/{id}`, `POST users/{id}/calendar/getSchedule`, `GET|POST users/{id}/events` (also under
`users/{id}/calendar/events`), `GET|PATCH|DELETE users/{id}/events/{eventId}`, `POST users/{id}/events/{eventId}/
cancel`. `{id}` is an email (any case) or the mailbox's object id.

Seed (`POST /_fake/seed`; seeding adds, and updates what it names again):

    {"tenant": "contoso" (the tenant id in the authority; one per fake),
     "users": [{"email", "name"?, "timezone"? (IANA, default UTC), "deleted"? (gone: Graph 404, per-schedule
                error 5009 in getSchedule, its grants fail AADSTS50034), "teams"? (default true; false: online
                meetings get no joinUrl, like a mailbox without a Teams licence)}],
     "rooms": [{"email", "name"?, "timezone"?}],
     "apps": [{"client_id", "client_secret", "app_only"? (default false; true: admin-consented application
               permissions Calendars.ReadWrite and User.Read.All; false: a client-credentials token carries no
               roles and Graph answers 403), "redirect_uris"? (default: any)}],
     "refresh_tokens": [{"token", "client_id", "user", "scopes"? (default Calendars.ReadWrite),
                         "state"? ("valid" (default), "expired" AADSTS700082, "revoked" AADSTS50173,
                                   "consent_withdrawn" AADSTS65001)}],
     "busy": {"alice@contoso.test": [["2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z", "busy"?], ...]},
     "settings": {"expires_in"? (access-token seconds, default 3599; msal treats under 300 as expired)}}

`MicrosoftFake.demo_busy(...)` (the google fake's) makes realistic `busy` for the demo. `GET /_fake/state` answers
tenant, mailboxes ({email: {id, email, kind, name, timezone, deleted, teams, busy, events: [...]}}, attendee copies
included), apps, refresh_tokens, access_tokens, consents and settings.

Who sees what: an app-only token with `app_only` consent reads and writes every mailbox; a delegated token writes and
lists only its user's own mailbox (403 ErrorAccessDenied otherwise) and may ask getSchedule about anyone.

getSchedule: more than 20 schedules answers 400 ErrorMailboxDataArrayTooBig, a range over 62 days 400
ErrorTimeIntervalTooBig, an end before the start 400 ErrorInvalidTimeInterval; a `null`
availabilityViewInterval 500. An unknown or deleted mailbox gets `{"scheduleId", "error": {"message",
"responseCode": "5009"}}` inside the 200. scheduleItems come from seeded busy blocks and events that are not
cancelled and not `showAs: free` (unclipped), in the `Prefer: outlook.timezone` zone (default UTC);
availabilityView has one digit per interval (0 free, 1 tentative, 2 busy, 3 oof, 4 workingElsewhere, the highest
of the interval); workingHours are 08:00-17:00 Monday to Friday in the mailbox's zone.

Events: POST answers 201. A `transactionId` used before in the same mailbox returns the event it made (201) unless
that event was deleted, or the fault `ignore_transaction_id` is active, which makes a second event. An event has two
ids: the regular one and an immutable one, answered when the request sends `Prefer: IdType="ImmutableId"`; paths
take either; neither ever changes (the fake has no folders). `singleValueExtendedProperties` are stored on the
organiser's event and returned only with `$expand=singleValueExtendedProperties($filter=id eq '...')`; `$filter`
takes `singleValueExtendedProperties/Any(ep: ep/id eq '...' and ep/value eq '...')` and simple comparisons (see
microsoft_wire.event_filter). `isOnlineMeeting` with `onlineMeetingProvider: teamsForBusiness` (the default
provider) fills `onlineMeeting.joinUrl` and `conferenceId`. Each attendee (user or room) that is a mailbox here gets
a copy with its own ids and the same iCalUId: users `responseStatus.response: notResponded` and `showAs:
tentative`, rooms `accepted` and busy; the organiser's `attendees[].status` shows rooms accepted and people
`none`. PATCH merges top-level fields and updates the copies (a removed attendee's copy is cancelled); DELETE
answers 204, removes the organiser's event (a later GET, PATCH or DELETE answers 404 ErrorItemNotFound) and
cancels the copies (`isCancelled: true`, subject prefixed "Canceled: "), which getSchedule then treats as free.
Listing: `$top` (default 10, at most 1000), `$skip`, `@odata.nextLink` with an absolute URL on this host,
`$select`, `$orderby=start/dateTime`. Times come back as `{"dateTime": "...0000000", "timeZone"}` in the
`Prefer: outlook.timezone` zone (default UTC).

Faults (`target`: a path prefix, the mailbox in the path, the token's user or client id, or, at the token endpoint,
the client id and the refresh token's or code's user): `throttle` 429 ApplicationThrottled with Retry-After
(AAD-shaped at the token endpoint); `error` 503 serviceNotAvailable or the `status` given (504 UnknownError), with
Retry-After when `retry_after` is set; `slow`, `timeout`, `drop` as in base.py; `revoke`: a refresh of the named
grant answers 400 invalid_grant AADSTS50173 and revokes the grant for good, a client-credentials request answers
400 invalid_grant AADSTS65001 and withdraws the admin consent until the app is seeded again, and while the fault
lasts Graph answers 401 InvalidAuthenticationToken to the grant's tokens (continuous access evaluation); after it
Graph refuses tokens issued before the revocation; `bad_credentials`: 401 invalid_client AADSTS7000215;
`expire_token`: the next Graph call with a valid token answers 401 InvalidAuthenticationToken and forgets the
token, so the client must drop its cached token (msal's `remove_tokens_for_client`) and acquire again;
`ignore_transaction_id` (target: the mailbox) as above.

Departures from the real service, and why:
- The getSchedule limit is the documented 20 schedules, where the server has been seen to take up to 100, so that
  the adapter's batching is tested against the documented limit. A range of exactly 62 days is accepted.
- What Graph answers to a repeated transactionId is undocumented; the fake returns the first event (201).
- A `revoke` fault on an app-only client answers invalid_grant AADSTS65001 at the token endpoint; the real service
  would more likely issue a token without roles and Graph would answer 403. The adapter must turn both red.
- The id_token's signature is random bytes (no JWKS served): msal does not check it, and nor may our code.
- The access tokens are opaque strings, not JWTs (msal never reads them). Scopes of delegated tokens are not
  enforced per Graph call.
- No `/me`, calendarView, delta, `$batch`, recurrence expansion or distribution-list expansion. Event PATCH never
  turns a Teams meeting back into a plain one when the body is replaced. Attendees' copies never respond on their
  own except rooms (accept at once); deleting a copy does not decline.
- Windows time-zone names are accepted only for a short list (microsoft_wire.WINDOWS_ZONES).
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from integrations.fakes.base import Abort, FakeServer, Fault, Request, Response
from integrations.fakes.google import GoogleFake
from integrations.fakes.microsoft_auth import MicrosoftAuth
from integrations.fakes.microsoft_wire import (
    EXPAND_PROPS,
    GRAPH_ERRORS,
    STATUS_DIGITS,
    STATUS_RANK,
    busy_block,
    event_filter,
    graph_error,
    graph_error_json,
    graph_time,
    new_id,
    parse_graph_time,
    parse_iso,
    prefer,
    seed_items,
    seed_need,
    zone,
)

GRAPH_ROOT = "/v1.0/users/(?P<user>[^/]+)"
SCHEDULE_MAX = 20
RANGE_MAX = timedelta(days=62)
READ_ONLY = {"id", "iCalUId", "changeKey", "createdDateTime", "lastModifiedDateTime", "organizer", "isOrganizer",
             "webLink", "onlineMeeting", "responseStatus", "isCancelled", "@odata.etag", "transactionId",
             "singleValueExtendedProperties", "type"}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]


class MicrosoftFake(MicrosoftAuth, FakeServer):
    name = "microsoft"
    routes = MicrosoftAuth.auth_routes + [
        ("GET", GRAPH_ROOT, "user_get"),
        ("POST", GRAPH_ROOT + "/calendar/getSchedule", "get_schedule"),
        ("GET", GRAPH_ROOT + "(?:/calendar)?/events", "events_list"),
        ("POST", GRAPH_ROOT + "(?:/calendar)?/events", "events_create"),
        ("GET", GRAPH_ROOT + "(?:/calendar)?/events/(?P<event>[^/]+)", "events_get"),
        ("PATCH", GRAPH_ROOT + "(?:/calendar)?/events/(?P<event>[^/]+)", "events_patch"),
        ("DELETE", GRAPH_ROOT + "(?:/calendar)?/events/(?P<event>[^/]+)", "events_delete"),
        ("POST", GRAPH_ROOT + "(?:/calendar)?/events/(?P<event>[^/]+)/cancel", "events_cancel"),
    ]
    demo_busy = staticmethod(GoogleFake.demo_busy)

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.login_url = ""
        self.ca_pem_path = ""

    def on_start(self) -> None:
        self._start_login()

    def on_stop(self) -> None:
        if getattr(self, "_ca_dir", None) is not None:
            self._ca_dir.cleanup()

    def extra_listeners(self) -> list[str]:
        # The second line names the test CA a client run in another process must trust (devstack reads it).
        return [f"microsoft login on {self.login_url}", f"microsoft login ca {self.ca_pem_path}"]

    def new_state(self) -> dict[str, Any]:
        return {"tenant": None, "mailboxes": {}, "apps": {}, "refresh_tokens": {}, "access_tokens": {},
                "codes": {}, "consents": [], "revoked_at": {}, "transactions": {},
                "settings": {"expires_in": 3599}, "counter": 0}

    # ---- seed and state ------------------------------------------------------------------------------------

    def on_seed(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise Abort(400, "expected a JSON object", field="body")
        if unknown := sorted(set(data) - {"tenant", "users", "rooms", "apps", "refresh_tokens", "busy", "settings"}):
            raise Abort(400, f"unknown seed key {unknown[0]!r}", field=unknown[0])
        s = self.store
        if "tenant" in data:
            if not isinstance(data["tenant"], str) or not data["tenant"] or "/" in data["tenant"]:
                raise Abort(400, "tenant must be a tenant id", field="tenant")
            s["tenant"] = data["tenant"]
        for kind, key in (("user", "users"), ("room", "rooms")):
            for item in seed_items(data, key):
                email = seed_need(item, "email", key).lower()
                _known_zone(item.get("timezone", "UTC"), email)
                box = s["mailboxes"].setdefault(email, {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, email)), "email": email, "kind": kind,
                    "name": email.split("@")[0], "timezone": "UTC", "deleted": False, "teams": kind == "user",
                    "busy": [], "events": {}})
                box.update({k: item[k] for k in ("name", "timezone", "deleted", "teams") if k in item})
        for app in seed_items(data, "apps"):
            client_id = seed_need(app, "client_id", "apps")
            s["apps"][client_id] = {"client_id": client_id, "client_secret": seed_need(app, "client_secret", "apps"),
                                    "app_only": bool(app.get("app_only", False)),
                                    "redirect_uris": list(app.get("redirect_uris") or []), "consent_revoked": False}
        for token in seed_items(data, "refresh_tokens"):
            value = seed_need(token, "token", "refresh_tokens")
            client_id, user = seed_need(token, "client_id", "refresh_tokens"), seed_need(token, "user",
                                                                                        "refresh_tokens").lower()
            if client_id not in s["apps"] or s["mailboxes"].get(user, {}).get("kind") != "user":
                raise Abort(400, f"refresh token {value!r}: seed its app and user first", field="refresh_tokens")
            state = token.get("state", "valid")
            if state not in ("valid", "expired", "revoked", "consent_withdrawn"):
                raise Abort(400, "state must be valid, expired, revoked or consent_withdrawn", field="refresh_tokens")
            scopes = token.get("scopes") or ["https://graph.microsoft.com/Calendars.ReadWrite"]
            s["refresh_tokens"][value] = {"token": value, "client_id": client_id, "user": user,
                                          "scopes": list(scopes), "state": state}
        busy = data.get("busy") or {}
        if not isinstance(busy, dict):
            raise Abort(400, "busy must map an email to blocks", field="busy")
        for email, blocks in busy.items():
            box = s["mailboxes"].get(email.lower())
            if box is None or not isinstance(blocks, list):
                raise Abort(400, f"busy for {email!r}: seed that user or room first, with a list", field="busy")
            box["busy"] = sorted(box["busy"] + [busy_block(b) for b in blocks])
        for key, value in (data.get("settings") or {}).items():
            if key not in s["settings"] or type(value) is not int or value < 1:
                raise Abort(400, f"settings.{key} must be a known setting with a positive whole number",
                            field="settings")
            s["settings"][key] = value
        return {"tenant": s["tenant"], "mailboxes": len(s["mailboxes"]), "apps": len(s["apps"]),
                "refresh_tokens": len(s["refresh_tokens"])}

    def state_json(self) -> dict[str, Any]:
        s = self.store
        boxes = {email: {**{k: v for k, v in box.items() if k not in ("busy", "events")},
                         "busy": [[a.isoformat(), b.isoformat(), status] for a, b, status in box["busy"]],
                         "events": list(box["events"].values())}
                 for email, box in s["mailboxes"].items()}
        state = {"tenant": s["tenant"], "mailboxes": boxes, "apps": list(s["apps"].values()),
                 "refresh_tokens": list(s["refresh_tokens"].values()),
                 "access_tokens": list(s["access_tokens"].values()), "consents": s["consents"],
                 "settings": s["settings"]}
        return json.loads(json.dumps(state, default=str))

    # ---- faults and errors -----------------------------------------------------------------------------------

    def check_fault(self, fault: Fault) -> None:
        if fault.kind in ("quota_exhausted", "component_down"):
            raise Abort(400, f"the microsoft fake has no {fault.kind} fault", field="kind")

    def fault_subjects(self, req: Request) -> set[str]:
        subjects: set[str] = set()
        with self.lock:
            grant = self.store["access_tokens"].get((req.headers.get("Authorization") or "").removeprefix("Bearer "))
            if grant is not None:
                subjects |= {grant["client_id"]} | ({grant["user"]} if grant["user"] else set())
            parts = req.path.split("/")
            if len(parts) > 3 and parts[1:3] == ["v1.0", "users"]:
                subjects.add(unquote(parts[3]).lower())
            if req.path.endswith("/oauth2/v2.0/token"):
                form = {}
                try:
                    form = req.form()
                except (UnicodeDecodeError, ValueError):
                    pass
                subjects.add(form.get("client_id", ""))
                stored = self.store["refresh_tokens"].get(form.get("refresh_token", "")) or \
                    self.store["codes"].get(form.get("code", ""))
                if stored:
                    subjects.add(stored["user"])
        return subjects

    def _is_login(self, req: Request) -> bool:
        return "/oauth2/" in req.path or req.path.endswith("openid-configuration")

    def error_body(self, status: int, reason: str) -> dict[str, Any]:
        if reason == "body is not JSON":
            return graph_error_json("BadRequest", "Unable to read JSON request payload. Please ensure Content-Type "
                                                  "header is set and payload is of valid JSON format.")
        code, message = GRAPH_ERRORS.get(status) or ("UnknownError", reason)
        if reason not in ("error", "throttled", "not_found", "method_not_allowed", "internal") and status == 400:
            message = reason
        if reason == "not_found":
            code, message = "BadRequest", "Resource not found for the segment."
        return graph_error_json(code, message)

    def fault_response(self, fault: Fault, req: Request) -> Response:
        throttle = fault.kind == "throttle"
        status = fault.status or (429 if throttle else 503)
        headers = {}
        if throttle or fault.retry_after is not None:
            headers["Retry-After"] = f"{1 if fault.retry_after is None else fault.retry_after:g}"
        if self._is_login(req):
            body = {"error": "temporarily_unavailable",
                    "error_description": "AADSTS90033: A transient error has occurred. Please try again.",
                    "error_codes": [90033]}
            return Response(status, body, headers)
        code, message = GRAPH_ERRORS.get(status) or ("UnknownError", "error")
        if throttle and status != 429:
            code, message = "TooManyRequests", "Too many requests."
        return Response(status, graph_error_json(code, message, req.headers.get("client-request-id")), headers)

    def on_response(self, req: Request, resp: Response) -> None:
        if req.path.startswith("/v1.0/"):
            request_id = str(uuid.uuid4())
            resp.headers.setdefault("request-id", request_id)
            resp.headers.setdefault("client-request-id", req.headers.get("client-request-id") or request_id)

    # ---- access --------------------------------------------------------------------------------------------

    def _grant(self, req: Request) -> dict[str, Any]:
        grant = self.authenticate(req)
        if grant["kind"] == "app" and not grant["roles"]:
            raise graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return grant

    def _mailbox(self, req: Request, grant: dict[str, Any], *, own: bool = True) -> dict[str, Any]:
        """The mailbox in the path: 404 ErrorInvalidUser if unknown or deleted, 403 for another user's mailbox
        under a delegated token (unless `own` is False)."""
        key = req.params["user"].lower()
        box = self.store["mailboxes"].get(key) or next(
            (b for b in self.store["mailboxes"].values() if b["id"] == key), None)
        if box is None or box["deleted"]:
            raise graph_error(404, "ErrorInvalidUser", f"The requested user '{req.params['user']}' is invalid.")
        if own and grant["kind"] == "user" and box["email"] != grant["user"]:
            raise graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return box

    # ---- users ---------------------------------------------------------------------------------------------

    def user_get(self, req: Request) -> dict[str, Any]:
        self._grant(req)
        key = req.params["user"].lower()
        box = self.store["mailboxes"].get(key) or next(
            (b for b in self.store["mailboxes"].values() if b["id"] == key), None)
        if box is None or box["deleted"]:
            raise graph_error(404, "Request_ResourceNotFound", f"Resource '{req.params['user']}' does not exist or "
                                                               "one of its queried reference-property objects are "
                                                               "not present.")
        return {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity", "id": box["id"],
                "displayName": box["name"], "mail": box["email"], "userPrincipalName": box["email"],
                "businessPhones": [], "givenName": None, "surname": None, "jobTitle": None,
                "mobilePhone": None, "officeLocation": None, "preferredLanguage": None}

    # ---- getSchedule ---------------------------------------------------------------------------------------

    def get_schedule(self, req: Request) -> dict[str, Any]:
        grant = self._grant(req)
        self._mailbox(req, grant, own=grant["kind"] == "user")
        body = _json_object(req)
        schedules = body.get("schedules")
        if not isinstance(schedules, list) or not schedules or not all(isinstance(x, str) for x in schedules):
            raise graph_error(400, "ErrorInvalidParameter", "schedules must be a non-empty list of SMTP addresses.")
        if len(schedules) > SCHEDULE_MAX:
            raise graph_error(400, "ErrorMailboxDataArrayTooBig", f"The MailboxData array has too many elements. "
                                                                  f"(allowed size = {SCHEDULE_MAX})")
        start, end = parse_graph_time(body.get("startTime"), "startTime"), parse_graph_time(body.get("endTime"),
                                                                                            "endTime")
        if end <= start:
            raise graph_error(400, "ErrorInvalidTimeInterval", "The time interval is invalid.")
        if end - start > RANGE_MAX:
            raise graph_error(400, "ErrorTimeIntervalTooBig", "The time interval is too big. (allowed limit = 62 "
                                                              "days)")
        interval = body.get("availabilityViewInterval", 30)
        if interval is None:
            raise graph_error(500, "ErrorInternalServerError", "An internal server error occurred.")
        if type(interval) is not int or not 5 <= interval <= 1440:
            raise graph_error(400, "ErrorInvalidParameter", "availabilityViewInterval must be between 5 and 1440.")
        zone_name = prefer(req).get("outlook.timezone") or "UTC"
        zone_name = zone_name if zone(zone_name) else "UTC"
        answers = []
        for schedule in schedules:
            box = self.store["mailboxes"].get(schedule.lower())
            if box is None or box["deleted"]:
                answers.append({"scheduleId": schedule, "error": {
                    "message": f"Unable to resolve e-mail address {schedule} to an Active Directory object.",
                    "responseCode": "5009"}})
                continue
            items = self._schedule_items(box, start, end)
            answers.append({
                "scheduleId": schedule,
                "availabilityView": _availability_view(items, start, end, timedelta(minutes=interval)),
                "scheduleItems": [{k: v for k, v in {
                    "isPrivate": False, "status": status, "subject": subject, "location": location,
                    "isMeeting": meeting, "isRecurring": False, "isException": False, "isReminderSet": False,
                    "start": graph_time(a, zone_name), "end": graph_time(b, zone_name)}.items() if v is not None}
                    for a, b, status, subject, location, meeting in items],
                "workingHours": {"daysOfWeek": WEEKDAYS, "startTime": "08:00:00.0000000",
                                 "endTime": "17:00:00.0000000", "timeZone": {"name": box["timezone"]}}})
        return {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection("
                                  "microsoft.graph.scheduleInformation)", "value": answers}

    def _schedule_items(self, box: dict[str, Any], start: datetime, end: datetime) -> list[tuple]:
        items = [(a, b, status, None, None, False) for a, b, status in box["busy"] if a < end and b > start]
        for event in box["events"].values():
            a, b = parse_iso(event["_start"]), parse_iso(event["_end"])
            if event["isCancelled"] or event.get("showAs", "busy") in ("free", "unknown") or not a < end or b <= start:
                continue
            location = (event.get("location") or {}).get("displayName") or None
            items.append((a, b, event.get("showAs", "busy"), event.get("subject") or None, location,
                          bool(event.get("attendees"))))
        return sorted(items, key=lambda item: (item[0], item[1]))

    # ---- events: reads -------------------------------------------------------------------------------------

    def events_list(self, req: Request) -> dict[str, Any]:
        grant = self._grant(req)
        box = self._mailbox(req, grant)
        events = list(box["events"].values())
        if text := req.arg("$filter"):
            events = [e for e in events if event_filter(text)(e)]
        order = (req.arg("$orderby") or "").strip()
        if order:
            field, _, direction = order.partition(" ")
            if field.lower() not in ("start/datetime", "end/datetime", "createddatetime", "lastmodifieddatetime"):
                raise graph_error(400, "BadRequest", f"Could not find a property named '{field}' on type "
                                                     "'microsoft.graph.event'.")
            key = {"start/datetime": "_start", "end/datetime": "_end"}.get(field.lower(), field)
            events.sort(key=lambda e: parse_iso(e[key]) if key.startswith("_") else e[key],
                        reverse=direction.strip().lower() == "desc")
        try:
            top, skip = int(req.arg("$top") or 10), int(req.arg("$skip") or 0)
        except ValueError:
            raise graph_error(400, "BadRequest", "Invalid $top or $skip value.") from None
        if not 1 <= top <= 1000 or skip < 0:
            raise graph_error(400, "BadRequest", "Invalid $top or $skip value.")
        page = [self._show(req, e) for e in events[skip:skip + top]]
        answer: dict[str, Any] = {"@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#users('"
                                                    f"{box['email']}')/events", "value": page}
        if skip + top < len(events):
            query = {k: v[0] for k, v in req.query.items()}
            query.update({"$top": str(top), "$skip": str(skip + top)})
            host = req.headers.get("Host") or self.url.split("//")[1]
            answer["@odata.nextLink"] = f"http://{host}{req.path}?{urlencode(query)}"
        return answer

    def events_get(self, req: Request) -> dict[str, Any]:
        grant = self._grant(req)
        box = self._mailbox(req, grant)
        return self._show(req, self._event(box, req.params["event"]))

    def _event(self, box: dict[str, Any], event_id: str) -> dict[str, Any]:
        for event in box["events"].values():
            if event_id in (event["id"], event["_immutable_id"]):
                return event
        raise graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")

    def _show(self, req: Request, event: dict[str, Any]) -> dict[str, Any]:
        """The event as Graph answers it to this request: the id kind, the time zone, $select and $expand."""
        prefs = prefer(req)
        zone_name = prefs.get("outlook.timezone") or "UTC"
        zone_name = zone_name if zone(zone_name) else "UTC"
        shown = {k: copy.deepcopy(v) for k, v in event.items() if not k.startswith("_")
                 and k != "singleValueExtendedProperties"}
        shown["@odata.etag"] = f'W/"{event["changeKey"]}"'
        if prefs.get("idtype", "").lower() == "immutableid":
            shown["id"] = event["_immutable_id"]
        shown["start"] = graph_time(parse_iso(event["_start"]), zone_name)
        shown["end"] = graph_time(parse_iso(event["_end"]), zone_name)
        if not event.get("transactionId"):
            shown.pop("transactionId", None)
        if expand := req.arg("$expand"):
            match = EXPAND_PROPS.fullmatch(expand.strip())
            if not match:
                raise graph_error(400, "BadRequest", f"Parsing OData Select and Expand failed: Could not find a "
                                                     f"property named '{expand}' on type 'microsoft.graph.event'.")
            wanted = match[1].replace("''", "'").lower() if match[1] else None
            props = [dict(p) for p in event.get("singleValueExtendedProperties", [])
                     if wanted is None or p["id"].lower() == wanted]
            if props:
                shown["singleValueExtendedProperties"] = props
        if select := req.arg("$select"):
            keep = {s.strip() for s in select.split(",")} | {"id", "@odata.etag", "singleValueExtendedProperties"}
            shown = {k: v for k, v in shown.items() if k in keep}
        return shown

    # ---- events: writes ------------------------------------------------------------------------------------

    def events_create(self, req: Request) -> Response:
        grant = self._grant(req)
        box = self._mailbox(req, grant)
        body = _json_object(req)
        transaction = body.get("transactionId")
        if transaction is not None and not isinstance(transaction, str):
            raise graph_error(400, "BadRequest", "transactionId must be a string.")
        slot = f"{box['email']} {transaction}"
        if transaction and slot in self.store["transactions"]:
            existing = box["events"].get(self.store["transactions"][slot])
            if existing is not None and not self.fault_active("ignore_transaction_id", req=req):
                return Response(201, self._show(req, existing))
        start, end = parse_graph_time(body.get("start"), "start"), parse_graph_time(body.get("end"), "end")
        if end < start:
            raise graph_error(400, "ErrorInvalidRequest", "The end of the event must be after its start.")
        props = _extended_properties(body.get("singleValueExtendedProperties"))
        now = _now()
        event = {k: copy.deepcopy(v) for k, v in body.items() if k not in READ_ONLY and v is not None}
        event_id = new_id("AAMkA")
        event.update({
            "id": event_id, "_immutable_id": new_id("AAkALg"), "_start": start.isoformat(), "_end": end.isoformat(),
            "originalStartTimeZone": body["start"].get("timeZone") or "UTC",
            "originalEndTimeZone": body["end"].get("timeZone") or "UTC",
            "iCalUId": "040000008200E00074C5B7101A82E008" + hashlib.sha256(event_id.encode()).hexdigest().upper(),
            "createdDateTime": now, "lastModifiedDateTime": now, "changeKey": self._change_key(),
            "subject": body.get("subject") or "", "isOrganizer": True, "isCancelled": False, "isAllDay": False,
            "showAs": body.get("showAs") or "busy", "type": "singleInstance", "sensitivity": "normal",
            "importance": body.get("importance") or "normal", "responseRequested": True, "isDraft": False,
            "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
            "organizer": {"emailAddress": {"name": box["name"], "address": box["email"]}},
            "webLink": f"https://outlook.office365.com/owa/?itemid={event_id}&exvsurl=1&path=/calendar/item",
            "isOnlineMeeting": bool(body.get("isOnlineMeeting")), "onlineMeetingUrl": None,
            "onlineMeetingProvider": body.get("onlineMeetingProvider") or "unknown", "onlineMeeting": None,
            "transactionId": transaction, "singleValueExtendedProperties": props,
            "_copies": {}})
        event["attendees"] = self._attendees(box, body.get("attendees") or [], [])
        self._online_meeting(box, event)
        box["events"][event_id] = event
        if transaction:
            self.store["transactions"][slot] = event_id
        self._sync_copies(box, event)
        return Response(201, self._show(req, event))

    def events_patch(self, req: Request) -> dict[str, Any]:
        grant = self._grant(req)
        box = self._mailbox(req, grant)
        event = self._event(box, req.params["event"])
        body = _json_object(req)
        if not event["isOrganizer"] and set(body) - {"categories", "showAs", "isReminderOn",
                                                     "reminderMinutesBeforeStart"}:
            raise graph_error(400, "ErrorInvalidRequest", "Your request can't be completed. Only the meeting "
                                                          "organizer can update these properties.")
        start = parse_graph_time(body["start"], "start") if "start" in body else parse_iso(event["_start"])
        end = parse_graph_time(body["end"], "end") if "end" in body else parse_iso(event["_end"])
        if end < start:
            raise graph_error(400, "ErrorInvalidRequest", "The end of the event must be after its start.")
        for key, value in body.items():
            if key in READ_ONLY:
                if key == "singleValueExtendedProperties":
                    merged = {p["id"].lower(): p for p in event["singleValueExtendedProperties"]}
                    merged.update({p["id"].lower(): p for p in _extended_properties(value)})
                    event["singleValueExtendedProperties"] = list(merged.values())
                continue
            if key == "attendees":
                event["attendees"] = self._attendees(box, value or [], event["attendees"])
            elif value is None:
                event.pop(key, None)
            else:
                event[key] = copy.deepcopy(value)
        event.update({"_start": start.isoformat(), "_end": end.isoformat(), "lastModifiedDateTime": _now(),
                      "changeKey": self._change_key()})
        if "start" in body:
            event["originalStartTimeZone"] = body["start"].get("timeZone") or "UTC"
        if "end" in body:
            event["originalEndTimeZone"] = body["end"].get("timeZone") or "UTC"
        event["isOnlineMeeting"] = bool(event.get("isOnlineMeeting"))
        self._online_meeting(box, event)
        if event["isOrganizer"]:
            self._sync_copies(box, event)
        return self._show(req, event)

    def events_delete(self, req: Request) -> None:
        grant = self._grant(req)
        box = self._mailbox(req, grant)
        event = self._event(box, req.params["event"])
        del box["events"][event["id"]]
        if event["isOrganizer"]:
            event["isCancelled"] = True
            self._sync_copies(box, event)

    def events_cancel(self, req: Request) -> Response:
        grant = self._grant(req)
        box = self._mailbox(req, grant)
        event = self._event(box, req.params["event"])
        if not event["isOrganizer"]:
            raise graph_error(400, "ErrorAccessDenied", "Your request can't be completed. You need to be an "
                                                        "organizer to cancel a meeting.")
        del box["events"][event["id"]]
        event["isCancelled"] = True
        self._sync_copies(box, event)
        return Response(202, b"")

    def _attendees(self, box: dict[str, Any], attendees: Any, before: list[dict[str, Any]]) -> list[dict]:
        if not isinstance(attendees, list) or not all(
                isinstance(a, dict) and isinstance((a.get("emailAddress") or {}).get("address"), str)
                for a in attendees):
            raise graph_error(400, "ErrorInvalidRequest", "Each attendee needs emailAddress.address.")
        previous = {a["emailAddress"]["address"].lower(): a.get("status") for a in before}
        out = []
        for attendee in attendees:
            email = attendee["emailAddress"]["address"].lower()
            target = self.store["mailboxes"].get(email)
            room = target is not None and target["kind"] == "room" and not target["deleted"]
            default = {"response": "accepted" if room else "none", "time": _now() if room else
                       "0001-01-01T00:00:00Z"}
            out.append({"type": attendee.get("type") or ("resource" if room else "required"),
                        "status": previous.get(email) or default,
                        "emailAddress": {"name": attendee["emailAddress"].get("name") or
                                         (target["name"] if target else email),
                                         "address": attendee["emailAddress"]["address"]}})
        return out

    def _online_meeting(self, box: dict[str, Any], event: dict[str, Any]) -> None:
        if not event["isOnlineMeeting"]:
            event["onlineMeeting"] = None
            return
        provider = event.get("onlineMeetingProvider")
        if provider in (None, "unknown"):
            event["onlineMeetingProvider"] = provider = "teamsForBusiness"
        if event.get("onlineMeeting") or provider != "teamsForBusiness" or not box["teams"]:
            return
        thread = hashlib.sha256(event["id"].encode()).hexdigest()[:40]
        tenant, organiser = self.store["tenant"], box["id"]
        context = json.dumps({"Tid": tenant, "Oid": organiser}, separators=(",", ":"))
        event["onlineMeeting"] = {
            "joinUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{thread}%40thread.v2/0?context="
                       + quote(context, safe=""),
            "conferenceId": str(int(thread[:12], 16))[:9], "tollNumber": "+1 555-0100"}

    def _sync_copies(self, box: dict[str, Any], event: dict[str, Any]) -> None:
        """One copy of the organiser's event per attendee mailbox (own ids, same iCalUId), made, updated or
        cancelled to match; never a second one."""
        wanted = {a["emailAddress"]["address"].lower() for a in event["attendees"]} - {box["email"]}
        for email in wanted | set(event["_copies"]):
            target = self.store["mailboxes"].get(email)
            if target is None or target["deleted"]:
                continue
            existing = target["events"].get(event["_copies"].get(email, ""))
            if email in wanted and not event["isCancelled"]:
                made = copy.deepcopy({k: v for k, v in event.items() if k not in (
                    "transactionId", "singleValueExtendedProperties", "_copies")})
                room = target["kind"] == "room"
                made.update({
                    "id": existing["id"] if existing else new_id("AAMkA"),
                    "_immutable_id": existing["_immutable_id"] if existing else new_id("AAkALg"),
                    "isOrganizer": False, "_copies": {}, "transactionId": None, "singleValueExtendedProperties": [],
                    "createdDateTime": existing["createdDateTime"] if existing else event["lastModifiedDateTime"],
                    "showAs": ("busy" if room else "tentative") if not existing or existing["responseStatus"][
                        "response"] == "notResponded" else existing["showAs"],
                    "responseStatus": existing["responseStatus"] if existing else {
                        "response": "accepted" if room else "notResponded",
                        "time": _now() if room else "0001-01-01T00:00:00Z"},
                    "changeKey": self._change_key()})
                made["webLink"] = made["webLink"].replace(event["id"], made["id"])
                target["events"][made["id"]] = made
                event["_copies"][email] = made["id"]
            elif existing is not None and not existing["isCancelled"]:
                existing.update({"isCancelled": True, "subject": "Canceled: " + existing["subject"],
                                 "lastModifiedDateTime": _now(), "changeKey": self._change_key()})

    def _change_key(self) -> str:
        self.store["counter"] += 1
        return hashlib.sha256(str(self.store["counter"]).encode()).hexdigest()[:28]


def _json_object(req: Request) -> dict[str, Any]:
    body = req.json()
    if not isinstance(body, dict):
        raise graph_error(400, "BadRequest", "Unable to read JSON request payload.")
    return body


def _extended_properties(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
            isinstance(p, dict) and isinstance(p.get("id"), str) and isinstance(p.get("value"), str) for p in value):
        raise graph_error(400, "BadRequest", "singleValueExtendedProperties must be a list of {id, value} strings.")
    for prop in value:
        if prop["id"].split(" ")[0].lower() not in ("string", "integer", "boolean", "systime", "long", "double"):
            raise graph_error(400, "ErrorInvalidProperty", f"The property '{prop['id']}' is not a valid extended "
                                                           "property id.")
    return [{"id": p["id"], "value": p["value"]} for p in value]


def _availability_view(items: list[tuple], start: datetime, end: datetime, step: timedelta) -> str:
    digits, cursor = [], start
    while cursor < end:
        stop = cursor + step
        overlapping = [item[2] for item in items if item[0] < stop and item[1] > cursor]
        digits.append(STATUS_DIGITS[max(overlapping, key=STATUS_RANK.get)] if overlapping else "0")
        cursor = stop
    return "".join(digits)


def _now() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond * 10:07d}Z"


def _known_zone(name: Any, email: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise Abort(400, f"{email}: unknown time zone {name!r}", field="timezone") from None
