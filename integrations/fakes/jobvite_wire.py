"""Wire formats for the `jobvite` fake (integrations/fakes/jobvite.py): the `status` envelope every answer carries,
Jobvite's error answers, the Java-style `dateFormat` patterns of `datestart`/`dateend`, the key/secret headers and the
signed variant, the webhook's `X-Jobvite-Event-Signature`, and the US Pacific day the daily limits reset on
(contracts/icims-jobvite.md §2). Pure functions, no state."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import string
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from integrations.fakes.base import Abort

PACIFIC = ZoneInfo("America/Los_Angeles")
BAD_KEY = "Invalid api/secret. Try again with a valid api/secret"  # §2.8, recorded
NO_API = "Invalid URL Cannot find API."                             # §2.8, recorded
RATE_LIMITED = "API rate limit exceeded for this api key. Slow down and try again later."
QUOTA_SPENT = "Daily API quota exceeded for this api key. The quota resets at midnight Pacific Time."
DEFAULT_DATE_FORMAT = "yyyy-MM-dd"
_ALPHABET = string.ascii_letters + string.digits


def now_ms() -> int:
    return int(time.time() * 1000)


def new_eid() -> str:
    """A Jobvite-looking id: eight letters and digits (`dOen2hqr`)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


def envelope(code: int = 200, messages: list[str] | None = None) -> dict[str, Any]:
    """The block every v2 answer carries (§2.3: success bodies do too)."""
    return {"status": {"code": code, "messages": list(messages or [])}}


def jv_error(status: int, message: str, *, headers: dict[str, str] | None = None) -> Abort:
    """Jobvite's v2 error answer (§2.8): `{"status": {"code": <status>, "messages": [<text>]}}`."""
    return Abort(status, message, body=envelope(status, [message]), headers=headers)


def login_redirect() -> Abort:
    """A failure answered the v1 way (§2.8): a 302 to the web app's login page, with HTML."""
    html = "<html><head><title>Jobvite</title></head><body>Please <a href=\"https://app.jobvite.com/Login\">sign " \
           "in</a>.</body></html>"
    return Abort(302, "redirect", body=html, headers={"Location": "https://app.jobvite.com/Login"})


# ---- auth ------------------------------------------------------------------------------------------------------

def signed_value(secret: str, key: str, epoch: str) -> str:
    """`X-JVI-SIGN` of the signed variant (§2.2 [U]): base64(HMAC-SHA256(secret, key + "|" + epoch))."""
    return base64.b64encode(hmac.new(secret.encode(), f"{key}|{epoch}".encode(), hashlib.sha256).digest()).decode()


def event_signature(signing_key: str, body: bytes) -> str:
    """`X-Jobvite-Event-Signature` (§2.6 [U]): base64(HMAC-SHA256(signing key, raw body))."""
    return base64.b64encode(hmac.new(signing_key.encode(), body, hashlib.sha256).digest()).decode()


# ---- dates -----------------------------------------------------------------------------------------------------

_TOKENS = (("yyyy", r"(?P<year>\d{4})"), ("SSS", r"(?P<ms>\d{3})"), ("XXX", r"(?P<iso>Z|[+-]\d{2}:\d{2})"),
           ("MM", r"(?P<month>\d{1,2})"), ("dd", r"(?P<day>\d{1,2})"), ("HH", r"(?P<hour>\d{1,2})"),
           ("mm", r"(?P<minute>\d{1,2})"), ("ss", r"(?P<second>\d{1,2})"), ("Z", r"(?P<rfc>[+-]\d{4})"))


def _pattern_regex(pattern: str) -> str:
    regex, i = "", 0
    while i < len(pattern):
        if pattern[i] == "'":
            end = pattern.find("'", i + 1)
            if end < 0:
                raise ValueError("unclosed quote")
            regex += re.escape(pattern[i + 1:end])
            i = end + 1
            continue
        for token, rx in _TOKENS:
            if pattern.startswith(token, i):
                if f"?P<{rx[4:rx.index('>')]}>" in regex:
                    raise ValueError(f"{token} twice")
                regex += rx
                i += len(token)
                break
        else:
            if pattern[i].isalpha():
                raise ValueError(f"unsupported letter {pattern[i]!r}")
            regex += re.escape(pattern[i])
            i += 1
    return regex


def parse_date(value: str, pattern: str) -> datetime:
    """`value` read with a Java SimpleDateFormat `pattern` (yyyy MM dd HH mm ss SSS Z XXX and quoted literals); no
    zone in the pattern means UTC. Raises ValueError."""
    match = re.fullmatch(_pattern_regex(pattern), value.strip())
    if not match:
        raise ValueError(f"{value!r} does not match {pattern!r}")
    g = match.groupdict()
    moment = datetime(int(g["year"]), int(g.get("month") or 1), int(g.get("day") or 1), int(g.get("hour") or 0),
                      int(g.get("minute") or 0), int(g.get("second") or 0), int(g.get("ms") or 0) * 1000, tzinfo=UTC)
    offset = g.get("rfc") or (g.get("iso") if g.get("iso") != "Z" else None)
    if offset:
        digits = offset.replace(":", "")
        delta = timedelta(hours=int(digits[1:3]), minutes=int(digits[3:5]))
        moment -= delta if digits[0] == "+" else -delta
    return moment


def ms_of(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def pacific_day(moment_ms: int | None = None) -> str:
    """The US Pacific date the daily limits count in (§2.7: they reset at midnight Pacific)."""
    moment = datetime.fromtimestamp((now_ms() if moment_ms is None else moment_ms) / 1000, tz=UTC)
    return moment.astimezone(PACIFIC).date().isoformat()


# ---- rows ------------------------------------------------------------------------------------------------------

def candidate_row(person: dict[str, Any], app: dict[str, Any] | None, job: dict[str, Any] | None, *,
                  show_comments: bool = True) -> dict[str, Any]:
    """One row of `GET /api/v2/candidate` (§2.3): a candidate with one `application` (a person with two
    applications is two rows). Epoch-millisecond times; empty strings where Jobvite has nothing."""
    row = {"eId": person["eId"], "firstName": person["firstName"], "lastName": person["lastName"],
           "email": person["email"], "mobile": person["mobile"], "homePhone": person["homePhone"], "workPhone": "",
           "address": "", "city": "", "state": "", "country": "", "application": None}
    if app is not None:
        shown = {"eId": app["eId"], "workflowState": app["workflowState"], "workflowStateEId": app["workflowStateEId"],
                 "lastUpdatedDate": app["lastUpdatedDate"], "sentDate": app["sentDate"], "comments": app["comments"],
                 "disposition": app["disposition"], "source": app["source"], "sourceType": "Career Site",
                 "customField": [],
                 "job": None if job is None else {"eId": job["eId"], "requisitionId": job["requisitionId"],
                                                  "title": job["title"], "primaryRecruiter": job["primaryRecruiter"]}}
        if not show_comments:
            del shown["comments"]
        row["application"] = shown
    return row
