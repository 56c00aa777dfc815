"""iCIMS through its REST APIs (Profiles, Workflows, Search, List, Data Streaming) and its pushed Event
Notifications, on requests.

`IcimsAts` implements `integrations.ats.base.AtsProvider` for one `AtsConnection`. Provider facts are in
/work/shared/contracts/icims-jobvite.md, section 1; the numbers below (§1.4...) point there.

Credentials (`AtsConnection.credentials`):
- `customer_id` (required), and one of: `username`/`password` (Basic, §1.3); `hmac_user` (the integration user,
  default `username`)/`hmac_secret` (HMAC-signed calls, §1.3); `client_id`/`client_secret` (OAuth 2.0 client
  credentials against `login.icims.com/oauth/token` with `audience=https://api.icims.com/v1/`, or
  `<base_url>/oauth/token` when the connection points elsewhere). OAuth wins over HMAC, HMAC over Basic.
- Pushes (§1.4): `push_auth` "basic" with `push_username`/`push_password`, "hmac" with `push_hmac_user`/
  `push_hmac_secret`, or "oauth" with `push_client_id`/`push_client_secret`: iCIMS first fetches a token from the
  connection's own token URL that Loopwise serves (`integrations.ats.push_tokens`), then pushes with it as a Bearer
  token. Without them every push is refused (401).
- `note_field`: the recruiting-workflow field (e.g. "field50001") that receives the schedule text, since iCIMS has
  no notes API (§1.7); `note_mode` "append" (the default: earlier text is kept) or "replace".
- `status_list` (the List API list holding the workflow statuses, default "applicantworkflow.status"; iCIMS keeps
  them per customer, §1.9 [U]), `status_ids` (the status node ids this connection depends on: triggers and move
  targets; the health check says when one has gone from the list), `datastream` (true when the Streaming API is
  licensed), `datastream_url`.

Components, each with its own health row: auth, events (pushes), datastream, search, profile (people and jobs), list
(status values) and workflow (reading and PATCHing recruiting workflows). Every ProviderError names one.

Reads: jobs are found through `POST /search/jobs` and read one by one (`GET /jobs/{id}?fields=jobtitle`); every job
shares the pipeline of the status list (iCIMS statuses are not per job). Applications are recruiting workflows
(`GET /applicantworkflows/{id}`: `baseprofile` the job, `associatedprofile` the person, `status` the stage);
candidates are people (`GET /people/{id}?fields=firstname,lastname,email,phones`). A workflow whose
`associatedprofile`, `baseprofile` or `status` is missing is the silent permission problem (§1.6): a permanent
workflow error, never a half-read application. A 404 with errorCode 3 is access denied (§1.11): a permanent error
of the component that made the call; errorCode 2 (or none) is "not_found" for the request.

Polling (§1.8): Search for workflows with `applicantworkflow.updateddate > <since, floored to the minute, minus one
minute>` (iCIMS datetimes have minutes only), paged by `applicantworkflow.id > <last id>` while a page is full, then
each workflow is read. Search results may be up to 15 minutes stale (`staleness`): the caller's overlap must cover
that. The Data Streaming API is probed for health only; its event shape is unknown (§1.5), so polling never depends
on it.

Pushes: `verify_webhook` checks the configured Basic credentials, a Bearer token Loopwise issued to this connection
and that has not expired (the one check that reads the database), or the `x-icims-v1-hmac-sha256` Authorization
with `x-icims-date` (within `PUSH_MAX_AGE`) and `x-icims-content-sha256` (hex sha256 of the body as received, or of
its gunzipped form: which one iCIMS hashes is not public) among the signed headers. The string to sign is not
public (§1.3): the signed headers' `name:value` lines joined by "\\n", as the fake signs. `parse_webhook`
gunzips a `Content-Encoding: gzip` body (or one starting with the gzip magic bytes) and keys a
WorkFlowStatusChangeEvent on `icims:<customerId>:<systemId>:<newStatus>` (§1.4: duplicates are expected and are
idempotent on those three), so a re-sent push is one InboundEvent; another customer's push is refused (400).
`stored_body` gives the view the gunzipped body to store, which `inbound_handle` parses again without headers.

HMAC-signed calls (§1.3): `Authorization: x-icims-v1-hmac-sha256 user=<hmac_user>,signedheaders=content-type;host;
x-icims-content-sha256;x-icims-date,signature=<hex>`, with `x-icims-date` (`yyyymmddThhmmssZ`, UTC) and
`x-icims-content-sha256` (hex sha256 of the body sent, of b"" without one); the signed headers are those iCIMS's own
pushes sign (forum log in §4). The signature is hex HMAC-SHA256, keyed with `hmac_secret`, of
`api_string_to_sign`: method, path, query string and the signed headers' `name:value` lines, joined by "\\n". The
vendor's string to sign is not public [U]; this one, like AWS SigV4 that the header names echo, binds the method and
the URL too, so that a captured signature cannot be replayed on another call. The fake verifies the same.

Writes: `add_note` reads the workflow's `note_field`, returns at once when our marker `[loopwise:<key>]` is there,
else PATCHes the field with the text and the marker appended (or replacing it, `note_mode`), then reads it back: a
field the API user cannot see would make the marker invisible and every retry a new write, so a write that cannot
be read back is a permanent workflow error. `move_stage` reads the workflow's status and PATCHes `{"status": {"id":
...}}` only from the expected one (§1.7; any 2xx is success). A 400 with errorCode 1 (FIELD_REQUIRED: the target
status needs a field) is a permanent workflow error naming the field.

Quota (§1.10): every answer's `x-ratelimit-limit`/`-remaining`/`-reset` are kept (`quota_remaining()`,
`quota_limit()`, `quota_resets_at()`). A 429 with `x-ratelimit-remaining: 0`, or any call once the remaining count
is known to be 0 before the reset, is `reason="quota_exhausted"`: transient (it ends at 00:00 UTC) with
`retry_after` the seconds to the reset, scope "connection", component "quota" (its own health row, not "auth": the
credentials are fine); it is not retried within the call (the quota would not come back) and makes no HTTP call while
known to be spent, including when another worker saw it spent (the connection's stored `api_quota_*`; a health check
asks anyway). Other 429s and 5xx are retried. `close()` hands the last reading to `integrations.ats.quota`, which
keeps it on the saved connection and sets the "quota" component's health for the admin and the dashboard.

Not done: the Schema API, open/closed job filtering (the field is customer-specific), polling through Data
Streaming.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import gzip
import hashlib
import hmac
import json
import logging
import re
import zlib
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import requests

from integrations.ats.base import (
    OTHER,
    STAGE_CHANGE,
    ApiQuota,
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

__all__ = ["IcimsAts", "classify", "hmac_authorization", "api_string_to_sign", "note_marker", "API_URL", "TOKEN_URL",
           "DATASTREAM_URL"]

T = TypeVar("T")
logger = logging.getLogger(__name__)
API_URL = "https://api.icims.com"
TOKEN_URL = "https://login.icims.com/oauth/token"
AUDIENCE = "https://api.icims.com/v1/"
DATASTREAM_URL = "https://data-transfer-assembler.production.env.icims.tools"
SEARCH_CAP = 1000                      # results per Search call (§1.8)
LIST_PAGE = 1000                       # List API `size` maximum (§1.9)
MAX_PAGES = 10_000
TOKEN_MARGIN = dt.timedelta(seconds=60)
PUSH_MAX_AGE = dt.timedelta(minutes=5)
DEFAULT_STATUS_LIST = "applicantworkflow.status"
PERSON_FIELDS = "firstname,lastname,email,phones"
REQUIRED_PERSON_FIELDS = ("firstname", "lastname", "email")
WORKFLOW_KEYS = ("baseprofile", "associatedprofile", "status")
HMAC_SCHEME = "x-icims-v1-hmac-sha256"
HMAC_DATE = "%Y%m%dT%H%M%SZ"
NEEDED_SIGNED = ("x-icims-date", "x-icims-content-sha256")
API_SIGNED = ("content-type", "host", "x-icims-content-sha256", "x-icims-date")  # what iCIMS's own pushes sign
SAMPLES = 3
READS = ("datastream", "search", "profile", "list")


def note_marker(key: str) -> str:
    """The line after every text we write into the note field: finds it again before a retry."""
    return f"[loopwise:{key}]"


def api_string_to_sign(method: str, path: str, query: str, headers: Mapping[str, str],
                       signed: tuple[str, ...]) -> str:
    """What an HMAC-signed API call signs (§1.3: iCIMS's own string to sign is not public; see the module
    docstring): the method, the path, the query string as sent, then the signed headers' `name:value` lines."""
    lines = [f"{name}:{(header(headers, name) or '').strip()}" for name in signed]
    return "\n".join([method.upper(), path, query, *lines])


def hmac_authorization(user: str, secret: str, headers: Mapping[str, str], signed: tuple[str, ...]) -> str:
    """The `Authorization` value of an HMAC push over `signed` header names (see the module docstring)."""
    canonical = "\n".join(f"{name}:{(header(headers, name) or '').strip()}" for name in signed)
    digest = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return f"{HMAC_SCHEME} user={user},signedheaders={';'.join(signed)},signature={digest}"


# ---- errors ---------------------------------------------------------------------------------------------------

def _errors(resp: requests.Response) -> list[dict]:
    try:
        data = resp.json()
    except ValueError:
        return []
    items = data.get("errors") if isinstance(data, dict) else None
    return [e for e in items if isinstance(e, dict)] if isinstance(items, list) else []


def _error_text(resp: requests.Response) -> str:
    """iCIMS's own words (§1.11): each `errorMessage (code N)`, else X-Error, else the start of the body."""
    parts = [f"{e.get('errorMessage', '')} (code {e.get('errorCode')})".strip() for e in _errors(resp)]
    if not parts and resp.headers.get("X-Error"):
        parts = [resp.headers["X-Error"]]
    if not parts:
        try:
            data = resp.json()
            parts = [str(data.get("error_description") or data.get("error") or data)[:200]] if data else []
        except ValueError:
            parts = [resp.text[:200].strip()]
    return "; ".join(p for p in parts if p)[:500]


def _error_code(resp: requests.Response) -> int | None:
    for e in _errors(resp):
        if isinstance(e.get("errorCode"), int):
            return e["errorCode"]
    match = re.match(r"\s*(\d+):", resp.headers.get("X-Error", ""))
    return int(match.group(1)) if match else None


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def classify(failure: requests.Response | BaseException, *, component: str, what: str = "") -> ProviderError:
    """The one place an iCIMS answer or a transport failure becomes a ProviderError (see the module docstring)."""
    if isinstance(failure, ProviderError):
        return failure
    if isinstance(failure, requests.RequestException):
        return transport_failure(failure, provider="iCIMS", component=component, what=what)
    if not isinstance(failure, requests.Response):
        raise failure
    resp, status = failure, failure.status_code
    text = f"iCIMS {status} on {what}: {_error_text(resp)}".rstrip(": ")
    code = _error_code(resp)
    if status == 429 and resp.headers.get("x-ratelimit-remaining", "").strip() == "0":
        return ProviderError(f"iCIMS daily API quota exhausted until 00:00 UTC ({text})", permanent=False,
                             scope="connection", status=status, reason="quota_exhausted", component="quota",
                             retry_after=_number(resp.headers.get("x-ratelimit-reset")))
    if status == 429 or status >= 500:
        return ProviderError(text, permanent=False, scope="request", status=status,
                             retry_after=_number(resp.headers.get("Retry-After")),
                             reason="throttled" if status == 429 else "server_error", component=component)
    if status == 401 or (component == "auth" and status in (400, 403)):
        return ProviderError(text, permanent=True, scope="connection", status=status, reason="auth",
                             component="auth")
    if status == 404 and code == 3 or status == 403:
        return ProviderError(f"{text} (access denied: check the API user's group and security settings)",
                             permanent=True, scope="component", status=status, reason="forbidden",
                             component=component)
    if status == 400 and code == 1:
        return ProviderError(f"{text} (a field required by iCIMS is empty: un-require it for the API user or "
                             "fill it)", permanent=True, scope="component", status=status, reason="field_required",
                             component=component)
    if 300 <= status < 400:
        return ProviderError(f"iCIMS redirected {what} to {resp.headers.get('Location', '')!r}: check the base URL",
                             permanent=True, scope="connection", status=status, reason="redirect",
                             component=component)
    reason = {404: "not_found", 400: "validation"}.get(status, f"http_{status}")
    return ProviderError(text, permanent=True, scope="request", status=status, reason=reason, component=component)


def _bad_response(what: str, problem: str, component: str) -> ProviderError:
    return ProviderError(f"iCIMS answered {what} with {problem}", permanent=True, scope="connection",
                         reason="bad_response", component=component)


# ---- parsing at the edge --------------------------------------------------------------------------------------

def _sid(value: Any) -> str:
    return "" if value is None or value == "" or isinstance(value, dict | list) else str(value)


def _when(value: Any) -> dt.datetime | None:
    """`yyyy-mm-dd hh:mm a` in UTC (§1.6), or ISO 8601."""
    if not isinstance(value, str) or not value.strip():
        return None
    for fmt in ("%Y-%m-%d %I:%M %p", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(value.strip(), fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            pass
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _search_time(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%d %I:%M %p")


def _ref_id(value: Any) -> str:
    """The id of `{"id": .., "value": ..}` (a profile reference or a list value)."""
    return _sid(value.get("id")) if isinstance(value, dict) else _sid(value)


def _phone(value: Any) -> str:
    if isinstance(value, list):
        for entry in value:
            if isinstance(entry, dict) and entry.get("phonenumber"):
                return str(entry["phonenumber"])
    return ""


def _gunzip(raw: bytes, headers: Mapping[str, str]) -> bytes:
    encoding = (header(headers, "Content-Encoding") or "").strip().lower()
    if encoding == "gzip" or raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise WebhookRejected(f"body is not valid gzip: {e}", status=400) from None
    return raw


# ---- the adapter ----------------------------------------------------------------------------------------------

class IcimsAts(AtsProvider):
    """iCIMS's REST APIs and Event Notifications for one AtsConnection."""

    kind: ClassVar[str] = "icims"
    components: ClassVar[tuple[str, ...]] = ("auth", "events", "datastream", "search", "profile", "list", "workflow")
    webhook_component: ClassVar[str] = "events"
    write_component: ClassVar[str] = "workflow"
    write_back: ClassVar[tuple[str, ...]] = ("configured field", "status")

    def __init__(self, connection, *, base_url: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 page_size: int | None = None, token_url: str | None = None, attempts: int = 4):
        """See AtsProvider. `token_url` overrides the OAuth token endpoint; `attempts` bounds the tries of each call
        (transient failures only). `page_size` shrinks List pages and the Search page this adapter treats as full."""
        super().__init__(connection, base_url=base_url, timeout=timeout, page_size=page_size)
        custom = bool(self.base_url)
        self.base_url = self.base_url or API_URL
        self.token_url = token_url or (self.base_url + "/oauth/token" if custom else TOKEN_URL)
        creds = self.credentials
        self.stream_url = str(creds.get("datastream_url") or (self.base_url if custom else DATASTREAM_URL)).rstrip("/")
        self.customer_id = _sid(creds.get("customer_id")).strip()
        self.attempts = attempts
        self.search_cap = max(1, min(page_size or SEARCH_CAP, SEARCH_CAP))
        self.list_size = max(1, min(page_size or LIST_PAGE, LIST_PAGE))
        self._session = requests.Session()
        self._access_token: str | None = None
        self._token_expires = dt.datetime.min.replace(tzinfo=dt.UTC)
        self._quota: dict[str, Any] = {"limit": None, "remaining": None, "resets_at": None}
        self._quota_seen_at: dt.datetime | None = None
        resets_at = getattr(connection, "api_quota_resets_at", None)
        if getattr(connection, "api_quota_remaining", None) == 0 and resets_at and resets_at > clock.now():
            # Spent, as another worker saw: no call until the reset (`_quota_spent`); a health check asks anyway.
            self._quota.update(limit=connection.api_quota_limit, remaining=0, resets_at=resets_at)

    def close(self) -> None:
        """Keeps the last quota reading on the saved connection (`integrations.ats.quota`), then closes."""
        try:
            self._report_quota()
        finally:
            self._session.close()

    def _report_quota(self) -> None:
        quota = self.api_quota()
        if quota is None or getattr(self.connection, "pk", None) is None:
            return
        from django.db import DatabaseError, transaction

        from integrations.ats.quota import quota_record

        try:
            with transaction.atomic():  # a savepoint: a failure here leaves the caller's transaction usable
                quota_record(connection=self.connection, quota=quota)
        except DatabaseError as e:
            logger.warning("iCIMS quota of connection #%s not recorded: %s", self.connection.pk, type(e).__name__)

    # ---- quota ----------------------------------------------------------------------------------------------

    def api_quota(self) -> ApiQuota | None:
        """See AtsProvider.api_quota: the rate-limit headers of the last answer this instance got."""
        if self._quota_seen_at is None:
            return None
        return ApiQuota(limit=self._quota["limit"], remaining=self._quota["remaining"],
                        resets_at=self._quota["resets_at"], seen_at=self._quota_seen_at)

    def quota_remaining(self) -> int | None:
        """Calls left today by the last `x-ratelimit-remaining` seen (None before any answer)."""
        return self._quota["remaining"]

    def quota_limit(self) -> int | None:
        return self._quota["limit"]

    def quota_resets_at(self) -> dt.datetime | None:
        return self._quota["resets_at"]

    def _note_quota(self, resp: requests.Response) -> None:
        limit, remaining = _number(resp.headers.get("x-ratelimit-limit")), _number(
            resp.headers.get("x-ratelimit-remaining"))
        reset = _number(resp.headers.get("x-ratelimit-reset"))
        if remaining is not None:
            self._quota["remaining"] = int(remaining)
        if limit is not None:
            self._quota["limit"] = int(limit)
        if reset is not None:
            # Whole seconds to a reset that falls on a minute (00:00 UTC): to the nearest minute, not 23:59:59.
            moment = clock.now() + dt.timedelta(seconds=reset)
            self._quota["resets_at"] = (moment + dt.timedelta(seconds=30)).replace(second=0, microsecond=0)
        if remaining is not None or limit is not None:
            self._quota_seen_at = clock.now()

    def _quota_spent(self, what: str) -> ProviderError | None:
        resets_at = self._quota["resets_at"]
        if self._quota["remaining"] != 0 or resets_at is None or clock.now() >= resets_at:
            return None
        return ProviderError(f"iCIMS daily API quota exhausted until {resets_at:%Y-%m-%d %H:%M} UTC; {what} not sent",
                             permanent=False, scope="connection", reason="quota_exhausted", component="quota",
                             retry_after=(resets_at - clock.now()).total_seconds())

    # ---- plumbing -------------------------------------------------------------------------------------------

    def _auth_header(self, *, fresh: bool = False) -> str:
        """The Authorization of a Basic or OAuth call; "" for HMAC, which signs each prepared request instead."""
        creds = self.credentials
        if not self.customer_id:
            raise ProviderError("iCIMS credentials need customer_id", permanent=True, scope="connection",
                                reason="auth", component="auth")
        if creds.get("client_id"):
            return f"Bearer {self._token(fresh=fresh)}"
        if creds.get("hmac_secret"):
            if not str(creds.get("hmac_user") or creds.get("username") or ""):
                raise ProviderError("iCIMS HMAC credentials need hmac_user (the integration user's name)",
                                    permanent=True, scope="connection", reason="auth", component="auth")
            return ""
        user, password = str(creds.get("username") or ""), str(creds.get("password") or "")
        if not (user and password):
            raise ProviderError("iCIMS credentials need username and password, hmac_user and hmac_secret, or "
                                "client_id and client_secret", permanent=True, scope="connection", reason="auth",
                                component="auth")
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def _sign(self, prepared: requests.PreparedRequest) -> None:
        """Adds the `x-icims-v1-hmac-sha256` Authorization, `x-icims-date` and `x-icims-content-sha256` to a
        prepared request (§1.3; the string to sign is `api_string_to_sign`, see the module docstring)."""
        creds = self.credentials
        body = prepared.body or b""
        body = body.encode() if isinstance(body, str) else bytes(body)
        parts = urlsplit(prepared.url)
        prepared.headers["Host"] = parts.netloc
        prepared.headers["x-icims-date"] = clock.now().astimezone(dt.UTC).strftime(HMAC_DATE)
        prepared.headers["x-icims-content-sha256"] = hashlib.sha256(body).hexdigest()
        prepared.headers.setdefault("Content-Type", "application/json")
        canonical = api_string_to_sign(prepared.method or "GET", parts.path, parts.query, prepared.headers,
                                       API_SIGNED)
        digest = hmac.new(str(creds["hmac_secret"]).encode(), canonical.encode(), hashlib.sha256).hexdigest()
        user = str(creds.get("hmac_user") or creds.get("username"))
        prepared.headers["Authorization"] = (f"{HMAC_SCHEME} user={user},signedheaders={';'.join(API_SIGNED)},"
                                             f"signature={digest}")

    def _token(self, *, fresh: bool = False) -> str:
        now = clock.now()
        if not fresh and self._access_token and now < self._token_expires - TOKEN_MARGIN:
            return self._access_token
        creds = self.credentials
        form = {"grant_type": "client_credentials", "client_id": str(creds.get("client_id") or ""),
                "client_secret": str(creds.get("client_secret") or ""), "audience": AUDIENCE}
        try:
            resp = self._session.post(self.token_url, data=form, timeout=self.timeout, allow_redirects=False,
                                      headers={"Accept": "application/json"})
        except requests.RequestException as e:
            raise classify(e, component="auth", what="POST /oauth/token") from e
        if not 200 <= resp.status_code < 300:
            raise classify(resp, component="auth", what="POST /oauth/token")
        try:
            data = resp.json()
        except ValueError:
            raise _bad_response("POST /oauth/token", "a body that is not JSON", "auth") from None
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise _bad_response("POST /oauth/token", "no access_token", "auth")
        lifetime = data.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 1800.0
        self._access_token, self._token_expires = token, now + dt.timedelta(seconds=seconds)
        return token

    def _url(self, path: str) -> str:
        return f"{self.base_url}/customers/{self.customer_id}{path}"

    def _send(self, method: str, url: str, *, component: str, params: dict | None = None, body: Any = None,
              retoken: bool = True) -> requests.Response:
        """One call; a non-2xx answer or a transport failure comes out classified."""
        what = f"{method} {urlsplit(url).path}"
        if (spent := self._quota_spent(what)) is not None:
            raise spent
        auth = self._auth_header()
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:  # serialised here, so that an HMAC signs the very bytes sent
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        try:
            prepared = self._session.prepare_request(requests.Request(
                method, url, params=params, data=data, headers={**headers, **({"Authorization": auth} if auth
                                                                              else {})}))
            if not auth:
                self._sign(prepared)
            resp = self._session.send(prepared, timeout=self.timeout, allow_redirects=False,
                                      **self._session.merge_environment_settings(prepared.url, {}, None, None,
                                                                                 None))
        except requests.RequestException as e:
            raise classify(e, component=component, what=what) from e
        self._note_quota(resp)
        if resp.status_code == 401 and retoken and self._access_token:
            self._access_token = None
            return self._send(method, url, component=component, params=params, body=body, retoken=False)
        if not 200 <= resp.status_code < 300:
            raise classify(resp, component=component, what=what)
        return resp

    def _retrying(self, fn: Callable[[], T], *, what: str, attempts: int | None = None) -> T:
        """`fn` with transient failures retried through the shared sleeper, except a spent quota."""
        return call_with_retries(fn, attempts=attempts or self.attempts, what=f"icims {what}",
                                 stop_on=frozenset({"quota_exhausted"}))

    def _call(self, method: str, url: str, *, component: str, params: dict | None = None, body: Any = None,
              attempts: int | None = None) -> requests.Response:
        return self._retrying(lambda: self._send(method, url, component=component, params=params, body=body),
                              what=f"{method} {urlsplit(url).path}", attempts=attempts)

    def _json(self, resp: requests.Response, component: str) -> dict:
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise _bad_response(f"{resp.request.method} {urlsplit(resp.url).path}", "a body that is not a JSON "
                                "object", component)
        return data

    def _get(self, path: str, *, component: str, fields: str | None = None, attempts: int | None = None) -> dict:
        resp = self._call("GET", self._url(path), component=component,
                          params={"fields": fields} if fields else None, attempts=attempts)
        return self._json(resp, component)

    def _search(self, kind: str, filters: list[dict], *, limit: int | None = None,
                attempts: int | None = None) -> list[str]:
        """Every id a Search matches (§1.8), paged by `<type>.id > <last id>` while a page is full."""
        id_filter = {"applicantworkflows": "applicantworkflow.id", "people": "person.id", "jobs": "job.id"}[kind]
        found: list[str] = []
        last = "0"
        for _ in range(MAX_PAGES):
            body = {"filters": [*filters, {"name": id_filter, "value": [last], "operator": ">"}], "operator": "&"}
            resp = self._call("POST", self._url(f"/search/{kind}"), component="search", body=body,
                              attempts=attempts)
            results = self._json(resp, "search").get("searchResults")
            if not isinstance(results, list) or not all(isinstance(r, dict) and "id" in r for r in results):
                raise _bad_response(f"POST /search/{kind}", "no searchResults list", "search")
            ids = [_sid(r["id"]) for r in results]
            found += ids
            if len(ids) < self.search_cap or (limit and len(found) >= limit):
                return found[:limit] if limit else found
            last = ids[-1]
        raise _bad_response(f"POST /search/{kind}", f"more than {MAX_PAGES} pages", "search")

    def statuses(self, *, attempts: int | None = None) -> list[AtsStageRef]:
        """The workflow statuses of the configured status list, in list order (List API, §1.9)."""
        list_id = str(self.credentials.get("status_list") or DEFAULT_STATUS_LIST)
        url: str | None = self._url(f"/v2/lists/{list_id}")
        params: dict | None = {"size": self.list_size}
        stages: list[AtsStageRef] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return stages
            data = self._json(self._call("GET", url, component="list", params=params, attempts=attempts), "list")
            for node in data.get("nodes") or []:
                if isinstance(node, dict) and _sid(node.get("id")):
                    stages.append(AtsStageRef(external_id=_sid(node["id"]), position=len(stages),
                                              name=str(node.get("formattedvalue") or node.get("value") or "")))
            link = (data.get("_links") or {}).get("next")
            url = link.get("href") if isinstance(link, dict) else None
            if url and urlsplit(url)[:2] != urlsplit(self.base_url)[:2]:
                raise _bad_response(f"GET /v2/lists/{list_id}", "a next link to another host", "list")
            params = None
        raise _bad_response(f"GET /v2/lists/{list_id}", f"more than {MAX_PAGES} pages", "list")

    # ---- reads ----------------------------------------------------------------------------------------------

    def list_jobs(self) -> list[AtsJob]:
        """See AtsProvider.list_jobs: every job Search finds, each with the shared status pipeline."""
        ids = self._search("jobs", [])
        stages = tuple(self.statuses())
        jobs = []
        for job_id in ids:
            data = self._get(f"/jobs/{job_id}", component="profile", fields="jobtitle")
            jobs.append(AtsJob(external_id=job_id, title=str(data.get("jobtitle") or ""), stages=stages))
        return jobs

    def get_candidate(self, external_id: str) -> AtsCandidate:
        """See AtsProvider.get_candidate. A field the API user cannot see comes back empty (§1.6)."""
        data = self._get(f"/people/{external_id}", component="profile", fields=PERSON_FIELDS)
        return AtsCandidate(external_id=str(external_id), first_name=str(data.get("firstname") or ""),
                            last_name=str(data.get("lastname") or ""), email=str(data.get("email") or ""),
                            phone=_phone(data.get("phones")))

    def get_application(self, external_id: str) -> AtsApplication:
        """See AtsProvider.get_application: the recruiting workflow, never half-read."""
        return self._application(external_id, self._get(f"/applicantworkflows/{external_id}", component="workflow"))

    def _application(self, external_id: str, data: dict) -> AtsApplication:
        if missing := [k for k in WORKFLOW_KEYS if not _ref_id(data.get(k))]:
            raise ProviderError(f"iCIMS workflow {external_id} came without {', '.join(missing)}: the API user "
                                "cannot see those fields (check its group's security settings)", permanent=True,
                                scope="component", reason="missing_fields", component="workflow")
        status = data["status"] if isinstance(data["status"], dict) else {"id": data["status"]}
        return AtsApplication(external_id=str(external_id), candidate_external_id=_ref_id(data["associatedprofile"]),
                              job_external_id=_ref_id(data["baseprofile"]), stage_external_id=_ref_id(status),
                              stage_name=str(status.get("formattedvalue") or status.get("value") or ""),
                              status="active", updated_at=_when(data.get("updateddate")))

    def poll_changes(self, since: dt.datetime) -> PollResult:
        """See AtsProvider.poll_changes: Search by updateddate (minutes only), then each workflow read."""
        if since.tzinfo is None:
            raise ValueError("poll_changes needs an aware datetime")
        floor = since.astimezone(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=1)
        ids = self._search("applicantworkflows", [{"name": "applicantworkflow.updateddate",
                                                   "value": [_search_time(floor)], "operator": ">"}])
        apps = [self.get_application(i) for i in dict.fromkeys(ids)]
        apps.sort(key=lambda a: (a.updated_at or since, a.external_id))
        watermark = max([since] + [a.updated_at for a in apps if a.updated_at is not None])
        return PollResult(changes=tuple(Change(application_external_id=a.external_id,
                                               stage_external_id=a.stage_external_id, updated_at=a.updated_at,
                                               stage_name=a.stage_name, status=a.status) for a in apps),
                          new_watermark=watermark)

    # ---- inbound --------------------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> None:
        """See AtsProvider.verify_webhook: the configured Basic credentials or the HMAC Authorization (§1.4)."""
        creds = self.credentials
        mode = str(creds.get("push_auth") or "").lower()
        value = (header(headers, "Authorization") or "").strip()
        if mode == "basic":
            user, password = str(creds.get("push_username") or ""), str(creds.get("push_password") or "")
            if not (user and password):
                raise WebhookRejected("push_auth is basic but no push_username/push_password is configured")
            if not value.lower().startswith("basic "):
                raise WebhookRejected("missing Basic Authorization header")
            try:
                got = base64.b64decode(value[6:].strip(), validate=True)
            except (ValueError, binascii.Error):
                raise WebhookRejected("malformed Basic Authorization header") from None
            if not hmac.compare_digest(got, f"{user}:{password}".encode()):
                raise WebhookRejected("push credentials do not match")
            return
        if mode == "hmac":
            self._verify_hmac(headers, bytes(raw_body), value)
            return
        if mode == "oauth":
            self._verify_bearer(value)
            return
        raise WebhookRejected("no push credentials are configured for this connection (push_auth basic, hmac or "
                              "oauth)")

    def _verify_bearer(self, value: str) -> None:
        """A token Loopwise's own token endpoint issued to this connection (`integrations.ats.push_tokens`); the
        one check here that reads the database (the tokens are Loopwise's, not iCIMS's)."""
        from integrations.ats.push_tokens import push_token_valid

        creds = self.credentials
        if not (creds.get("push_client_id") and creds.get("push_client_secret")):
            raise WebhookRejected("push_auth is oauth but no push client (push_client_id/push_client_secret) is "
                                  "configured")
        if not value.lower().startswith("bearer ") or not value[7:].strip():
            raise WebhookRejected("missing Bearer Authorization header (push_auth is oauth)")
        if not push_token_valid(connection=self.connection, token=value[7:].strip()):
            raise WebhookRejected("bearer token unknown, expired or issued to another connection")

    def stored_body(self, raw_body: bytes, headers: Mapping[str, str]) -> bytes:
        """See AtsProvider.stored_body: a gzipped push is kept decompressed."""
        return _gunzip(bytes(raw_body), headers)

    def _verify_hmac(self, headers: Mapping[str, str], raw: bytes, value: str) -> None:
        creds = self.credentials
        user, secret = str(creds.get("push_hmac_user") or ""), str(creds.get("push_hmac_secret") or "")
        if not (user and secret):
            raise WebhookRejected("push_auth is hmac but no push_hmac_user/push_hmac_secret is configured")
        scheme, _, rest = value.partition(" ")
        if scheme.lower() != HMAC_SCHEME:
            raise WebhookRejected(f"Authorization is not {HMAC_SCHEME}")
        parts = dict(p.strip().partition("=")[::2] for p in rest.split(",") if "=" in p)
        signed = tuple(h.strip().lower() for h in parts.get("signedheaders", "").split(";") if h.strip())
        if parts.get("user") != user or any(h not in signed for h in NEEDED_SIGNED):
            raise WebhookRejected("HMAC Authorization names another user or does not sign the date and content hash")
        claimed = (header(headers, "x-icims-content-sha256") or "").strip().lower()
        hashes = {hashlib.sha256(raw).hexdigest()}
        try:
            hashes.add(hashlib.sha256(_gunzip(raw, headers)).hexdigest())
        except WebhookRejected:
            pass
        if claimed not in hashes:
            raise WebhookRejected("x-icims-content-sha256 does not match the body")
        try:
            sent = dt.datetime.strptime((header(headers, "x-icims-date") or "").strip(),
                                        "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            raise WebhookRejected("missing or malformed x-icims-date") from None
        if abs(clock.now() - sent) > PUSH_MAX_AGE:
            raise WebhookRejected("stale push: x-icims-date is more than 5 minutes away")
        expected = hmac_authorization(user, secret, headers, signed).rpartition("signature=")[2]
        if not hmac.compare_digest(parts.get("signature", "").strip().lower().encode(), expected.encode()):
            raise WebhookRejected("HMAC signature does not match")

    def parse_webhook(self, raw_body: bytes, headers: Mapping[str, str] | None = None) -> ParsedEvent:
        """See AtsProvider.parse_webhook, and the module docstring for gzip and the event key."""
        raw = _gunzip(bytes(raw_body), headers or {})
        try:
            data = json.loads(raw)
        except ValueError as e:
            raise WebhookRejected(f"body is not JSON: {e}", status=400) from None
        if not isinstance(data, dict):
            raise WebhookRejected("body is not a JSON object", status=400)
        event_type = data.get("eventType")
        if not isinstance(event_type, str) or not event_type:
            raise WebhookRejected("body has no eventType", status=400)
        customer = _sid(data.get("customerId"))
        if customer and self.customer_id and customer != self.customer_id:
            raise WebhookRejected(f"push for customer {customer}, not this connection's", status=400)
        system_id, new_status = _sid(data.get("systemId")), _sid(data.get("newStatus"))
        if event_type == "WorkFlowStatusChangeEvent":
            if not system_id or not new_status:
                raise WebhookRejected("WorkFlowStatusChangeEvent without systemId or newStatus", status=400)
            key = f"icims:{customer or self.customer_id}:{system_id}:{new_status}"
            return ParsedEvent(event_key=_bounded(key), kind=STAGE_CHANGE, application_external_id=system_id,
                               stage_external_id=new_status, action=event_type)
        key = f"icims:{event_type}:" + hashlib.sha256(raw).hexdigest()
        return ParsedEvent(event_key=_bounded(key), kind=OTHER, application_external_id=system_id,
                           stage_external_id=new_status, action=event_type)

    # ---- writes ---------------------------------------------------------------------------------------------

    def _note_field(self) -> str:
        field = str(self.credentials.get("note_field") or "").strip()
        if not re.fullmatch(r"[a-z][a-z0-9]*", field):
            raise ProviderError("iCIMS has no notes API: set note_field to the workflow field (e.g. field50001) that "
                                "receives the schedule text", permanent=True, scope="component",
                                reason="no_note_field", component="workflow")
        return field

    def add_note(self, application_external_id: str, text: str, *, key: str) -> str:
        """See AtsProvider.add_note: the text goes into the configured workflow field (iCIMS has no notes API),
        read-modify-write with our marker, read back after writing."""
        if not key or any(c in key for c in "]\r\n") or len(key) > 150:
            raise ValueError("a note key is 1 to 150 characters, without ']' or a line break")
        field, marker = self._note_field(), note_marker(key)
        path = f"/applicantworkflows/{application_external_id}"
        note_id = f"{application_external_id}:{field}:{key}"
        replace = str(self.credentials.get("note_mode") or "append") == "replace"

        def current() -> str:
            return str(self._get(path, component="workflow", fields=field, attempts=1).get(field) or "")

        def attempt() -> str:
            before = current()
            if marker in before:
                return note_id
            entry = f"{text.rstrip()}\n{marker}"
            value = entry if replace or not before.strip() else f"{before.rstrip()}\n\n{entry}"
            self._send("PATCH", self._url(path), component="workflow", body={field: value})
            if marker not in current():
                raise ProviderError(f"iCIMS workflow {application_external_id}: {field} does not show what was just "
                                    "written (the API user cannot see it?); not retried, to avoid writing twice",
                                    permanent=True, scope="component", reason="field_hidden", component="workflow")
            return note_id

        return self._retrying(attempt, what=f"PATCH {path} ({field})")

    def move_stage(self, application_external_id: str, *, from_stage_external_id: str,
                   to_stage_external_id: str) -> None:
        """See AtsProvider.move_stage: read the status, PATCH it only from the expected one (§1.7)."""
        path = f"/applicantworkflows/{application_external_id}"

        def where() -> str:
            data = self._get(path, component="workflow", attempts=1)
            stage = _ref_id(data.get("status"))
            if not stage:
                raise ProviderError(f"iCIMS workflow {application_external_id} came without its status: the API "
                                    "user cannot see it", permanent=True, scope="component",
                                    reason="missing_fields", component="workflow")
            if stage not in (from_stage_external_id, to_stage_external_id):
                raise ProviderError(f"iCIMS workflow {application_external_id} is in status {stage}, not "
                                    f"{from_stage_external_id} as expected (moved meanwhile)", permanent=True,
                                    scope="request", reason="stage_mismatch", component="workflow")
            return stage

        def attempt() -> None:
            if where() == to_stage_external_id:
                return
            try:
                self._send("PATCH", self._url(path), component="workflow",
                           body={"status": {"id": to_stage_external_id}})
            except ProviderError as e:
                if e.permanent and e.scope == "request" and where() == to_stage_external_id:
                    return
                raise

        self._retrying(attempt, what=f"PATCH {path} (status)")

    # ---- health ---------------------------------------------------------------------------------------------

    def check_components(self) -> list[ComponentHealth]:
        """See AtsProvider.check_components. One try per probe; each read component is probed on its own API, so
        one broken component shows alone: auth (a token, or the list index answering anything but 401), events
        (push credentials configured: a push cannot be probed), datastream (subscriptions, where licensed), search
        (workflows, people and jobs found), profile (sample people carry the required fields, a sample job its
        title; a 404 for an id Search just gave is access denied), list (the status list is not empty and holds
        every configured `status_ids`), workflow (a sample workflow shows job, person and status; writes are never
        probed, so it is `ok=None` at best)."""
        if self._quota_seen_at is None:
            self._quota.update(remaining=None, resets_at=None)  # a spent quota seen elsewhere: ask iCIMS anyway
        auth = self._check_auth()
        results = {"auth": auth, "events": self._check_events()}
        if auth.ok is False:
            for name in ("datastream", "search", "profile", "list", "workflow"):
                results[name] = ComponentHealth(name, None, "not checked: the credentials are refused (auth)")
        else:
            results["datastream"], stream_samples = self._check_datastream()
            results["search"], samples = self._check_search()
            for kind, ids in stream_samples.items():
                samples[kind] = samples.get(kind) or ids
            results["profile"] = self._check_profile(samples)
            results["list"], _ = self._check_list()
            results["workflow"] = self._check_workflow(samples)
            if auth.ok is None and (proof := next((n for n in READS if results[n].ok), None)):
                # the list index could not answer (its component is down): another API took the credentials
                results["auth"] = ComponentHealth("auth", True, f"credentials accepted (by the {proof} API)")
        return [results[c] for c in self.components]

    def _probe(self, fn: Callable[[], T]) -> tuple[T | None, str]:
        try:
            return fn(), ""
        except ProviderError as e:
            return None, e.message

    def _check_auth(self) -> ComponentHealth:
        if self.credentials.get("client_id"):
            _, failed = self._probe(lambda: self._token(fresh=True))
            return ComponentHealth("auth", not failed, failed or "token issued")
        try:
            self._send("GET", self._url("/v2/lists"), component="list")
        except ProviderError as e:
            if e.component == "auth" or e.reason == "auth":
                return ComponentHealth("auth", False, e.message)
            if e.status is not None and 400 <= e.status < 500:
                return ComponentHealth("auth", True, f"credentials accepted (the list index answered {e.status})")
            return ComponentHealth("auth", None, f"could not be checked: {e.message}")
        return ComponentHealth("auth", True, "credentials accepted")

    def _check_events(self) -> ComponentHealth:
        creds = self.credentials
        mode = str(creds.get("push_auth") or "").lower()
        configured = (mode == "basic" and creds.get("push_username") and creds.get("push_password")) or (
            mode == "hmac" and creds.get("push_hmac_user") and creds.get("push_hmac_secret")) or (
            mode == "oauth" and creds.get("push_client_id") and creds.get("push_client_secret"))
        if not configured:
            return ComponentHealth("events", False, "no push credentials (push_auth basic, hmac or oauth): pushes "
                                                    "from iCIMS cannot be verified and are refused")
        return ComponentHealth("events", None, f"{mode} push credentials configured; iCIMS has no API to check the "
                                               "Event Notification setup, a quiet push is flagged by polling")

    def _check_datastream(self) -> tuple[ComponentHealth, dict[str, list[str]]]:
        if not self.credentials.get("datastream"):
            return ComponentHealth("datastream", None, "not licensed (datastream off): polling uses Search"), {}
        base = f"{self.stream_url}/datastream/v2/streams/{self.customer_id}/subscriptions"
        data, failed = self._probe(lambda: self._json(self._call("GET", base, component="datastream", attempts=1),
                                                      "datastream"))
        if failed:
            return ComponentHealth("datastream", False, failed), {}
        subs = [_sid(s.get("id")) for s in data.get("subscriptions") or [] if isinstance(s, dict)]
        if not subs:
            return ComponentHealth("datastream", False, "the Data Streaming API lists no subscription"), {}
        events, failed = self._probe(lambda: self._json(self._call("GET", f"{base}/{subs[0]}/events",
                                                                   component="datastream", attempts=1),
                                                        "datastream").get("events") or [])
        if failed:
            return ComponentHealth("datastream", False, failed), {}
        samples: dict[str, list[str]] = {}
        for event in reversed([e for e in events if isinstance(e, dict)]):
            for kind, key in (("applicantworkflows", "systemId"), ("people", "personId"), ("jobs", "jobId")):
                if _sid(event.get(key)) and len(samples.setdefault(kind, [])) < SAMPLES:
                    samples[kind].append(_sid(event[key]))
        return ComponentHealth("datastream", True, f"subscription {subs[0]} readable"), samples

    def _check_search(self) -> tuple[ComponentHealth, dict[str, list[str]]]:
        samples: dict[str, list[str]] = {}
        for kind in ("applicantworkflows", "people", "jobs"):
            ids, failed = self._probe(lambda k=kind: self._search(k, [], limit=SAMPLES, attempts=1))
            if failed:
                return ComponentHealth("search", False, failed), samples
            samples[kind] = ids
        if not samples["applicantworkflows"]:
            return ComponentHealth("search", False, "Search finds no recruiting workflow at all: is the API user in "
                                                    "the Integration User group?"), samples
        return ComponentHealth("search", True, "workflows, people and jobs found"), samples

    def _check_profile(self, samples: dict[str, list[str]]) -> ComponentHealth:
        people, jobs = samples.get("people") or [], samples.get("jobs") or []
        if not people and not jobs:
            return ComponentHealth("profile", None, "not checked: no sample person or job (Search and Data "
                                                    "Streaming gave none)")
        missing: set[str] | None = None
        for person in people:
            data, failed = self._probe(lambda p=person: self._get(f"/people/{p}", component="profile",
                                                                  fields=PERSON_FIELDS, attempts=1))
            if failed:
                return ComponentHealth("profile", False, _denied(failed))
            gone = {f for f in REQUIRED_PERSON_FIELDS if not data.get(f)}
            missing = gone if missing is None else missing & gone
        for job in jobs[:1]:
            data, failed = self._probe(lambda j=job: self._get(f"/jobs/{j}", component="profile", fields="jobtitle",
                                                               attempts=1))
            if failed:
                return ComponentHealth("profile", False, _denied(failed))
            if not data.get("jobtitle"):
                return ComponentHealth("profile", False, f"job {job} came without jobtitle: hidden from the API user")
        if missing:
            return ComponentHealth("profile", False, f"{', '.join(sorted(missing))} missing on every sampled person "
                                                     "(hidden from the API user by security settings or layout)")
        return ComponentHealth("profile", True, f"{len(people)} people and {len(jobs[:1])} job read with their fields")

    def _check_list(self) -> tuple[ComponentHealth, list[AtsStageRef]]:
        stages, failed = self._probe(lambda: self.statuses(attempts=1))
        if failed:
            return ComponentHealth("list", False, failed), []
        if not stages:
            return ComponentHealth("list", False, "the status list is empty (hidden from the API user, or the "
                                                  "status_list setting is wrong)"), []
        known = {s.external_id for s in stages}
        wanted = self.credentials.get("status_ids") or []
        if gone := [str(s) for s in wanted if str(s) not in known]:
            return ComponentHealth("list", False, f"configured status {', '.join(gone)} no longer in the status "
                                                  "list (renamed or removed in iCIMS?)"), stages
        return ComponentHealth("list", True, f"{len(stages)} statuses; every configured one present"), stages

    def _check_workflow(self, samples: dict[str, list[str]]) -> ComponentHealth:
        try:
            field = self._note_field()
        except ProviderError as e:
            return ComponentHealth("workflow", False, e.message)
        flows = samples.get("applicantworkflows") or []
        if not flows:
            return ComponentHealth("workflow", None, "not checked: no sample workflow (Search and Data Streaming "
                                                     "gave none); status moves are never probed")
        data, failed = self._probe(lambda: self._application(flows[0], self._get(
            f"/applicantworkflows/{flows[0]}", component="workflow", attempts=1)))
        if failed:
            return ComponentHealth("workflow", False, _denied(failed))
        return ComponentHealth("workflow", None, f"workflow {flows[0]} read with job, person and status; writes "
                                                 f"({field} and status) are never probed")


def _denied(message: str) -> str:
    """A 404 for an id Search or Data Streaming just gave is access denied, whatever its code says (§1.11)."""
    return message if "access denied" in message or "404" not in message else f"{message} (access denied: iCIMS " \
                                                                               "answers 404 for it)"


def _bounded(key: str) -> str:
    return key if len(key) <= 200 else key[:130] + ":" + hashlib.sha256(key.encode()).hexdigest()
