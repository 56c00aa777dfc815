"""Greenhouse through Harvest v3 and its signed webhooks, on requests.

`GreenhouseAts` implements `integrations.ats.base.AtsProvider` for one `AtsConnection`. Provider facts are in
/work/shared/contracts/greenhouse-lever.md, section 1; the numbers below (§1.2...) point there.

Credentials (`AtsConnection.credentials`): `{"client_id", "client_secret", "on_behalf_of", "webhook_secret"}`.
`on_behalf_of` is the acting Greenhouse user id: the token's `sub` (§1.1) and the note's `user_id`. Without it
the credential's integration service user acts and notes cannot be written (a permanent writes error).

Auth (§1.1): Harvest v3 only (v1/v2 were switched off on 31 August 2026), OAuth 2.0 client credentials:
`POST <token url>` with Basic client id and secret and `grant_type=client_credentials&sub=<user id>`. The token
is kept in memory per adapter instance until 60 s before it expires (`expires_in` seconds or `expires_at`
RFC 3339, both accepted since the sources disagree; 1 h when neither comes); any 401 from the API drops it and
the call is made once more with a fresh one. The token URL is Greenhouse's own, or `<base_url>/token` when the
connection points at another host (the fake serves both on one host).

Transport: one `requests.Session` per instance, `allow_redirects=False` (a wrong host such as
`api.greenhouse.io` redirects to a login page, §3 #7: that is a connection error, not data). Each call runs
inside `integrations.http.call_with_retries`: throttling, 5xx, timeouts and connection errors are retried
through the shared sleeper, honouring `Retry-After`. Rate limits (§1.4, the header is the truth): after an answer
whose `X-RateLimit-Remaining` is `LOW_REMAINING` or less, the next call first waits until
`X-RateLimit-Reset` (epoch seconds, or seconds to go when the number is small), through `clock.sleep`. The token
endpoint is metered on its own window (§1.4), so its headers never hold back API calls; its 429 is retried.

Reads (§1.2, §1.4): single records through `?ids=` (never `/v3/x/{id}`, reported as 404); lists are bare JSON
arrays, followed through `Link: <...>; rel="next"` with the cursor URL as given (no other parameter may be
added), only on the base URL's own origin (the bearer token never leaves it). `stage_id`/`stage_name` of a v3
application are its current stage; the v1-style `current_stage{}` and `jobs[]` are read too. Statuses are
normalised: `in_process` (v3's answer for active) becomes "active".

Polling (§1.3): `GET /v3/applications?updated_at=gte|<ISO 8601 Z, whole seconds>&per_page=500`, every status, to
the last page. The watermark returned is the latest `updated_at` seen; the caller overlaps.

Webhooks (§1.5): `Signature: sha256 <hex>`, one space, hex HMAC-SHA256 of the raw body with the connection's
`webhook_secret`, compared with `hmac.compare_digest` over the raw bytes as received (Greenhouse escapes `<`,
`>` and non-ASCII as `\\uXXXX` before signing: never re-serialise). `sha256=<hex>` and other schemes are refused.
A delivery whose `action` is "ping" is a ping; "candidate_stage_change" needs `payload.application.id` and
`payload.application.current_stage.id`; anything else is "other". Event key: `gh:<Greenhouse-Event-ID>` when
that header came ("a unique id associated with this delivery"); else derived from the payload's stable fields,
`gh:<action>:<application id>:<stage id>:<last_activity_at>`, identical for a re-sent body and different for a
later move (last_activity_at changes); a ping without the header is keyed on the sha256 of its body. Whether
Greenhouse reuses the event id on a retry is not documented: a retry with a new id makes a second InboundEvent,
which the flow's (application, plan) idempotency absorbs.

Writes (§1.2): a note is `POST /v3/notes` with `note_type: "NOTE"` and `visibility: "public"` (visible to the
hiring team, not to the candidate), the `candidate_id` read from the application (Greenhouse does not check it
and would create an orphan note, which nobody can delete). The body ends with the marker line
`[loopwise:<key>]`; before every attempt (the first one too, so a new worker after a crash is covered) the
adapter lists the application's notes (`GET /v3/notes?application_ids=<id>`, which needs the
`harvest:notes:list` scope besides the contract's list) and returns the one carrying the marker instead of
writing. A move is `POST /v3/applications/{id}/move` with `from_stage_id` and `to_stage_id` (204); every
attempt re-reads the application first: already in the target stage, it returns without writing; in neither
stage, a permanent "stage_mismatch". A 422 (the guard refused) is answered the same way after one more read. The
guard also makes a timed-out move that Greenhouse applied impossible to repeat.

Health (`check_components`, one try per probe): auth is a fresh token; reads are one small page of jobs, stages,
applications and candidates (a 403 there usually means the acting user is not a Site Admin, §1.1); webhooks
cannot be asked (Harvest has no webhook API), so they are `ok=None` with a secret and red without one; writes are
never probed, only shown red when a read proves they cannot work (no acting user, notes that cannot be listed).

Errors (`classify`, the one place): the token endpoint's 400/401/403 (`invalid_client`...) and any API 401 after a
fresh token are `reason="auth"`, permanent, scope "connection"; 403 is permanent for the component that made the
call ("reads" for GETs, "writes" for notes and moves: a scope not granted, or a `sub` that is not a Site Admin);
404 and 422 are permanent for the request; 429, 5xx, timeouts and connection errors are transient, with
`retry_after` from `Retry-After` (or `X-RateLimit-Reset` on a 429); a redirect or a body that is not JSON is a
permanent connection error (wrong base URL). Messages carry ids and Greenhouse's error text, never candidate data.

Not done: Basic auth on webhooks (an optional Greenhouse setting) is not checked; a v3 job carries department and
office ids only, so `AtsJob.department` and `.location` stay empty unless the answer holds names (v1 shapes).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import requests

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
    header,
)
from integrations.errors import ProviderError
from integrations.http import DEFAULT_TIMEOUT, call_with_retries, transport_failure
from scheduling import clock

__all__ = ["GreenhouseAts", "classify", "signature_for", "note_marker", "API_URL", "TOKEN_URL"]

API_URL = "https://harvest.greenhouse.io"
TOKEN_URL = "https://auth.greenhouse.io/token"
MAX_PAGE = 500                         # per_page over 500 is a 422 (§1.4)
MAX_IDS = 50                           # ids / job_ids per request (§1.2)
MAX_PAGES = 10_000                     # a Link chain longer than this is a provider bug, not data
TOKEN_MARGIN = dt.timedelta(seconds=60)
TOKEN_TTL = dt.timedelta(hours=1)      # when the token answer gives no expiry
LOW_REMAINING = 2                      # X-RateLimit-Remaining at or below this: wait for the reset first
RATE_WINDOW = 10.0                     # seconds to wait when the quota is low and no reset is given (§1.4)
MAX_QUOTA_WAIT = 60.0
NOTE_VISIBILITY = "public"
STATUSES = {"in_process": "active", "active": "active", "rejected": "rejected", "hired": "hired"}
READ_PROBES = ("/v3/jobs", "/v3/job_interview_stages", "/v3/applications", "/v3/candidates")


def signature_for(secret: str, raw_body: bytes) -> str:
    """The `Signature` header Greenhouse sends for `raw_body` (§1.5): "sha256 <lower-case hex>"."""
    return "sha256 " + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def note_marker(key: str) -> str:
    """The last line of every note we write: finds it again before a retry."""
    return f"[loopwise:{key}]"


# ---- errors ---------------------------------------------------------------------------------------------------

def _error_text(resp: requests.Response) -> str:
    """Greenhouse's own words from an error body (§1.4): message plus errors (strings or objects), or the token
    endpoint's `error`; else the start of the body."""
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:200].strip()
    if not isinstance(data, dict):
        return str(data)[:200]
    parts = [str(data[k]) for k in ("error", "error_description", "message") if data.get(k)]
    errors = data.get("errors")
    if isinstance(errors, list):
        parts += [json.dumps(e, sort_keys=True) if isinstance(e, dict) else str(e) for e in errors]
    elif errors:
        parts.append(str(errors))
    return "; ".join(parts)[:500]


def _seconds(value: str | None, *, epoch_above: float = 1e9) -> float | None:
    """Seconds from now given by a header: a number of seconds, an epoch timestamp (a number above
    `epoch_above`), an HTTP date or an ISO 8601 instant. None when absent or unreadable."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    now = clock.now()
    try:
        number = float(text)
    except ValueError:
        try:
            instant = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            instant = _instant(text)
        if instant is None:
            return None
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=dt.UTC)
        return max(0.0, (instant - now).total_seconds())
    if number > epoch_above:
        return max(0.0, number - now.timestamp())
    return max(0.0, number)


def _retry_after(resp: requests.Response) -> float | None:
    after = _seconds(resp.headers.get("Retry-After"))
    if after is None and resp.status_code == 429:
        after = _seconds(resp.headers.get("X-RateLimit-Reset"))
    return after


def classify(failure: requests.Response | BaseException, *, component: str, what: str = "") -> ProviderError:
    """The one place a Greenhouse answer or a transport failure becomes a ProviderError (see the module
    docstring). `component` is "auth" for the token endpoint, else the component of the call ("reads" for
    GETs, "writes" for notes and moves); `what` names the call ("GET /v3/jobs") for the message."""
    if isinstance(failure, ProviderError):
        return failure
    if isinstance(failure, requests.RequestException):
        return transport_failure(failure, provider="Greenhouse", component=component, what=what)
    if not isinstance(failure, requests.Response):
        raise failure
    resp, status = failure, failure.status_code
    text = f"Greenhouse {status} on {what}: {_error_text(resp)}".rstrip(": ")
    if status == 429 or status >= 500:
        return ProviderError(text, permanent=False, scope="request", retry_after=_retry_after(resp), status=status,
                             reason="throttled" if status == 429 else "server_error", component=component)
    if status == 401 or (component == "auth" and status in (400, 403)):
        # invalid_client, a secret rotated away, a `sub` Greenhouse refuses, a token it cannot decode
        return ProviderError(text, permanent=True, scope="connection", status=status, reason="auth",
                             component="auth")
    if status == 403:
        # a scope not granted, or an acting user who is not a Site Admin (§1.1): this component only
        return ProviderError(text, permanent=True, scope="component", status=status, reason="forbidden",
                             component=component)
    if 300 <= status < 400:
        where = resp.headers.get("Location", "")
        return ProviderError(f"Greenhouse redirected {what} to {where!r}: check the base URL (harvest.greenhouse.io)",
                             permanent=True, scope="connection", status=status, reason="redirect",
                             component=component)
    reason = {404: "not_found", 422: "validation"}.get(status, f"http_{status}")
    return ProviderError(text, permanent=True, scope="request", status=status, reason=reason, component=component)


def _bad_response(what: str, problem: str, component: str) -> ProviderError:
    return ProviderError(f"Greenhouse answered {what} with {problem}", permanent=True, scope="connection",
                         reason="bad_response", component=component)


# ---- parsing at the edge --------------------------------------------------------------------------------------

def _sid(value: Any) -> str:
    """An external id as a string ("" for none); Greenhouse ids are integers."""
    return "" if value is None or value == "" else str(value)


def _wire_id(external_id: str) -> int | str:
    """Our string id back to the integer Greenhouse expects in a JSON body."""
    return int(external_id) if external_id.isdigit() else external_id


def _instant(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        instant = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return (instant if instant.tzinfo else instant.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _iso(instant: dt.datetime) -> str:
    if instant.tzinfo is None:
        raise ValueError("poll_changes needs an aware datetime")
    return instant.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _name_of(value: Any) -> str:
    """`{"name": ...}`, or the first of a list of those (departments, offices)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return str(value.get("name") or "")
    return value if isinstance(value, str) else ""


def _first_value(items: Any, preferred: str) -> str:
    """The `value` of the entry typed `preferred`, else of the first entry (email_addresses, phone_numbers)."""
    if not isinstance(items, list):
        return ""
    entries = [i for i in items if isinstance(i, dict) and i.get("value")]
    for entry in entries:
        if entry.get("type") == preferred:
            return str(entry["value"])
    return str(entries[0]["value"]) if entries else ""


def _stage(data: dict) -> AtsStageRef:
    position = data.get("sort_order", data.get("priority", 0))
    return AtsStageRef(external_id=_sid(data["id"]), name=str(data.get("name") or ""),
                       position=int(position) if isinstance(position, int | float) else 0,
                       active=data.get("active", True) is not False)


def _job(data: dict, stages: list[AtsStageRef]) -> AtsJob:
    return AtsJob(external_id=_sid(data["id"]), title=str(data.get("name") or data.get("title") or ""),
                  stages=tuple(sorted(stages, key=lambda s: (s.position, s.external_id))),
                  department=_name_of(data.get("departments")) or _name_of(data.get("department")),
                  location=_name_of(data.get("offices")) or _name_of(data.get("location")))


def _candidate(data: dict) -> AtsCandidate:
    email_address = _first_value(data.get("email_addresses"), "personal") or str(data.get("email") or "")
    return AtsCandidate(external_id=_sid(data["id"]), first_name=str(data.get("first_name") or ""),
                        last_name=str(data.get("last_name") or ""), email=email_address,
                        phone=_first_value(data.get("phone_numbers"), "mobile"))


def _application(data: dict) -> AtsApplication:
    job_id = data.get("job_id")
    if job_id is None and isinstance(data.get("jobs"), list) and data["jobs"]:  # v1 shape
        job_id = (data["jobs"][0] or {}).get("id")
    stage_id, stage_name = data.get("stage_id"), data.get("stage_name")
    if stage_id is None and isinstance(data.get("current_stage"), dict):  # v1 shape
        stage_id, stage_name = data["current_stage"].get("id"), data["current_stage"].get("name")
    status = str(data.get("status") or "")
    return AtsApplication(external_id=_sid(data["id"]), candidate_external_id=_sid(data.get("candidate_id")),
                          job_external_id=_sid(job_id), stage_external_id=_sid(stage_id),
                          stage_name=str(stage_name or ""), status=STATUSES.get(status, status),
                          updated_at=_instant(data.get("updated_at")) or _instant(data.get("last_activity_at")))


def _records(items: Any, what: str, component: str) -> list[dict]:
    if not isinstance(items, list) or not all(isinstance(i, dict) and "id" in i for i in items):
        raise _bad_response(what, "something other than a list of records", component)
    return items


# ---- the adapter ----------------------------------------------------------------------------------------------

class GreenhouseAts(AtsProvider):
    """Harvest v3 and Greenhouse webhooks for one AtsConnection."""

    kind: ClassVar[str] = "greenhouse"
    components: ClassVar[tuple[str, ...]] = ("auth", "reads", "webhooks", "writes")
    write_back: ClassVar[tuple[str, ...]] = ("note", "stage move")

    def __init__(self, connection, *, base_url: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 page_size: int | None = None, token_url: str | None = None, attempts: int = 4):
        """See AtsProvider. `token_url` overrides the token endpoint; `attempts` bounds the tries of each call
        (transient failures only)."""
        super().__init__(connection, base_url=base_url, timeout=timeout, page_size=page_size)
        custom = bool(self.base_url)
        self.base_url = self.base_url or API_URL
        self.token_url = token_url or (self.base_url + "/token" if custom else TOKEN_URL)
        self.attempts = attempts
        self.per_page = max(1, min(page_size or MAX_PAGE, MAX_PAGE))
        self._session = requests.Session()
        self._access_token: str | None = None
        self._token_expires = dt.datetime.min.replace(tzinfo=dt.UTC)
        self._quota_wait = 0.0

    def close(self) -> None:
        """Closes the pooled connections."""
        self._session.close()

    # ---- plumbing -------------------------------------------------------------------------------------------

    def _token(self, *, fresh: bool = False) -> str:
        """A bearer token for the acting user, from the cache until TOKEN_MARGIN before it expires."""
        now = clock.now()
        if not fresh and self._access_token and now < self._token_expires - TOKEN_MARGIN:
            return self._access_token
        creds = self.credentials
        client_id, secret = str(creds.get("client_id") or ""), str(creds.get("client_secret") or "")
        if not (client_id and secret):
            raise ProviderError("Greenhouse credentials need client_id and client_secret", permanent=True,
                                scope="connection", reason="auth", component="auth")
        form = {"grant_type": "client_credentials"}
        if sub := _sid(creds.get("on_behalf_of")).strip():
            form["sub"] = sub
        what = "POST /token"
        try:
            resp = self._session.post(self.token_url, data=form, auth=(client_id, secret), timeout=self.timeout,
                                      allow_redirects=False, headers={"Accept": "application/json"})
        except requests.RequestException as e:
            raise classify(e, component="auth", what=what) from e
        if not 200 <= resp.status_code < 300:
            raise classify(resp, component="auth", what=what)
        try:
            data = resp.json()
        except ValueError:
            raise _bad_response(what, "a body that is not JSON", "auth") from None
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise _bad_response(what, "no access_token", "auth")
        self._access_token, self._token_expires = token, now + self._lifetime(data, now)
        return token

    @staticmethod
    def _lifetime(data: dict, now: dt.datetime) -> dt.timedelta:
        """`expires_in` (seconds) or `expires_at` (RFC 3339), whichever came (§3 #2); an hour otherwise."""
        expires_in = data.get("expires_in")
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
            return dt.timedelta(seconds=float(expires_in))
        if (at := _instant(data.get("expires_at"))) is not None and at > now:
            return at - now
        return TOKEN_TTL

    def _respect_quota(self) -> None:
        """Wait out a nearly spent rate-limit window before the next call (§1.4)."""
        if self._quota_wait > 0:
            wait, self._quota_wait = self._quota_wait, 0.0
            clock.sleep(wait)

    def _note_quota(self, resp: requests.Response) -> None:
        if resp.status_code == 429:  # the 429's own Retry-After is waited by call_with_retries
            return
        try:
            remaining = float(resp.headers["X-RateLimit-Remaining"])
        except (KeyError, ValueError):
            return
        if remaining <= LOW_REMAINING:
            reset = _seconds(resp.headers.get("X-RateLimit-Reset"))
            self._quota_wait = min(MAX_QUOTA_WAIT, RATE_WINDOW if reset is None else reset)

    def _send(self, method: str, url: str, *, component: str, params: dict | None = None,
              body: dict | None = None, retoken: bool = True) -> requests.Response:
        """One call with the bearer token; a 401 gets one fresh token and one more try. A non-2xx answer or a
        transport failure comes out classified."""
        token = self._token()
        what = f"{method} {urlsplit(url).path}"
        self._respect_quota()
        try:
            resp = self._session.request(method, url, params=params, json=body, timeout=self.timeout,
                                         allow_redirects=False, headers={"Authorization": f"Bearer {token}",
                                                                         "Accept": "application/json"})
        except requests.RequestException as e:
            raise classify(e, component=component, what=what) from e
        self._note_quota(resp)
        if resp.status_code == 401 and retoken:
            self._access_token = None  # expired early, or revoked: one fresh token, once
            return self._send(method, url, component=component, params=params, body=body, retoken=False)
        if not 200 <= resp.status_code < 300:
            raise classify(resp, component=component, what=what)
        return resp

    def _call(self, method: str, path_or_url: str, *, component: str, params: dict | None = None,
              body: dict | None = None, attempts: int | None = None) -> requests.Response:
        """`_send` with transient failures retried through the shared sleeper."""
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        return call_with_retries(lambda: self._send(method, url, component=component, params=params, body=body),
                                 attempts=attempts or self.attempts,
                                 what=f"greenhouse {method} {urlsplit(url).path}")

    def _json(self, resp: requests.Response, component: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise _bad_response(f"{resp.request.method} {urlsplit(resp.url).path}", "a body that is not JSON",
                                component) from None

    def _pages(self, path: str, params: dict, *, component: str = "reads",
               attempts: int | None = None) -> Iterator[dict]:
        """Every record of a v3 list, page after page through `Link: rel="next"` (§1.4)."""
        url: str = self.base_url + path
        query: dict | None = {**params, "per_page": self.per_page}
        origin = urlsplit(self.base_url)[:2]
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            resp = self._call("GET", url, component=component, params=query, attempts=attempts)
            yield from _records(self._json(resp, component), f"GET {path}", component)
            link = resp.links.get("next", {}).get("url")
            if not link:
                return
            link = urljoin(url, link)
            if urlsplit(link)[:2] != origin:
                raise _bad_response(f"GET {path}", "a next link to another host", component)
            if link in seen:
                raise _bad_response(f"GET {path}", "a next link that loops", component)
            seen.add(link)
            url, query = link, None  # the cursor must be the only parameter (§1.4)
        raise _bad_response(f"GET {path}", f"more than {MAX_PAGES} pages", component)

    def _by_id(self, collection: str, external_id: str, *, component: str = "reads",
               attempts: int | None = None) -> dict:
        """One record through `GET /v3/<collection>?ids=<id>` (§1.2); not_found when the list is empty."""
        resp = self._call("GET", f"/v3/{collection}", component=component, params={"ids": external_id},
                          attempts=attempts)
        for record in _records(self._json(resp, component), f"GET /v3/{collection}", component):
            if _sid(record.get("id")) == str(external_id):
                return record
        raise ProviderError(f"Greenhouse has no {collection[:-1]} {external_id}", permanent=True, scope="request",
                            status=404, reason="not_found", component=component)

    # ---- reads ----------------------------------------------------------------------------------------------

    def list_jobs(self) -> list[AtsJob]:
        """See AtsProvider.list_jobs: open jobs, then their interview stages, 50 jobs per stages query."""
        jobs = list(self._pages("/v3/jobs", {"status": "open"}))
        stages: dict[str, list[AtsStageRef]] = {_sid(j["id"]): [] for j in jobs}
        ids = list(stages)
        for i in range(0, len(ids), MAX_IDS):
            for record in self._pages("/v3/job_interview_stages", {"job_ids": ",".join(ids[i:i + MAX_IDS])}):
                if (job_id := _sid(record.get("job_id"))) in stages:
                    stages[job_id].append(_stage(record))
        return [_job(j, stages[_sid(j["id"])]) for j in jobs]

    def get_candidate(self, external_id: str) -> AtsCandidate:
        """See AtsProvider.get_candidate."""
        return _candidate(self._by_id("candidates", external_id))

    def get_application(self, external_id: str) -> AtsApplication:
        """See AtsProvider.get_application."""
        return _application(self._by_id("applications", external_id))

    def poll_changes(self, since: dt.datetime) -> PollResult:
        """See AtsProvider.poll_changes: `updated_at=gte|<since>` on the first page only (§1.3)."""
        latest: dict[str, AtsApplication] = {}
        for record in self._pages("/v3/applications", {"updated_at": f"gte|{_iso(since)}"}):
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

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> None:
        """See AtsProvider.verify_webhook: `Signature: sha256 <hex>` over the raw body (§1.5)."""
        secret = str(self.credentials.get("webhook_secret") or "")
        if not secret:
            raise WebhookRejected("no webhook secret is configured for this connection")
        value = header(headers, "Signature")
        if not value:
            raise WebhookRejected("missing Signature header")
        scheme, _, digest = value.strip().partition(" ")
        if scheme.lower() != "sha256" or not digest.strip():
            raise WebhookRejected("Signature header is not 'sha256 <hex>'")
        expected = signature_for(secret, bytes(raw_body)).partition(" ")[2]
        if not hmac.compare_digest(digest.strip().lower().encode(), expected.encode()):
            raise WebhookRejected("signature does not match")

    def parse_webhook(self, raw_body: bytes, headers: Mapping[str, str] | None = None) -> ParsedEvent:
        """See AtsProvider.parse_webhook, and the module docstring for the event key."""
        try:
            data = json.loads(bytes(raw_body))
        except ValueError as e:  # UnicodeDecodeError included
            raise WebhookRejected(f"body is not JSON: {e}", status=400) from None
        if not isinstance(data, dict):
            raise WebhookRejected("body is not a JSON object", status=400)
        action = data.get("action")
        if not isinstance(action, str) or not action:
            raise WebhookRejected("body has no action", status=400)
        event_id = (header(headers or {}, "Greenhouse-Event-ID") or "").strip()
        if action == "ping":
            key = f"gh:{event_id}" if event_id else "gh:ping:" + hashlib.sha256(bytes(raw_body)).hexdigest()
            return ParsedEvent(event_key=_bounded(key), kind=PING, action=action)
        payload = data.get("payload")
        app = payload.get("application") if isinstance(payload, dict) else None
        app = app if isinstance(app, dict) else {}
        stage = app.get("current_stage") if isinstance(app.get("current_stage"), dict) else {}
        app_id, stage_id = _sid(app.get("id")), _sid(stage.get("id"))
        if action == "candidate_stage_change":
            if not app_id or isinstance(app.get("id"), dict | list):
                raise WebhookRejected("candidate_stage_change without payload.application.id", status=400)
            if not stage_id or isinstance(stage.get("id"), dict | list):
                raise WebhookRejected("candidate_stage_change without payload.application.current_stage.id",
                                      status=400)
        activity = app.get("last_activity_at")
        key = f"gh:{event_id}" if event_id else f"gh:{action}:{app_id}:{stage_id}:{activity or ''}"
        return ParsedEvent(event_key=_bounded(key), kind=STAGE_CHANGE if action == "candidate_stage_change" else OTHER,
                           application_external_id=app_id, stage_external_id=stage_id,
                           occurred_at=_instant(activity), stage_name=str(stage.get("name") or ""), action=action)

    # ---- writes ---------------------------------------------------------------------------------------------

    def add_note(self, application_external_id: str, text: str, *, key: str) -> str:
        """See AtsProvider.add_note: every attempt first looks for a note carrying `note_marker(key)`."""
        if not key or any(c in key for c in "]\r\n") or len(key) > 150:
            raise ValueError("a note key is 1 to 150 characters, without ']' or a line break")
        user_id = _sid(self.credentials.get("on_behalf_of")).strip()
        if not user_id:
            raise ProviderError("Greenhouse notes need an acting user: set on_behalf_of in the credentials",
                                permanent=True, scope="component", reason="no_acting_user", component="writes")
        app = self.get_application(application_external_id)
        marker = note_marker(key)
        body = {"candidate_id": _wire_id(app.candidate_external_id), "application_id": _wire_id(app.external_id),
                "user_id": _wire_id(user_id), "body": f"{text.rstrip()}\n\n{marker}", "visibility": NOTE_VISIBILITY,
                "note_type": "NOTE"}

        def attempt() -> str:
            if (found := self._find_note(app.external_id, marker)) is not None:
                return found
            resp = self._send("POST", self.base_url + "/v3/notes", component="writes", body=body)
            try:
                note_id = _sid((resp.json() or {}).get("id"))
            except (ValueError, AttributeError):
                note_id = ""
            # the 201's shape is unverified (§1.2): without an id in it, the note is found by its marker
            return note_id or self._find_note(app.external_id, marker) or ""

        return call_with_retries(attempt, attempts=self.attempts, what="greenhouse POST /v3/notes")

    def _find_note(self, application_external_id: str, marker: str) -> str | None:
        """The id of the application's note whose text carries `marker`, or None. One try: the caller retries."""
        for note in self._pages("/v3/notes", {"application_ids": application_external_id}, component="writes",
                                attempts=1):
            if marker in str(note.get("body") or ""):
                return _sid(note["id"])
        return None

    def move_stage(self, application_external_id: str, *, from_stage_external_id: str,
                   to_stage_external_id: str) -> None:
        """See AtsProvider.move_stage: read, then `POST /v3/applications/{id}/move` only from the expected stage."""

        def where() -> str:
            # one try: the attempt around it is what call_with_retries repeats
            record = self._by_id("applications", application_external_id, attempts=1)
            stage = _application(record).stage_external_id
            if stage not in (from_stage_external_id, to_stage_external_id):
                raise ProviderError(f"Greenhouse application {application_external_id} is in stage {stage}, not "
                                    f"{from_stage_external_id} as expected (moved meanwhile)", permanent=True,
                                    scope="request", reason="stage_mismatch", component="writes")
            return stage

        def attempt() -> None:
            if where() == to_stage_external_id:
                return
            try:
                self._send("POST", f"{self.base_url}/v3/applications/{application_external_id}/move",
                           component="writes", body={"from_stage_id": _wire_id(from_stage_external_id),
                                                     "to_stage_id": _wire_id(to_stage_external_id)})
            except ProviderError as e:
                if e.status == 422 and where() == to_stage_external_id:  # raced to the same place: done
                    return
                raise

        call_with_retries(attempt, attempts=self.attempts, what="greenhouse POST /v3/applications/move")

    # ---- health ---------------------------------------------------------------------------------------------

    def check_components(self) -> list[ComponentHealth]:
        """See AtsProvider.check_components: a fresh token (auth), one small page of each list this adapter
        reads (reads), the webhook secret's presence (webhooks: Harvest has no webhook API to ask), and for writes
        only what a read can tell: an acting user is set and notes can be listed (writes stay `ok=None` at best).
        One try per probe, so that the check answers quickly and reports throttling as it is."""
        results = []
        try:
            self._token(fresh=True)
            results.append(ComponentHealth("auth", True, "token issued"))
        except ProviderError as e:
            results.append(ComponentHealth("auth", False, e.message))
        if results[0].ok:
            failures = []
            for path in READ_PROBES:
                try:
                    self._call("GET", path, component="reads", params={"per_page": 1}, attempts=1)
                except ProviderError as e:
                    failures.append(e.message)
            results.append(ComponentHealth("reads", not failures,
                                           "; ".join(failures) or f"read {', '.join(READ_PROBES)}"))
        else:
            results.append(ComponentHealth("reads", None, "not checked: no token (auth failed)"))
        results.append(self._check_webhooks())
        results.append(self._check_writes(auth_ok=bool(results[0].ok)))
        return results

    def _check_webhooks(self) -> ComponentHealth:
        if self.credentials.get("webhook_secret"):
            return ComponentHealth("webhooks", None, "secret configured; Greenhouse has no API to check the "
                                                     "subscription, a quiet webhook is flagged by polling")
        return ComponentHealth("webhooks", False, "no webhook secret: deliveries cannot be verified")

    def _check_writes(self, *, auth_ok: bool) -> ComponentHealth:
        """Never writes. What can be known without writing: an acting user is set, and notes can be listed (the
        look-up that keeps a retried note from being written twice)."""
        if not _sid(self.credentials.get("on_behalf_of")).strip():
            return ComponentHealth("writes", False, "no acting user (on_behalf_of): notes cannot be written")
        if not auth_ok:
            return ComponentHealth("writes", None, "not checked: no token (auth failed)")
        try:
            self._call("GET", "/v3/notes", component="writes", params={"per_page": 1}, attempts=1)
        except ProviderError as e:
            return ComponentHealth("writes", False, f"notes cannot be listed, so a retried note could be written "
                                                    f"twice: {e.message}")
        return ComponentHealth("writes", None, "notes can be listed; writing is never probed (Greenhouse notes "
                                               "cannot be deleted)")


def _bounded(key: str) -> str:
    """InboundEvent.event_key holds 200 characters: a longer key keeps its start and a hash of the whole."""
    return key if len(key) <= 200 else key[:130] + ":" + hashlib.sha256(key.encode()).hexdigest()
