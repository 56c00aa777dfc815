"""Jobvite through its API v2 and its webhooks, on requests.

`JobviteAts` implements `integrations.ats.base.AtsProvider` for one `AtsConnection`. Provider facts are in
/work/shared/contracts/icims-jobvite.md, section 2; the numbers below (§2.2...) point there.

Credentials (`AtsConnection.credentials`): `api_key` and `api_secret` (issued by Jobvite support, per endpoint,
§2.2); `auth_mode` "headers" (the default: `x-jvi-api` and `x-jvi-sc`) or "signed" (`X-JVI-API`, `X-JVI-EPOCH`,
`X-JVI-SIGN` = base64(HMAC-SHA256(secret, key|epoch)), §2.2 [U]); the query-string form is never used (it puts the
secret in URLs). `webhook_signing_key` (the key Jobvite signs pushes with), or `accept_unsigned_pushes: true` for an
account whose webhooks carry no signature (see Pushes). `workflow_states`: the state names this connection depends
on (mapped stages and move targets), which the health check looks for. `rejected_states` / `hired_states`: the
company's names for those (default "Rejected" / "Hired").

Components, each with its own health row (issue 9): `key` (the key and secret: Loopwise's "auth"), `candidates`
(reading candidates and jobs: its "reads"), `webhooks`, and `workflow_states` (the company's states, and the
write-back that sets them and appends the comment: its "writes"). `component_aliases` maps the shared flow's generic
names onto them, so that health rows are always these four.

Transport: one `requests.Session` per instance, `allow_redirects=False`, query strings built with `%20` for spaces
(§2.3: Jobvite does not read `+`). Each call runs inside `integrations.http.call_with_retries`: throttling, 5xx,
timeouts and connection errors are retried through the shared sleeper, honouring `Retry-After` when there is one
(Jobvite sends none, §2.7, so the backoff applies). Jobvite publishes no rate-limit headers; no client-side pacing is
done here (polling is every few minutes and writes are few).

Success is decided from BOTH the HTTP status and the body's `status.code` (§2.8: some paths answer HTTP 200 with
`status.code` 401): a 2xx with an error code in its envelope raises exactly as that HTTP status would, on reads and on
writes. A redirect, or an answer that is not JSON (Jobvite's HTML login page), is an auth or configuration error of
the connection. A 404 "Cannot find API" is a wrong base URL (the connection's), other 404s are "not_found". Access is
granted per endpoint (§2.2, §2.8): a 401 on one endpoint while the key works on another (this instance saw it work, or
one `GET /job?count=1`, `/candidate` for /job itself, proves it) is that component's `forbidden`, not the key's;
otherwise it is the key's (`reason="auth"`, scope "connection"). The over-quota answer is undocumented (§2.7, §2.9
[U]): a 429 whose words say "daily" or "quota" is `reason="quota_exhausted"`, transient, scope "connection",
`retry_after` the seconds to midnight US Pacific (when Jobvite resets, §2.7), not retried within the call, and this
instance makes no further call until then; any other 429 is throttling.

Reads: jobs are `GET /api/v2/job` (`requisitions`), those whose `jobState` is not closed, filled or cancelled; every
job carries the company's workflow states (`GET /api/v2/workflow`, the shape the fake documents: §2.4 [U]) in order.
Stage ids are the state NAMES (§2.4): the API filters and writes by name, and webhooks carry names (§2.6); a renamed
state shows as a missing `workflow_states` entry. The application is a candidate row (`GET /api/v2/candidate?
applicationId=`): one row per application (§2.3), its `job.eId` the job (it may be null, §2.6: the job id is then
empty and the application maps to no plan), the row's `eId` the candidate. Rows are matched on their ids, never
trusted to be the one asked for. Status: `rejected_states` "rejected", `hired_states` "hired", anything else "active".

Paging (§2.3, §3 #6): `start`/`count` (count at most 500). Whether `start` counts from 0 or 1 is unknown, so the
adapter always starts at 0 and steps by `count`: read as 0-based this is exact; read as 1-based each page repeats the
previous page's last row, which is dropped by its id. Never a gap either way (starting at 1 would lose the first row
under the 0-based reading). It stops at the first short page (never trusting `total`), and gives up with a
`bad_response` when two full pages in a row bring nothing new (a server ignoring `start`).

Polling (§2.3): `datestart` = since minus one day, with `dateFormat=MM-dd-yyyy'T'HH:mm:ssZ` in UTC. The day of
margin is the safe reading: whether Jobvite honours the time of day, or reads the date in its own (Pacific) zone, is
not known; the rows are then filtered here on their exact `lastUpdatedDate` (epoch ms). A row moved by someone while
the list is being paged can shift later rows back by one (offset paging); the caller's watermark overlap covers it.

Pushes (§2.6): they are hints. Jobvite's signature, attested by one client only, is `X-Jobvite-Event-Signature` =
base64(HMAC-SHA256(signing key, raw body)); the contract says to verify it when a key is configured and otherwise to
assume the push is unauthenticated. Chosen: with `webhook_signing_key`, a missing or wrong signature is 401, and a
signed push whose `date` is more than FRESHNESS from now is refused as stale; without a key, pushes are refused (401)
unless `accept_unsigned_pushes` is true, an explicit choice for accounts whose webhooks are unsigned. Either way
nothing acts on a push's content: `parse_webhook` only names the application, and the flow
(`sync.stage_change_handle`) re-reads it through the API before anything happens, so a forged push can at worst make
Loopwise read an application again. Both `id` and `candidateId` are read (§3 #7). Any event with an `applicationId`
and a `newValue` is a stage change (the event type names are not public); others are "other". The event key is
`jv:<applicationId>:<newValue>:<date>` (a replay is the same row; a later change, even back to the same state, is
another). Jobvite has no test delivery, so there is no ping.

Writes (§2.5): Jobvite has no notes API; the schedule is appended to the application's `comments` with `PUT
/api/v2/candidate` `{"application": {"eId", "comments"}}` (the contract's best guess of the gated body). The API
replaces the field, so `add_note` reads it, returns at once when our marker `[loopwise:<key>]` is there, else writes
back what it read plus the new entry, then reads it again and checks that the entry and everything it read stand.
An answer without the `comments` field at all (not visible to the key) stops before writing: writing would overwrite
text Loopwise cannot see. Races: a colleague's write AFTER ours that drops our entry (a stale copy) is seen on the
read-back and our entry is appended again (up to RACE_TRIES times). An edit landing in the one round trip between our
read and our PUT cannot be seen: Jobvite offers no version or compare-and-set on the field, so under the "replace"
reading that edit is lost; this is the residual risk of the documented API. Should the account's Jobvite append
instead (the other reading, §3 #6), the read-back shows the earlier text twice: nothing is lost, and the write is
reported as a permanent `workflow_states` error ("comments_appended") so that someone looks. `move_stage` reads the
application and PUTs `{"application": {"eId", "workflowState": <name>}}` only from the expected state; a 400 for the
state is a permanent `workflow_states` error ("unknown_state": renamed or removed in Jobvite).

Health (`check_components`, one try per probe): key is `GET /job?count=1` (a refusal is red; another failure leaves
it to the other probes to prove the key); candidates is one small page of candidates and of jobs; webhooks cannot be
asked (registration is by Jobvite support, §2.6): `ok=None` saying how pushes are authenticated; workflow_states reads
the company's states and turns red when one of `workflow_states` is missing; writes are never probed, so it is
`ok=None` at best.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import requests

from integrations.ats.base import (
    OTHER,
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

__all__ = ["JobviteAts", "classify", "event_signature", "signed_headers", "note_marker", "API_URL", "FRESHNESS",
           "KEY", "CANDIDATES", "WEBHOOKS", "WORKFLOW_STATES"]

T = TypeVar("T")
API_URL = "https://api.jobvite.com"
PREFIX = "/api/v2"
MAX_COUNT = 500                           # `count` over 500 is refused (§2.3)
MAX_PAGES = 10_000
FRESHNESS = dt.timedelta(minutes=15)      # a signed push whose `date` is further from now is refused as stale
DATE_FORMAT = "MM-dd-yyyy'T'HH:mm:ssZ"    # §2.3
DATESTART_MARGIN = dt.timedelta(days=1)
PACIFIC = ZoneInfo("America/Los_Angeles")
SIGNATURE_HEADER = "X-Jobvite-Event-Signature"
RACE_TRIES = 3
CLOSED_JOB_STATES = frozenset({"closed", "filled", "cancelled", "canceled", "archived"})
KEY, CANDIDATES, WEBHOOKS, WORKFLOW_STATES = "key", "candidates", "webhooks", "workflow_states"


def note_marker(key: str) -> str:
    """The line after every entry we append to the comments: finds it again before a retry."""
    return f"[loopwise:{key}]"


def event_signature(signing_key: str, raw_body: bytes) -> str:
    """`X-Jobvite-Event-Signature` (§2.6 [U]): base64(HMAC-SHA256(signing key, raw body))."""
    return base64.b64encode(hmac.new(signing_key.encode(), raw_body, hashlib.sha256).digest()).decode()


def signed_headers(key: str, secret: str, epoch: int) -> dict[str, str]:
    """The signed auth variant (§2.2 [U]): `X-JVI-SIGN` = base64(HMAC-SHA256(secret, key + "|" + epoch))."""
    sign = base64.b64encode(hmac.new(secret.encode(), f"{key}|{epoch}".encode(), hashlib.sha256).digest()).decode()
    return {"X-JVI-API": key, "X-JVI-EPOCH": str(epoch), "X-JVI-SIGN": sign}


# ---- errors ---------------------------------------------------------------------------------------------------

def _body(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _envelope(data: Any) -> tuple[int | None, str]:
    """(`status.code`, the messages joined) of a v2 body; (None, "") when it has no status block."""
    block = data.get("status") if isinstance(data, dict) else None
    if not isinstance(block, dict):
        return None, ""
    code = block.get("code")
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    messages = block.get("messages")
    text = "; ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages or "")
    return (code if isinstance(code, int) and not isinstance(code, bool) else None), text[:300]


def _retry_after(resp: requests.Response) -> float | None:
    try:
        return max(0.0, float(resp.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


def _to_pacific_midnight() -> float:
    now = clock.now().astimezone(PACIFIC)
    midnight = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1.0, (midnight - now).total_seconds())


def classify(failure: requests.Response | BaseException, *, component: str, what: str = "") -> ProviderError:
    """The one place a Jobvite answer or a transport failure becomes a ProviderError (see the module docstring). An
    answer is judged on its envelope code when that is an error, else on its HTTP status."""
    if isinstance(failure, ProviderError):
        return failure
    if isinstance(failure, requests.RequestException):
        return transport_failure(failure, provider="Jobvite", component=component, what=what)
    if not isinstance(failure, requests.Response):
        raise failure
    resp, status = failure, failure.status_code
    data = _body(resp)
    code, words = _envelope(data)
    effective = code if code is not None and not 200 <= code < 300 else status
    inside = f" (inside HTTP {status})" if effective != status else ""
    text = f"Jobvite {effective}{inside} on {what}" + (f": {words}" if words else "")
    if effective == 429 or effective >= 500:
        if effective == 429 and any(w in words.lower() for w in ("daily", "quota", "per day")):
            return ProviderError(f"{text} (the daily API quota is spent until midnight US Pacific)", permanent=False,
                                 scope="connection", status=effective, reason="quota_exhausted", component=KEY,
                                 retry_after=_to_pacific_midnight())
        return ProviderError(text, permanent=False, scope="request", status=effective, retry_after=_retry_after(resp),
                             reason="throttled" if effective == 429 else "server_error", component=component)
    if 300 <= status < 400:
        return ProviderError(f"Jobvite redirected {what} to {resp.headers.get('Location', '')!r}: the key is refused "
                             "or the base URL is wrong (it must end in /api/v2's host, e.g. https://api.jobvite.com)",
                             permanent=True, scope="connection", status=status, reason="redirect", component=KEY)
    if not isinstance(data, dict):
        return ProviderError(f"Jobvite answered {what} with HTTP {status} and no JSON object (a login page?): the key "
                             "or the base URL is wrong", permanent=True, scope="connection", status=status,
                             reason="bad_response", component=KEY)
    if effective in (401, 403):
        return ProviderError(text, permanent=True, scope="connection", status=effective, reason="auth", component=KEY)
    if effective == 404 and "cannot find api" in words.lower():
        return ProviderError(f"{text} (the base URL is wrong)", permanent=True, scope="connection", status=effective,
                             reason="bad_url", component=component)
    reason = {404: "not_found", 400: "validation", 409: "conflict"}.get(effective, f"http_{effective}")
    return ProviderError(text, permanent=True, scope="request", status=effective, reason=reason, component=component)


def _bad_response(what: str, problem: str, component: str) -> ProviderError:
    return ProviderError(f"Jobvite answered {what} with {problem}", permanent=True, scope="connection",
                         reason="bad_response", component=component)


def _not_found(kind: str, external_id: str, component: str) -> ProviderError:
    return ProviderError(f"Jobvite has no {kind} {external_id!r}", permanent=True, scope="request", status=404,
                         reason="not_found", component=component)


# ---- parsing at the edge --------------------------------------------------------------------------------------

def _sid(value: Any) -> str:
    return "" if value is None or isinstance(value, dict | list | bool) else str(value).strip()


def _eid(data: Any) -> str:
    return _sid(data.get("eId") or data.get("EId")) if isinstance(data, dict) else ""


def _instant(ms: Any) -> dt.datetime | None:
    if isinstance(ms, str) and ms.isdigit():
        ms = int(ms)
    if not isinstance(ms, int | float) or isinstance(ms, bool):
        return None
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def _jv_date(moment: dt.datetime) -> str:
    """`moment` in DATE_FORMAT, in UTC."""
    utc = moment.astimezone(dt.UTC)
    return f"{utc:%m-%d-%Y}T{utc:%H:%M:%S}+0000"


def _row_id(row: dict) -> str:
    app = row.get("application")
    return f"a:{_eid(app)}" if _eid(app) else f"c:{_eid(row)}"


def _candidate(row: dict) -> AtsCandidate:
    phone = next((_sid(row.get(k)) for k in ("mobile", "homePhone", "workPhone") if _sid(row.get(k))), "")
    return AtsCandidate(external_id=_eid(row), first_name=_sid(row.get("firstName")),
                        last_name=_sid(row.get("lastName")), email=_sid(row.get("email")), phone=phone)


# ---- the adapter ----------------------------------------------------------------------------------------------

class JobviteAts(AtsProvider):
    """Jobvite's API v2 and its webhooks for one AtsConnection."""

    kind: ClassVar[str] = "jobvite"
    components: ClassVar[tuple[str, ...]] = (KEY, CANDIDATES, WEBHOOKS, WORKFLOW_STATES)
    webhook_component: ClassVar[str] = WEBHOOKS
    write_component: ClassVar[str] = WORKFLOW_STATES
    component_aliases: ClassVar[dict[str, str]] = {"auth": KEY, "reads": CANDIDATES, "writes": WORKFLOW_STATES}
    write_back: ClassVar[tuple[str, ...]] = ("appended comment", "workflow state")

    def __init__(self, connection, *, base_url: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 page_size: int | None = None, attempts: int = 4):
        """See AtsProvider; `attempts` bounds the tries of each call (transient failures only)."""
        super().__init__(connection, base_url=base_url, timeout=timeout, page_size=page_size)
        base = self.base_url or API_URL
        self.base_url = base[:-len(PREFIX)] if base.endswith(PREFIX) else base
        self.attempts = attempts
        self.count = max(1, min(page_size or MAX_COUNT, MAX_COUNT))
        self._session = requests.Session()
        self._accepted: set[tuple[str, str]] = set()   # (method, path) this instance saw the key accepted on
        self._quota_until: dt.datetime | None = None

    def close(self) -> None:
        self._session.close()

    # ---- plumbing -------------------------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        creds = self.credentials
        key, secret = _sid(creds.get("api_key")), str(creds.get("api_secret") or "")
        if not key or not secret:
            raise ProviderError("Jobvite credentials need api_key and api_secret", permanent=True, scope="connection",
                                reason="auth", component=KEY)
        if str(creds.get("auth_mode") or "headers") == "signed":
            return signed_headers(key, secret, int(clock.now().timestamp()))
        return {"x-jvi-api": key, "x-jvi-sc": secret}

    def _send(self, method: str, path: str, *, component: str, params: list[tuple[str, Any]] | None = None,
              body: dict | None = None, probe: bool = False) -> dict:
        """One call to `PREFIX + path`; the answer's JSON object, or a classified ProviderError (an error inside a
        2xx included)."""
        what = f"{method} {PREFIX}{path}"
        if self._quota_until is not None and clock.now() < self._quota_until:
            raise ProviderError(f"Jobvite's daily API quota is spent until midnight US Pacific; {what} not sent",
                                permanent=False, scope="connection", reason="quota_exhausted", component=KEY,
                                retry_after=(self._quota_until - clock.now()).total_seconds())
        url = self.base_url + PREFIX + path + (f"?{urlencode(params, quote_via=quote)}" if params else "")
        try:
            resp = self._session.request(method, url, json=body, timeout=self.timeout, allow_redirects=False,
                                         headers={"Accept": "application/json", **self._auth_headers()})
        except requests.RequestException as e:
            raise classify(e, component=component, what=what) from e
        data = _body(resp)
        code, _ = _envelope(data)
        if 200 <= resp.status_code < 300 and isinstance(data, dict) and (code is None or 200 <= code < 300):
            self._accepted.add((method, path))
            return data
        error = classify(resp, component=component, what=what)
        if error.reason == "quota_exhausted":
            self._quota_until = clock.now() + dt.timedelta(seconds=error.retry_after or 3600)
        elif error.reason == "auth" and not probe:
            error = self._refused(method, path, error, component)
        raise error

    def _refused(self, method: str, path: str, error: ProviderError, component: str) -> ProviderError:
        """A 401 on one endpoint: the key's (connection) unless the key is known to work elsewhere, in which case
        this endpoint or method is not granted to it (§2.2: access is per endpoint) and only `component` fails."""
        works = sorted(f"{m} {PREFIX}{p}" for m, p in self._accepted if (m, p) != (method, path))
        if not works:
            other = "/candidate" if (method, path) == ("GET", "/job") else "/job"
            try:
                self._send("GET", other, component=KEY, params=[("count", 1)], probe=True)
                works = [f"GET {PREFIX}{other}"]
            except ProviderError:
                pass
        if not works:
            return error
        return ProviderError(f"{error.message} (the key works for {', '.join(works)}: {method} {PREFIX}{path} is not "
                             "granted to it; ask Jobvite support to enable it)", permanent=True, scope="component",
                             status=error.status, reason="forbidden", component=component)

    def _retrying(self, fn: Callable[[], T], *, what: str, attempts: int | None = None) -> T:
        """`fn` with transient failures retried through the shared sleeper, except a spent quota."""
        return call_with_retries(fn, attempts=attempts or self.attempts, what=f"jobvite {what}",
                                 stop_on=frozenset({"quota_exhausted"}))

    def _call(self, method: str, path: str, *, component: str, params: list[tuple[str, Any]] | None = None,
              body: dict | None = None, attempts: int | None = None) -> dict:
        return self._retrying(lambda: self._send(method, path, component=component, params=params, body=body),
                              what=f"{method} {path}", attempts=attempts)

    def _pages(self, path: str, key: str, params: list[tuple[str, Any]], *, ident: Callable[[dict], str],
               component: str = CANDIDATES, attempts: int | None = None) -> Iterator[dict]:
        """Every row of a list, `start` from 0 stepping by `count`, each row once (see the module docstring)."""
        seen: set[str] = set()
        start, repeats = 0, 0
        for _ in range(MAX_PAGES):
            data = self._call("GET", path, component=component, attempts=attempts,
                              params=[*params, ("start", start), ("count", self.count)])
            rows = data.get(key, [])
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise _bad_response(f"GET {PREFIX}{path}", f"something other than a list of {key}", component)
            fresh = [r for r in rows if ident(r) not in seen]
            for row in fresh:
                seen.add(ident(row))
                yield row
            if len(rows) < self.count:
                return
            repeats = 0 if fresh else repeats + 1
            if repeats >= 2:
                raise _bad_response(f"GET {PREFIX}{path}", "the same rows page after page (is start ignored?)",
                                    component)
            start += self.count
        raise _bad_response(f"GET {PREFIX}{path}", f"more than {MAX_PAGES} pages", component)

    def _row(self, application_external_id: str, *, component: str = CANDIDATES,
             attempts: int | None = None) -> dict:
        """The candidate row of application `application_external_id` (matched on its id)."""
        wanted = _sid(application_external_id)
        if wanted:
            for row in self._pages("/candidate", "candidates", [("applicationId", wanted)], ident=_row_id,
                                   component=component, attempts=attempts):
                if _eid(row.get("application")) == wanted:
                    return row
        raise _not_found("application", application_external_id, component)

    # ---- reads ----------------------------------------------------------------------------------------------

    def workflow_states(self, *, attempts: int | None = None) -> list[AtsStageRef]:
        """The company's workflow states in order (`GET /api/v2/workflow`; shape per the fake, §2.4 [U])."""
        data = self._call("GET", "/workflow", component=WORKFLOW_STATES, attempts=attempts)
        names: list[str] = []
        workflows = data.get("workflows")
        if not isinstance(workflows, list):
            raise _bad_response(f"GET {PREFIX}/workflow", "no workflows list", WORKFLOW_STATES)
        for flow in workflows:
            for state in (flow.get("states") or []) if isinstance(flow, dict) else []:
                name = _sid(state.get("name")) if isinstance(state, dict) else ""
                if name and name not in names:
                    names.append(name)
        return [AtsStageRef(external_id=n, name=n, position=i) for i, n in enumerate(names)]

    def list_jobs(self) -> list[AtsJob]:
        """See AtsProvider.list_jobs: the requisitions not closed, each with the company's workflow states."""
        jobs = [j for j in self._pages("/job", "requisitions", [], ident=_eid)
                if _eid(j) and _sid(j.get("jobState")).lower() not in CLOSED_JOB_STATES]
        states = tuple(self.workflow_states()) if jobs else ()
        return [AtsJob(external_id=_eid(j), title=_sid(j.get("title")), stages=states,
                       department=_sid(j.get("department")), location=_sid(j.get("location"))) for j in jobs]

    def get_candidate(self, external_id: str) -> AtsCandidate:
        """See AtsProvider.get_candidate: a row of `GET /api/v2/candidate?candidateId=` (matched on its id)."""
        wanted = _sid(external_id)
        if wanted:
            for row in self._pages("/candidate", "candidates", [("candidateId", wanted)], ident=_row_id):
                if _eid(row) == wanted:
                    return _candidate(row)
        raise _not_found("candidate", external_id, CANDIDATES)

    def get_application(self, external_id: str) -> AtsApplication:
        """See AtsProvider.get_application: the candidate row of that application, read now."""
        return self._application(self._row(external_id))

    def _application(self, row: dict) -> AtsApplication:
        app = row.get("application") if isinstance(row.get("application"), dict) else {}
        state = _sid(app.get("workflowState"))
        lowered = state.lower()
        creds = self.credentials
        rejected = {str(s).lower() for s in creds.get("rejected_states") or ["Rejected"]}
        hired = {str(s).lower() for s in creds.get("hired_states") or ["Hired"]}
        status = "rejected" if lowered in rejected else "hired" if lowered in hired else "active"
        return AtsApplication(external_id=_eid(app), candidate_external_id=_eid(row),
                              job_external_id=_eid(app.get("job")), stage_external_id=state, stage_name=state,
                              status=status, updated_at=_instant(app.get("lastUpdatedDate")))

    def poll_changes(self, since: dt.datetime) -> PollResult:
        """See AtsProvider.poll_changes: `datestart` a day early, then exact on `lastUpdatedDate` (module docstring)."""
        if since.tzinfo is None:
            raise ValueError("poll_changes needs an aware datetime")
        params = [("datestart", _jv_date(since - DATESTART_MARGIN)), ("dateFormat", DATE_FORMAT)]
        latest: dict[str, AtsApplication] = {}
        for row in self._pages("/candidate", "candidates", params, ident=_row_id):
            if not isinstance(row.get("application"), dict):
                continue
            app = self._application(row)
            if not app.external_id or app.updated_at is None or app.updated_at < since:
                continue
            known = latest.get(app.external_id)
            if known is None or app.updated_at >= known.updated_at:
                latest[app.external_id] = app
        apps = sorted(latest.values(), key=lambda a: (a.updated_at, a.external_id))
        watermark = max([since] + [a.updated_at for a in apps])
        return PollResult(changes=tuple(Change(application_external_id=a.external_id,
                                               stage_external_id=a.stage_external_id, updated_at=a.updated_at,
                                               stage_name=a.stage_name, status=a.status) for a in apps),
                          new_watermark=watermark)

    # ---- inbound --------------------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> None:
        """See AtsProvider.verify_webhook and the module docstring (Pushes)."""
        raw = bytes(raw_body)
        creds = self.credentials
        key = str(creds.get("webhook_signing_key") or "")
        if not key:
            if creds.get("accept_unsigned_pushes") is True:
                return  # a hint only: the flow re-reads the application before acting
            raise WebhookRejected("no webhook_signing_key is configured for this connection (set it, or "
                                  "accept_unsigned_pushes for an account whose webhooks are not signed)")
        sent = (header(headers, SIGNATURE_HEADER) or "").strip()
        if not sent:
            raise WebhookRejected(f"missing {SIGNATURE_HEADER} header")
        if not hmac.compare_digest(sent.encode(), event_signature(key, raw).encode()):
            raise WebhookRejected("signature does not match")
        try:
            data = json.loads(raw)
        except ValueError:
            return  # signed but unreadable: parse_webhook answers 400
        when = _instant(data.get("date")) if isinstance(data, dict) else None
        if when is not None and abs(clock.now() - when) > FRESHNESS:
            age = int((clock.now() - when).total_seconds())
            raise WebhookRejected(f"stale delivery: its date is {age} s from now (at most "
                                  f"{int(FRESHNESS.total_seconds())} s)")

    def parse_webhook(self, raw_body: bytes, headers: Mapping[str, str] | None = None) -> ParsedEvent:
        """See AtsProvider.parse_webhook; the event key is `jv:<applicationId>:<newValue>:<date>`."""
        raw = bytes(raw_body)
        try:
            data = json.loads(raw)
        except ValueError as e:
            raise WebhookRejected(f"body is not JSON: {e}", status=400) from None
        if not isinstance(data, dict):
            raise WebhookRejected("body is not a JSON object", status=400)
        event = _sid(data.get("eventType"))
        application, new = _sid(data.get("applicationId")), _sid(data.get("newValue"))
        if not event and not application:
            raise WebhookRejected("body has neither eventType nor applicationId", status=400)
        date = _sid(data.get("date"))
        key = f"jv:{application}:{new}:{date}" if application and date else "jv:" + hashlib.sha256(raw).hexdigest()
        if len(key) > 200:
            key = key[:130] + ":" + hashlib.sha256(key.encode()).hexdigest()
        return ParsedEvent(event_key=key, kind=STAGE_CHANGE if application and new else OTHER,
                           application_external_id=application, stage_external_id=new, stage_name=new,
                           occurred_at=_instant(data.get("date")), action=event)

    # ---- writes ---------------------------------------------------------------------------------------------

    def _comments(self, application_external_id: str) -> str:
        application = self._row(application_external_id, component=WORKFLOW_STATES, attempts=1)["application"]
        if "comments" not in application:
            raise ProviderError(f"Jobvite application {application_external_id} came without its comments field (not "
                                "visible to this key?): writing would overwrite text Loopwise cannot see, so nothing "
                                "was written", permanent=True, scope="component", reason="comments_hidden",
                                component=WORKFLOW_STATES)
        return str(application.get("comments") or "")

    def add_note(self, application_external_id: str, text: str, *, key: str) -> str:
        """See AtsProvider.add_note: the entry is appended to the application's comments by read-modify-write,
        then read back (see the module docstring for the races)."""
        if not key or any(c in key for c in "]\r\n") or len(key) > 150:
            raise ValueError("a note key is 1 to 150 characters, without ']' or a line break")
        app_id, marker = _sid(application_external_id), note_marker(key)
        note_id = f"{app_id}:comments:{key}"
        entry = f"{text.rstrip()}\n{marker}"

        def attempt() -> str:
            for _ in range(RACE_TRIES):
                before = self._comments(app_id)
                if marker in before:
                    return note_id
                value = f"{before.rstrip()}\n\n{entry}" if before.strip() else entry
                self._send("PUT", "/candidate", component=WORKFLOW_STATES,
                           body={"application": {"eId": app_id, "comments": value}})
                after = self._comments(app_id)
                if marker not in after:
                    if after == before:
                        raise ProviderError(f"Jobvite accepted the comments of application {app_id} but they did not "
                                            "change: this account's API does not take the update body Loopwise "
                                            "sends", permanent=True, scope="component", reason="not_applied",
                                            component=WORKFLOW_STATES)
                    continue  # someone wrote after us from a copy without our entry: read again, append again
                if before.strip() and after.strip() != value.strip() and after.rstrip().endswith(value.rstrip()):
                    raise ProviderError(f"Jobvite appended the comments of application {app_id} instead of replacing "
                                        "them: the schedule is written, but the earlier comments now appear twice. "
                                        "Check the comments in Jobvite before the next write", permanent=True,
                                        scope="component", reason="comments_appended", component=WORKFLOW_STATES)
                return note_id
            raise ProviderError(f"Jobvite application {app_id}: its comments kept changing under the write "
                                f"({RACE_TRIES} tries)", permanent=False, scope="request", reason="contended",
                                component=WORKFLOW_STATES)

        return self._retrying(attempt, what="PUT /candidate (comments)")

    def move_stage(self, application_external_id: str, *, from_stage_external_id: str,
                   to_stage_external_id: str) -> None:
        """See AtsProvider.move_stage: read the state, PUT the new one only from the expected one."""
        app_id = _sid(application_external_id)

        def where() -> str:
            state = self._application(self._row(app_id, component=WORKFLOW_STATES, attempts=1)).stage_external_id
            if state not in (from_stage_external_id, to_stage_external_id):
                raise ProviderError(f"Jobvite application {app_id} is in state {state!r}, not "
                                    f"{from_stage_external_id!r} as expected (moved meanwhile)", permanent=True,
                                    scope="request", reason="stage_mismatch", component=WORKFLOW_STATES)
            return state

        def attempt() -> None:
            if where() == to_stage_external_id:
                return
            try:
                self._send("PUT", "/candidate", component=WORKFLOW_STATES,
                           body={"application": {"eId": app_id, "workflowState": to_stage_external_id}})
            except ProviderError as e:
                if e.permanent and e.scope == "request" and e.reason == "validation":
                    if where() == to_stage_external_id:
                        return
                    raise ProviderError(f"{e.message} (the workflow state {to_stage_external_id!r} is refused: renamed "
                                        "or removed in Jobvite?)", permanent=True, scope="component", status=e.status,
                                        reason="unknown_state", component=WORKFLOW_STATES) from e
                raise

        self._retrying(attempt, what="PUT /candidate (workflowState)")

    # ---- health ---------------------------------------------------------------------------------------------

    def check_components(self) -> list[ComponentHealth]:
        """See AtsProvider.check_components and the module docstring (Health)."""
        key = self._check_key()
        if key.ok is False:
            candidates = ComponentHealth(CANDIDATES, None, "not checked: the key is refused")
            states = ComponentHealth(WORKFLOW_STATES, None, "not checked: the key is refused")
        else:
            candidates, states = self._check_candidates(), self._check_states()
            if key.ok is None and self._accepted:  # /job could not answer, but another endpoint took the key
                proof = sorted(f"{m} {PREFIX}{p}" for m, p in self._accepted)[0]
                key = ComponentHealth(KEY, True, f"key accepted (by {proof})")
        return [key, candidates, self._check_webhooks(), states]

    def _check_key(self) -> ComponentHealth:
        try:
            self._call("GET", "/job", component=KEY, params=[("count", 1)], attempts=1)
        except ProviderError as e:
            if e.reason in ("auth", "redirect", "bad_response", "bad_url"):
                return ComponentHealth(KEY, False, e.message)
            return ComponentHealth(KEY, None, f"could not be checked: {e.message}")
        return ComponentHealth(KEY, True, "key accepted")

    def _check_candidates(self) -> ComponentHealth:
        failures = []
        for path in ("/candidate", "/job"):
            try:
                self._call("GET", path, component=CANDIDATES, params=[("count", 1)], attempts=1)
            except ProviderError as e:
                failures.append(e.message)
        return ComponentHealth(CANDIDATES, not failures,
                               "; ".join(failures) or f"read {PREFIX}/candidate and {PREFIX}/job")

    def _check_webhooks(self) -> ComponentHealth:
        creds = self.credentials
        if creds.get("webhook_signing_key"):
            return ComponentHealth(WEBHOOKS, None, "signing key configured: pushes are verified; Jobvite has no API "
                                                   "to check the webhook, a quiet one is flagged by polling")
        if creds.get("accept_unsigned_pushes") is True:
            return ComponentHealth(WEBHOOKS, None, "unsigned pushes accepted as hints (every one is re-read through "
                                                   "the API); a quiet webhook is flagged by polling")
        return ComponentHealth(WEBHOOKS, None, "no webhook signing key: pushes are refused and changes are found by "
                                               "polling")

    def _check_states(self) -> ComponentHealth:
        try:
            states = self.workflow_states(attempts=1)
        except ProviderError as e:
            return ComponentHealth(WORKFLOW_STATES, False, e.message)
        if not states:
            return ComponentHealth(WORKFLOW_STATES, False, "Jobvite lists no workflow state")
        known = {s.external_id for s in states}
        if gone := [str(s) for s in self.credentials.get("workflow_states") or [] if str(s) not in known]:
            return ComponentHealth(WORKFLOW_STATES, False, f"configured workflow state {', '.join(map(repr, gone))} "
                                                           "no longer in Jobvite (renamed or removed?)")
        return ComponentHealth(WORKFLOW_STATES, None, f"{len(states)} states, every configured one present; writes "
                                                      "(comments and state) are never probed")
