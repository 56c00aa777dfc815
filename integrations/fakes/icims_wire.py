"""Wire shapes of the `icims` fake: error bodies and X-Error headers, the `yyyy-mm-dd hh:mm a` datetimes, the
Search API's filters, the push's HMAC header, gzip, and the rate-limit headers (contracts/icims-jobvite.md §1)."""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import hmac
import http.client
import json
import ssl
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus, urlencode, urlsplit

from integrations.fakes.base import Abort

HMAC_SCHEME = "x-icims-v1-hmac-sha256"
SIGNED_HEADERS = ("x-icims-date", "x-icims-content-sha256", "content-type")
ERROR_NAMES = {0: "INTERNAL_ERROR", 1: "FIELD_REQUIRED", 2: "RESOURCE_NOT_FOUND", 3: "RESOURCE_ACCESS_DENIED",
               4: "INVALID_FIELD", 6: "INVALID_CREDENTIALS"}


def now() -> datetime:
    return datetime.now(UTC)


def icims_time(moment: datetime) -> str:
    """iCIMS datetimes (§1.6): `yyyy-mm-dd hh:mm a`, in UTC, to the minute."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %I:%M %p")


def parse_icims_time(value: Any) -> datetime:
    """`yyyy-mm-dd hh:mm a` (or `yyyy-mm-dd`, or ISO 8601) as an aware UTC datetime; Abort(400) otherwise."""
    if isinstance(value, str):
        for fmt in ("%Y-%m-%d %I:%M %p", "%Y-%m-%d"):
            try:
                return datetime.strptime(value.strip(), fmt).replace(tzinfo=UTC)
            except ValueError:
                pass
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
        except ValueError:
            pass
    raise error(400, 4, f"Invalid date value {value!r}: expected yyyy-mm-dd hh:mm a")


def minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def error(status: int, code: int, message: str, *, field: str | None = None,
          headers: dict[str, str] | None = None) -> Abort:
    """iCIMS's error answer (§1.11): `{"errors": [{"errorMessage", "errorCode"}]}` and an `X-Error` header."""
    detail = f"{code}:{field}:{message}" if field else f"{code}:{message}"
    return Abort(status, message, body={"errors": [{"errorMessage": message, "errorCode": code}]},
                 headers={"X-Error": detail, **(headers or {})})


def not_found(what: str) -> Abort:
    return error(404, 2, f"{what} not found.")


def access_denied(what: str) -> Abort:
    """Code 3 answers 404, like a resource that does not exist (§1.11)."""
    return error(404, 3, f"Access to {what} is denied.")


def bad_credentials() -> Abort:
    return error(401, 6, "Invalid Username or Password credentials provided.")


def basic_credentials(value: str | None) -> tuple[str, str] | None:
    if not value or not value.lower().startswith("basic "):
        return None
    try:
        user, sep, password = base64.b64decode(value[6:].strip(), validate=True).decode().partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def seconds_to_midnight(moment: datetime) -> int:
    tomorrow = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - moment).total_seconds()))


def rate_headers(limit: int, remaining: int, moment: datetime) -> dict[str, str]:
    """`x-ratelimit-*` (§1.10): reset is the seconds until the daily reset at 00:00 UTC."""
    return {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(max(0, remaining)),
            "x-ratelimit-reset": str(seconds_to_midnight(moment))}


# ---- the push ------------------------------------------------------------------------------------------------

def hmac_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def hmac_authorization(user: str, secret: str, headers: dict[str, str],
                       signed: tuple[str, ...] = SIGNED_HEADERS) -> str:
    """The push's `Authorization` header in the documented `x-icims-v1-hmac-sha256` form. The string to sign is not
    public (contract §1.3): the fake signs the lower-case `name:value` lines of the signed headers, joined by "\\n",
    the scheme the iCIMS adapter verifies."""
    lower = {k.lower(): v for k, v in headers.items()}
    canonical = "\n".join(f"{name}:{lower.get(name, '').strip()}" for name in signed)
    digest = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return f"{HMAC_SCHEME} user={user},signedheaders={';'.join(signed)},signature={digest}"


API_SIGNED = ("content-type", "host", "x-icims-content-sha256", "x-icims-date")
API_MAX_SKEW = timedelta(minutes=5)


def api_string_to_sign(method: str, path: str, query: str, headers: Any, signed: tuple[str, ...]) -> str:
    """What an HMAC-signed API call signs here (the vendor's string is not public, contract §1.3): the method, the
    path, the raw query string, then the signed headers' lower-case `name:value` lines, joined by "\\n"."""
    lines = [f"{name}:{(headers.get(name) or '').strip()}" for name in signed]
    return "\n".join([method.upper(), path, query, *lines])


def api_hmac_user(method: str, path: str, query: str, headers: Any, body: bytes, secrets_by_user: dict[str, str],
                  moment: datetime) -> str | None:
    """The API user whose `x-icims-v1-hmac-sha256` Authorization signs this call, or None: the user must have an
    HMAC secret, the signed headers must include x-icims-date (within 5 minutes) and x-icims-content-sha256 (the
    body's hash), and the signature must match."""
    value = (headers.get("Authorization") or "").strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() != HMAC_SCHEME:
        return None
    parts = dict(p.strip().partition("=")[::2] for p in rest.split(",") if "=" in p)
    user, signed = parts.get("user", ""), tuple(h for h in parts.get("signedheaders", "").split(";") if h)
    secret = secrets_by_user.get(user)
    if not secret or not {"x-icims-date", "x-icims-content-sha256"} <= set(signed):
        return None
    if (headers.get("x-icims-content-sha256") or "").strip().lower() != hashlib.sha256(body).hexdigest():
        return None
    try:
        sent = datetime.strptime((headers.get("x-icims-date") or "").strip(), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    if abs(moment - sent) > API_MAX_SKEW:
        return None
    expected = hmac.new(secret.encode(), api_string_to_sign(method, path, query, headers, signed).encode(),
                        hashlib.sha256).hexdigest()
    return user if hmac.compare_digest(parts.get("signature", "").strip().lower(), expected) else None


def fetch_push_token(url: str, client_id: str, client_secret: str, *, client_auth: str,
                     timeout: float) -> tuple[int | None, dict[str, Any]]:
    """iCIMS calling the receiver's OAuth client-credentials token URL before a push (§1.4): the status and the
    JSON answer ({} when there is none). The client authenticates by Basic (RFC 6749 §2.3.1) or by form fields."""
    form = {"grant_type": "client_credentials"}
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    if client_auth == "form":
        form.update(client_id=client_id, client_secret=client_secret)
    else:
        pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    kwargs = {"context": ssl._create_unverified_context()} if parts.scheme == "https" else {}
    conn = cls(parts.hostname or "", parts.port, timeout=timeout, **kwargs)
    try:
        body = urlencode(form).encode()
        conn.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body=body,
                     headers={**headers, "Content-Length": str(len(body))})
        answer = conn.getresponse()
        raw = answer.read()
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            data = {}
        return answer.status, data if isinstance(data, dict) else {}
    except (OSError, http.client.HTTPException, ValueError):
        return None, {}
    finally:
        conn.close()


def push_headers(body: bytes, *, auth: dict[str, Any], links: list[dict[str, str]], gzipped: bool,
                 moment: datetime) -> dict[str, str]:
    """Headers of a push whose wire body is `body` (already gzipped when `gzipped`)."""
    headers = {"Content-Type": "application/json", "User-Agent": "iCIMS-EventNotification",
               "Link": ",".join(f'<{x["url"]}>;rel="{x["rel"]}";title="{x["title"]}"' for x in links)}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    kind = auth.get("auth", "basic")
    if kind == "basic":
        token = base64.b64encode(f"{auth.get('username', '')}:{auth.get('password', '')}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    elif kind == "hmac":
        headers["x-icims-date"] = hmac_date(moment)
        headers["x-icims-content-sha256"] = hashlib.sha256(body).hexdigest()
        headers["Authorization"] = hmac_authorization(str(auth.get("user", "")), str(auth.get("secret", "")),
                                                      headers)
    return headers


def gzip_body(raw: bytes) -> bytes:
    return gzip.compress(raw, mtime=0)


def post_raw(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> int | None:
    """POSTs exactly `body` with the given header names; the receiver's status, or None without an answer."""
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    kwargs = {"context": ssl._create_unverified_context()} if parts.scheme == "https" else {}
    conn = cls(parts.hostname or "", parts.port, timeout=timeout, **kwargs)
    try:
        conn.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body=body,
                     headers={**headers, "Content-Length": str(len(body))})
        answer = conn.getresponse()
        answer.read()
        return answer.status
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        conn.close()


# ---- search ----------------------------------------------------------------------------------------------------

SEARCH_FIELDS = {  # profile type: {filter name: record key}
    "applicantworkflows": {"applicantworkflow.id": "id", "applicantworkflow.updateddate": "updated",
                           "applicantworkflow.status": "status", "applicantworkflow.job.id": "job",
                           "applicantworkflow.person.id": "person"},
    "people": {"person.id": "id", "person.updateddate": "updated", "person.createddate": "created"},
    "jobs": {"job.id": "id", "job.updateddate": "updated", "job.createddate": "created"},
}


def search_matcher(kind: str, body: Any):
    """A predicate over the fake's records for a Search API body (§1.8); Abort(400) for what it cannot read."""
    if not isinstance(body, dict) or not isinstance(body.get("filters", []), list):
        raise error(400, 4, "The search request must be a JSON object with a filters array.")
    if body.get("operator", "&") != "&":
        raise error(400, 4, "The fake supports only the '&' operator between filters.")
    known = SEARCH_FIELDS[kind]
    tests = []
    for f in body.get("filters", []):
        if not isinstance(f, dict) or f.get("name") not in known:
            raise error(400, 4, f"Invalid search filter {f.get('name') if isinstance(f, dict) else f!r}.")
        values = f.get("value")
        if not isinstance(values, list) or not values:
            raise error(400, 4, f"Filter {f['name']} needs a value array.")
        tests.append(_test(known[f["name"]], f.get("operator", "="), values, f.get("secondaryValue")))
    return lambda record: all(t(record) for t in tests)


def _test(key: str, op: str, values: list, secondary: Any):
    if key in ("updated", "created"):
        low = minute(parse_icims_time(values[0]))
        high = minute(parse_icims_time(secondary[0])) if isinstance(secondary, list) and secondary else None

        def when(record: dict) -> datetime:
            return minute(record[key])

        ops = {"=": lambda r: low <= when(r) and (high is None or when(r) <= high), ">": lambda r: when(r) > low,
               ">=": lambda r: when(r) >= low, "<": lambda r: when(r) < low}
    elif key == "status":
        wanted = {str(v) for v in values}
        ops = {"=": lambda r: str(r[key]) in wanted}
    else:
        try:
            numbers = [int(v) for v in values]
        except (TypeError, ValueError):
            raise error(400, 4, f"Filter on {key} needs numeric values.") from None
        ops = {"=": lambda r: int(r[key]) in numbers, ">": lambda r: int(r[key]) > numbers[0],
               "<": lambda r: int(r[key]) < numbers[0]}
    if op not in ops:
        raise error(400, 4, f"Operator {op!r} is not supported for this filter.")
    return ops[op]


def list_value(node: dict[str, Any]) -> dict[str, str]:
    """A list field's value (§1.6): `{"id", "value", "formattedvalue"}`."""
    return {"id": node["id"], "value": node["value"], "formattedvalue": node["value"]}
