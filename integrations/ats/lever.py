"""Lever through its Data API v1 and its signed webhooks, on requests.

`LeverAts` implements `integrations.ats.base.AtsProvider` for one `AtsConnection`. Provider facts are in
/work/shared/contracts/greenhouse-lever.md, section 2; the numbers below (§2.2...) point there.

Credentials (`AtsConnection.credentials`): `{"api_key"}`; or an OAuth 2.0 client, `{"client_id", "client_secret"}`,
signed in by a Lever super admin from the connection's page, which adds `access_token`, `refresh_token` and
`access_token_expires_at` (`integrations.ats.lever_oauth`: the token is refreshed when it is about to expire or
Lever answers 401, the rotated refresh token saved under a row lock, and a revoked grant is a permanent "auth" error
whose fix, `fix_link`, is that sign-in); or a bare `{"access_token"}` obtained elsewhere (used as is, never
refreshed). `"perform_as"` (the Lever user id
writes are attributed to, §2.1; required with an API key, since the key itself is nobody), and the webhook signature
tokens: `"signature_tokens": {"candidateStageChange": "...", ...}` (one per event type, the safe reading of §3 #9),
or `"webhook_secret"`, used for any event without its own token (the account-wide reading).

Auth (§2.1): an API key is HTTP Basic with the key as username and an empty password; an OAuth token is
`Authorization: Bearer`. "auth" is proven by a cheap read (which refreshes an OAuth token first when it must).

Transport: one `requests.Session` per instance, `allow_redirects=False`. Each call runs inside
`integrations.http.call_with_retries`: 429, 5xx, timeouts and connection errors are retried through the shared
sleeper with exponential backoff and jitter, honouring `Retry-After` when Lever sends one (undocumented, §2.4).
Lever sends no rate-limit headers, so there is nothing to pace on besides the 429 itself.

Reads (§2.2, §2.4): the job is a posting (`GET /v1/postings?state=published`); stages belong to the account, not
the posting, so every job carries the account's stages in `/v1/stages` order. The application is an opportunity
(`GET /v1/opportunities/{id}?expand=stage&expand=applications`): its job is the first application's `posting`, its
candidate the `contact` (the person; one person can have several opportunities), read from `/v1/contacts/{id}`
(`name` is split at its first space into first and last name). Status: not archived is "active", archived is
"archived" (the archive reason's meaning is per account). Lists follow `next` as `offset` while `hasNext`, with
the same other parameters; a 400 "Invalid offset token" restarts the list once without an offset (§2.4).

Polling (§2.3): `GET /v1/opportunities?updated_at_start=<since in epoch milliseconds>&expand=stage&limit=100`,
every opportunity (archived ones too, so that leaving is seen), to the last page. The watermark is the latest
`updatedAt` seen; the caller overlaps.

Webhooks (§2.5): the body carries `token`, `triggeredAt` (epoch ms) and `signature` = hex HMAC-SHA256 of
`token + str(triggeredAt)` keyed with the signature token of the body's `event`. The signature does NOT cover the
body, so: (1) `triggeredAt` must be within FRESHNESS of `scheduling.clock.now()` (either way), else 401 "stale";
(2) the event key is `lv:<event>:<token>`, so a replay of the same delivery (with any `data`) finds the stored
row; (3) the flow re-reads the opportunity before acting (`sync.stage_change_handle` always does), so forged
`data` can at worst make us re-read another opportunity. A `Lever-Signature` header, or a body signature over the
token alone, are the unverified schemes §2.5 says to refuse: they fail as "signature does not match".
`candidateStageChange` with `data.opportunityId` is a stage change; without it, Lever's connection test (a ping);
every other event is "other".

Writes (§2.2): a note is `POST /v1/opportunities/{id}/notes?perform_as=<user>` with `{"value": text, "secret":
false}`; its text ends with the marker line `[loopwise:<key>]`, and before every attempt the adapter lists the
opportunity's notes (`GET /v1/opportunities/{id}/notes`) and returns the one carrying the marker instead of
writing. The new note's id is read from `noteId` or `id` (§3: disputed). A stage change is `PUT
/v1/opportunities/{id}/stage?perform_as=<user>` with `{"stage": <id>}`; Lever has no "advance" and no server-side
guard, so every attempt re-reads the opportunity first: already in the target, done; in neither stage,
"stage_mismatch". A move between our read and our PUT by someone else is not detectable (no compare-and-set).

Health (`check_components`, one try per probe): auth is a one-record read of `/v1/stages` (401 is auth; anything
else leaves auth unknown); reads are one small page of postings, stages and opportunities; webhooks cannot be
asked with the scopes Loopwise needs, so they are `ok=None` with a signature token and red without; writes are never
probed, only shown red when a read proves they cannot work (no `perform_as` with an API key, an unknown or
deactivated acting user, notes that cannot be listed).

Errors (`classify`, the one place): 401 is `reason="auth"`, permanent, scope "connection"; 403 is permanent for the
component of the call; 404 and 400 are permanent for the request; 429, 5xx, timeouts and connection errors are
transient, with `retry_after` from `Retry-After`. Messages carry ids and Lever's `code: message`, never candidate
data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from integrations.ats import lever_oauth
from integrations.ats.base import (
    OTHER,
    PING,
    STAGE_CHANGE,
    AtsApplication,
    AtsCandidate,
    AtsJob,
    AtsProvider,
    AtsStageRef,
    Change,
    ComponentHealth,
    ParsedEvent,
    PollResult,
    WebhookRejected,
)
from integrations.errors import ProviderError
from integrations.http import DEFAULT_TIMEOUT, call_with_retries, transport_failure
from scheduling import clock
from scheduling.fields import SecretUnreadable

__all__ = ["LeverAts", "classify", "signature_for", "note_marker", "API_URL", "FRESHNESS"]

API_URL = "https://api.lever.co"
MAX_LIMIT = 100                            # limit over 100 is a 400 (§2.4)
MAX_PAGES = 10_000
FRESHNESS = dt.timedelta(minutes=5)        # a delivery whose triggeredAt is further from now is refused (§2.5)
STAGE_EVENT = "candidateStageChange"
READ_PROBES = ("/v1/postings", "/v1/stages", "/v1/opportunities")


def signature_for(token_secret: str, token: str, triggered_at: int | str) -> str:
    """The body's `signature` Lever sends (§2.5): hex HMAC-SHA256 of token + triggeredAt."""
    return hmac.new(token_secret.encode(), f"{token}{triggered_at}".encode(), hashlib.sha256).hexdigest()


def note_marker(key: str) -> str:
    """The last line of every note we write: finds it again before a retry."""
    return f"[loopwise:{key}]"


# ---- errors ---------------------------------------------------------------------------------------------------

def _error_text(resp: requests.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:200].strip()
    if not isinstance(data, dict):
        return str(data)[:200]
    return ": ".join(str(data[k]) for k in ("code", "message") if data.get(k))[:500]


def _retry_after(resp: requests.Response) -> float | None:
    try:
        return max(0.0, float(resp.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


def classify(failure: requests.Response | BaseException, *, component: str, what: str = "") -> ProviderError:
    """The one place a Lever answer or a transport failure becomes a ProviderError (see the module docstring)."""
    if isinstance(failure, ProviderError):
        return failure
    if isinstance(failure, requests.RequestException):
        return transport_failure(failure, provider="Lever", component=component, what=what)
    if not isinstance(failure, requests.Response):
        raise failure
    resp, status = failure, failure.status_code
    text = f"Lever {status} on {what}: {_error_text(resp)}".rstrip(": ")
    if status == 429 or status >= 500:
        return ProviderError(text, permanent=False, scope="request", retry_after=_retry_after(resp), status=status,
                             reason="throttled" if status == 429 else "server_error", component=component)
    if status == 401:
        return ProviderError(text, permanent=True, scope="connection", status=status, reason="auth",
                             component="auth")
    if status == 403:
        return ProviderError(text, permanent=True, scope="component", status=status, reason="forbidden",
                             component=component)
    if 300 <= status < 400:
        return ProviderError(f"Lever redirected {what} to {resp.headers.get('Location', '')!r}: check the base URL",
                             permanent=True, scope="connection", status=status, reason="redirect",
                             component=component)
    reason = {404: "not_found", 400: "validation"}.get(status, f"http_{status}")
    return ProviderError(text, permanent=True, scope="request", status=status, reason=reason, component=component)


def _bad_response(what: str, problem: str, component: str) -> ProviderError:
    return ProviderError(f"Lever answered {what} with {problem}", permanent=True, scope="connection",
                         reason="bad_response", component=component)


# ---- parsing at the edge --------------------------------------------------------------------------------------

def _sid(value: Any) -> str:
    return "" if value is None or isinstance(value, dict | list) else str(value)


def _instant(ms: Any) -> dt.datetime | None:
    if not isinstance(ms, int | float) or isinstance(ms, bool):
        return None
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def _ms(instant: dt.datetime) -> int:
    if instant.tzinfo is None:
        raise ValueError("poll_changes needs an aware datetime")
    return int(instant.timestamp() * 1000)


def _stage_ref(value: Any) -> tuple[str, str]:
    """The opportunity's `stage`: an id, or `{"id", "text"}` when expanded."""
    if isinstance(value, dict):
        return _sid(value.get("id")), str(value.get("text") or "")
    return _sid(value), ""


def _application(data: dict) -> AtsApplication:
    stage_id, stage_name = _stage_ref(data.get("stage"))
    apps = data.get("applications") or []
    posting = next((a.get("posting") for a in apps if isinstance(a, dict) and a.get("posting")), None)
    contact = data.get("contact")
    contact = contact.get("id") if isinstance(contact, dict) else contact
    return AtsApplication(external_id=_sid(data["id"]), candidate_external_id=_sid(contact),
                          job_external_id=_sid(posting), stage_external_id=stage_id, stage_name=stage_name,
                          status="active" if not data.get("archived") else "archived",
                          updated_at=_instant(data.get("updatedAt")))


def _candidate(data: dict) -> AtsCandidate:
    first, _, last = str(data.get("name") or "").strip().partition(" ")
    emails = [e for e in data.get("emails") or [] if isinstance(e, str)]
    phones = [p for p in data.get("phones") or [] if isinstance(p, dict) and p.get("value")]
    phone = next((p for p in phones if p.get("type") == "mobile"), phones[0] if phones else {})
    return AtsCandidate(external_id=_sid(data["id"]), first_name=first, last_name=last.strip(),
                        email=emails[0] if emails else "", phone=str(phone.get("value") or ""))


# ---- the adapter ----------------------------------------------------------------------------------------------

class LeverAts(AtsProvider):
    """Lever's Data API v1 and Lever webhooks for one AtsConnection."""

    kind: ClassVar[str] = "lever"
    components: ClassVar[tuple[str, ...]] = ("auth", "reads", "webhooks", "writes")
    write_back: ClassVar[tuple[str, ...]] = ("note", "stage")

    def __init__(self, connection, *, base_url: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 page_size: int | None = None, attempts: int = 4):
        super().__init__(connection, base_url=base_url, timeout=timeout, page_size=page_size)
        base = self.base_url or API_URL
        self.base_url = base[:-3] if base.endswith("/v1") else base
        self.attempts = attempts
        self.limit = max(1, min(page_size or MAX_LIMIT, MAX_LIMIT))
        self._session = requests.Session()

    def close(self) -> None:
        self._session.close()

    # ---- plumbing -------------------------------------------------------------------------------------------

    def _auth(self, *, stale: str | None = None) -> dict:
        """How to authenticate the next call; with an OAuth client, a fresh access token (refreshed when missing,
        about to expire, or `stale`: the one Lever just refused)."""
        creds = self.credentials
        if key := str(creds.get("api_key") or ""):
            return {"auth": (key, "")}
        if lever_oauth.uses_refresh(creds):
            creds = lever_oauth.token_refresh(self.connection, stale=stale, session=self._session,
                                              timeout=self.timeout)
        if token := str(creds.get("access_token") or ""):
            return {"headers": {"Authorization": f"Bearer {token}"}}
        raise ProviderError("Lever credentials need an api_key, an access_token, or an OAuth client (client_id and "
                            "client_secret) signed in from the connection's page", permanent=True,
                            scope="connection", reason="auth", component="auth")

    def _perform_as(self) -> str:
        return _sid(self.credentials.get("perform_as")).strip()

    def _send(self, method: str, path: str, *, component: str, params: Any = None,
              body: dict | None = None) -> requests.Response:
        """One call; a non-2xx answer or a transport failure comes out classified. With an OAuth client, a 401 makes
        one refresh and one more try (the token may have expired or been dropped early)."""
        auth = self._auth()
        what = f"{method} {urlsplit(path).path}"
        for retry in (False, True):
            try:
                resp = self._session.request(method, self.base_url + path, params=params, json=body,
                                             timeout=self.timeout, allow_redirects=False,
                                             auth=auth.get("auth"),
                                             headers={"Accept": "application/json", **auth.get("headers", {})})
            except requests.RequestException as e:
                raise classify(e, component=component, what=what) from e
            if resp.status_code == 401 and not retry and lever_oauth.uses_refresh(self.credentials):
                refused = auth.get("headers", {}).get("Authorization", "")[7:]
                auth = self._auth(stale=refused)
                continue
            break
        if not 200 <= resp.status_code < 300:
            raise classify(resp, component=component, what=what)
        return resp

    def _call(self, method: str, path: str, *, component: str = "reads", params: Any = None,
              body: dict | None = None, attempts: int | None = None) -> requests.Response:
        return call_with_retries(lambda: self._send(method, path, component=component, params=params, body=body),
                                 attempts=attempts or self.attempts, what=f"lever {method} {path}")

    def _json(self, resp: requests.Response, component: str) -> dict:
        try:
            data = resp.json()
        except ValueError:
            raise _bad_response(f"{resp.request.method} {urlsplit(resp.url).path}", "a body that is not JSON",
                                component) from None
        if not isinstance(data, dict):
            raise _bad_response(f"{resp.request.method} {urlsplit(resp.url).path}", "no data envelope", component)
        return data

    def _pages(self, path: str, params: list[tuple[str, Any]], *, component: str = "reads",
               attempts: int | None = None) -> Iterator[dict]:
        """Every record of a list, following `next` as `offset` while `hasNext` (§2.4), the other parameters kept.
        A 400 "Invalid offset token" restarts the list once (records may then come twice: callers key on id)."""
        offset, restarted = None, False
        for _ in range(MAX_PAGES):
            query = [*params, ("limit", self.limit)] + ([("offset", offset)] if offset else [])
            try:
                data = self._json(self._call("GET", path, component=component, params=query, attempts=attempts),
                                  component)
            except ProviderError as e:
                if e.status == 400 and offset and not restarted and "offset" in e.message.lower():
                    offset, restarted = None, True
                    continue
                raise
            records = data.get("data")
            if not isinstance(records, list) or not all(isinstance(r, dict) and "id" in r for r in records):
                raise _bad_response(f"GET {path}", "something other than a list of records", component)
            yield from records
            offset = data.get("next")
            if not data.get("hasNext") or not offset:
                return
        raise _bad_response(f"GET {path}", f"more than {MAX_PAGES} pages", component)

    def _opportunity(self, external_id: str, *, attempts: int | None = None, component: str = "reads") -> dict:
        if not external_id or "/" in external_id:
            raise ProviderError(f"Lever has no opportunity {external_id!r}", permanent=True, scope="request",
                                status=404, reason="not_found", component=component)
        resp = self._call("GET", f"/v1/opportunities/{external_id}", component=component, attempts=attempts,
                          params=[("expand", "stage"), ("expand", "applications")])
        data = self._json(resp, component).get("data")
        if not isinstance(data, dict) or "id" not in data:
            raise _bad_response(f"GET /v1/opportunities/{external_id}", "no opportunity", component)
        return data

    # ---- reads ----------------------------------------------------------------------------------------------

    def _stages(self) -> tuple[AtsStageRef, ...]:
        return tuple(AtsStageRef(external_id=_sid(s["id"]), name=str(s.get("text") or ""), position=n)
                     for n, s in enumerate(self._pages("/v1/stages", [])))

    def list_jobs(self) -> list[AtsJob]:
        """See AtsProvider.list_jobs: published postings, each with the account's stages (§2.2)."""
        postings = {_sid(p["id"]): p for p in self._pages("/v1/postings", [("state", "published")])}
        stages = self._stages() if postings else ()
        jobs = []
        for posting_id, p in postings.items():
            categories = p.get("categories") if isinstance(p.get("categories"), dict) else {}
            jobs.append(AtsJob(external_id=posting_id, title=str(p.get("text") or ""), stages=stages,
                               department=str(categories.get("team") or categories.get("department") or ""),
                               location=str(categories.get("location") or "")))
        return jobs

    def get_candidate(self, external_id: str) -> AtsCandidate:
        """See AtsProvider.get_candidate: the contact (the person) behind an opportunity."""
        if not external_id or "/" in external_id:
            raise ProviderError(f"Lever has no contact {external_id!r}", permanent=True, scope="request",
                                status=404, reason="not_found", component="reads")
        data = self._json(self._call("GET", f"/v1/contacts/{external_id}"), "reads").get("data")
        if not isinstance(data, dict) or "id" not in data:
            raise _bad_response(f"GET /v1/contacts/{external_id}", "no contact", "reads")
        return _candidate(data)

    def get_application(self, external_id: str) -> AtsApplication:
        """See AtsProvider.get_application: the opportunity, with its stage and applications expanded."""
        return _application(self._opportunity(external_id))

    def poll_changes(self, since: dt.datetime) -> PollResult:
        """See AtsProvider.poll_changes: `updated_at_start` in epoch milliseconds (§2.3)."""
        start = _ms(since)
        latest: dict[str, AtsApplication] = {}
        for record in self._pages("/v1/opportunities", [("updated_at_start", start), ("expand", "stage")]):
            app = _application(record)
            known = latest.get(app.external_id)
            if known is None or (app.updated_at or since) >= (known.updated_at or since):
                latest[app.external_id] = app
        apps = sorted(latest.values(), key=lambda a: (a.updated_at or since, a.external_id))
        watermark = max([since] + [a.updated_at for a in apps if a.updated_at is not None])
        return PollResult(changes=tuple(Change(application_external_id=a.external_id,
                                               stage_external_id=a.stage_external_id, updated_at=a.updated_at,
                                               stage_name=a.stage_name, status=a.status) for a in apps),
                          new_watermark=watermark)

    # ---- inbound --------------------------------------------------------------------------------------------

    def _signature_token(self, event: str) -> str:
        creds = self.credentials
        tokens = creds.get("signature_tokens") if isinstance(creds.get("signature_tokens"), dict) else {}
        return str(tokens.get(event) or creds.get("webhook_secret") or "")

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> None:
        """See AtsProvider.verify_webhook: the body's signature over token + triggeredAt, then freshness (§2.5)."""
        try:
            data = json.loads(bytes(raw_body))
        except ValueError:
            raise WebhookRejected("body is not JSON, so it carries no signature") from None
        if not isinstance(data, dict):
            raise WebhookRejected("body is not a JSON object, so it carries no signature")
        token, triggered, sent = data.get("token"), data.get("triggeredAt"), data.get("signature")
        event = data.get("event") if isinstance(data.get("event"), str) else ""
        secret = self._signature_token(event)
        if not secret:
            raise WebhookRejected(f"no signature token is configured for {event or 'this'} event")
        if not isinstance(sent, str) or not sent:
            raise WebhookRejected("missing signature in the body (a Lever-Signature header is not Lever's scheme)")
        if not isinstance(token, str) or not token or type(triggered) is not int:
            raise WebhookRejected("missing token or triggeredAt")
        expected = signature_for(secret, token, triggered)
        if not hmac.compare_digest(sent.strip().lower().encode(), expected.encode()):
            raise WebhookRejected("signature does not match")
        age = clock.now() - _instant(triggered)
        if abs(age) > FRESHNESS:
            raise WebhookRejected(f"stale delivery: triggeredAt is {int(age.total_seconds())} s from now "
                                  f"(at most {int(FRESHNESS.total_seconds())} s)")

    def parse_webhook(self, raw_body: bytes, headers: Mapping[str, str] | None = None) -> ParsedEvent:
        """See AtsProvider.parse_webhook; the event key is `lv:<event>:<token>` (the module docstring)."""
        try:
            data = json.loads(bytes(raw_body))
        except ValueError as e:
            raise WebhookRejected(f"body is not JSON: {e}", status=400) from None
        if not isinstance(data, dict):
            raise WebhookRejected("body is not a JSON object", status=400)
        event = data.get("event")
        if not isinstance(event, str) or not event:
            raise WebhookRejected("body has no event", status=400)
        payload = data.get("data") if isinstance(data.get("data"), dict) else {}
        opp = _sid(payload.get("opportunityId") or payload.get("candidateId"))
        token = _sid(data.get("token"))
        key = f"lv:{event}:{token}" if token else f"lv:{event}:{opp}:{_sid(data.get('triggeredAt'))}"
        if len(key) > 200:
            key = key[:130] + ":" + hashlib.sha256(key.encode()).hexdigest()
        if event == STAGE_EVENT:
            kind = STAGE_CHANGE if opp else PING  # Lever's connection test comes without an opportunity (§2.5)
        else:
            kind = OTHER
        return ParsedEvent(event_key=key, kind=kind, application_external_id=opp,
                           stage_external_id=_sid(payload.get("toStageId")),
                           occurred_at=_instant(data.get("triggeredAt")), action=event)

    # ---- writes ---------------------------------------------------------------------------------------------

    def _acting_params(self) -> list[tuple[str, str]]:
        user = self._perform_as()
        if not user and self.credentials.get("api_key"):
            raise ProviderError("Lever writes with an API key need an acting user: set perform_as in the "
                                "credentials", permanent=True, scope="component", reason="no_acting_user",
                                component="writes")
        return [("perform_as", user)] if user else []

    def add_note(self, application_external_id: str, text: str, *, key: str) -> str:
        """See AtsProvider.add_note: every attempt first looks for a note carrying `note_marker(key)`."""
        if not key or any(c in key for c in "]\r\n") or len(key) > 150:
            raise ValueError("a note key is 1 to 150 characters, without ']' or a line break")
        params = self._acting_params()
        if not application_external_id or "/" in application_external_id:
            raise ProviderError(f"Lever has no opportunity {application_external_id!r}", permanent=True,
                                scope="request", status=404, reason="not_found", component="writes")
        marker = note_marker(key)
        path = f"/v1/opportunities/{application_external_id}/notes"

        def attempt() -> str:
            if (found := self._find_note(path, marker)) is not None:
                return found
            resp = self._send("POST", path, component="writes", params=params,
                              body={"value": f"{text.rstrip()}\n\n{marker}", "secret": False})
            try:
                data = resp.json().get("data") or {}
                note_id = _sid(data.get("noteId") or data.get("id"))
            except (ValueError, AttributeError):
                note_id = ""
            return note_id or self._find_note(path, marker) or ""

        return call_with_retries(attempt, attempts=self.attempts, what="lever POST notes")

    def _find_note(self, path: str, marker: str) -> str | None:
        """The id of the opportunity's note whose text carries `marker`, or None. One try: the caller retries."""
        for note in self._pages(path, [], component="writes", attempts=1):
            if marker in json.dumps(note, ensure_ascii=False):
                return _sid(note["id"])
        return None

    def move_stage(self, application_external_id: str, *, from_stage_external_id: str,
                   to_stage_external_id: str) -> None:
        """See AtsProvider.move_stage: re-read, then `PUT /v1/opportunities/{id}/stage` only from the expected
        stage (Lever has no guard of its own)."""
        params = self._acting_params()

        def where() -> str:
            stage = _application(self._opportunity(application_external_id, attempts=1)).stage_external_id
            if stage not in (from_stage_external_id, to_stage_external_id):
                raise ProviderError(f"Lever opportunity {application_external_id} is in stage {stage}, not "
                                    f"{from_stage_external_id} as expected (moved meanwhile)", permanent=True,
                                    scope="request", reason="stage_mismatch", component="writes")
            return stage

        def attempt() -> None:
            if where() == to_stage_external_id:
                return
            self._send("PUT", f"/v1/opportunities/{application_external_id}/stage", component="writes",
                       params=params, body={"stage": to_stage_external_id})

        call_with_retries(attempt, attempts=self.attempts, what="lever PUT stage")

    # ---- health ---------------------------------------------------------------------------------------------

    @classmethod
    def fix_link(cls, connection, component: str) -> tuple[str, str] | None:
        """See AtsProvider.fix_link: an OAuth connection's "auth" is fixed by signing in to Lever again."""
        if component != "auth" or getattr(connection, "pk", None) is None:
            return None
        try:
            oauth = lever_oauth.uses_refresh(connection.credentials or {})
        except SecretUnreadable:
            return None
        return ("Sign in to Lever again (a Lever super admin)", lever_oauth.fix_path(connection)) if oauth else None

    def check_components(self) -> list[ComponentHealth]:
        """See AtsProvider.check_components and the module docstring."""
        try:
            self._call("GET", "/v1/stages", component="auth", params={"limit": 1}, attempts=1)
            auth = ComponentHealth("auth", True, "credentials accepted")
        except ProviderError as e:
            auth = ComponentHealth("auth", False if e.reason == "auth" else None, e.message)
        results = [auth]
        if auth.ok is False:
            results.append(ComponentHealth("reads", None, "not checked: the credentials are refused"))
        else:
            failures = []
            for path in READ_PROBES:
                try:
                    self._call("GET", path, params={"limit": 1}, attempts=1)
                except ProviderError as e:
                    failures.append(e.message)
            results.append(ComponentHealth("reads", not failures,
                                           "; ".join(failures) or f"read {', '.join(READ_PROBES)}"))
        results.append(self._check_webhooks())
        results.append(self._check_writes(auth_ok=auth.ok is True))
        return results

    def _check_webhooks(self) -> ComponentHealth:
        if self._signature_token(STAGE_EVENT):
            return ComponentHealth("webhooks", None, "signature token configured; a quiet webhook is flagged by "
                                                     "polling")
        return ComponentHealth("webhooks", False, "no signature token for candidateStageChange: deliveries cannot "
                                                  "be verified")

    def _check_writes(self, *, auth_ok: bool) -> ComponentHealth:
        user = self._perform_as()
        if not user and self.credentials.get("api_key"):
            return ComponentHealth("writes", False, "no acting user (perform_as): writes with an API key are "
                                                    "attributed to nobody")
        if not auth_ok:
            return ComponentHealth("writes", None, "not checked: auth failed")
        if user:
            try:
                data = self._json(self._call("GET", f"/v1/users/{user}", component="writes", attempts=1),
                                  "writes").get("data") or {}
            except ProviderError as e:
                return ComponentHealth("writes", False, f"the acting user {user} cannot be read: {e.message}")
            if data.get("deactivatedAt"):
                return ComponentHealth("writes", False, f"the acting user {user} is deactivated")
        return ComponentHealth("writes", None, "acting user found; writing is never probed (notes stay in the "
                                               "candidate's history)")
