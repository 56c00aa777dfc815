"""Wire formats for the `microsoft` fake (integrations/fakes/microsoft.py): Graph's and AAD's error bodies, Graph
date-times (7 fractional digits, no offset, a separate timeZone), `Prefer` headers, `$filter` clauses on events and
seed checks. Pure functions, no state."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from integrations.fakes.base import Abort, Request

GRAPH_ERRORS = {  # status: (code, message) for answers that carry no code of their own
    400: ("BadRequest", "Bad request."), 401: ("InvalidAuthenticationToken", "Access token validation failure."),
    403: ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    404: ("ErrorItemNotFound", "The specified object was not found in the store."),
    405: ("Request_BadRequest", "Specified HTTP method is not allowed for the request target."),
    429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
    500: ("InternalServerError", "An internal server error occurred."),
    503: ("serviceNotAvailable", "Service unavailable"),
    504: ("UnknownError", "The gateway did not receive a response in time."),
}
# Windows zone names Graph accepts besides IANA ones (the few our adapters and tests use)
WINDOWS_ZONES = {"UTC": "UTC", "GMT Standard Time": "Europe/London", "W. Europe Standard Time": "Europe/Berlin",
                 "Romance Standard Time": "Europe/Paris", "Central Europe Standard Time": "Europe/Budapest",
                 "Eastern Standard Time": "America/New_York", "Central Standard Time": "America/Chicago",
                 "Mountain Standard Time": "America/Denver", "Pacific Standard Time": "America/Los_Angeles",
                 "India Standard Time": "Asia/Kolkata", "Tokyo Standard Time": "Asia/Tokyo",
                 "AUS Eastern Standard Time": "Australia/Sydney"}
STATUS_DIGITS = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "4"}
STATUS_RANK = {"free": 0, "workingElsewhere": 1, "tentative": 2, "busy": 3, "oof": 4}


def graph_error(status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
                client_request_id: str | None = None) -> Abort:
    """An Abort carrying Graph's error body `{"error": {"code", "message", "innerError": {...}}}`."""
    return Abort(status, message, body=graph_error_json(code, message, client_request_id), headers=headers)


def graph_error_json(code: str, message: str, client_request_id: str | None = None) -> dict[str, Any]:
    request_id = str(uuid.uuid4())
    return {"error": {"code": code, "message": message,
                      "innerError": {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                                     "request-id": request_id,
                                     "client-request-id": client_request_id or request_id}}}


def aad_error(status: int, error: str, code: int, description: str) -> Abort:
    """An Abort with the identity platform's error body: `error`, an `AADSTSnnnn:`-prefixed description,
    `error_codes`, timestamp, trace and correlation ids, error_uri (contract section 2.6)."""
    now = datetime.now(UTC)
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    return Abort(status, description, body={
        "error": error,
        "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} "
                             f"Timestamp: {stamp}",
        "error_codes": [code], "timestamp": stamp, "trace_id": trace, "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}"})


def zone(name: Any) -> ZoneInfo | None:
    """An IANA or (a few) Windows zone names; None for an unknown one."""
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(WINDOWS_ZONES.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def graph_time(moment: datetime, zone_name: str = "UTC") -> dict[str, str]:
    """`{"dateTime": "2026-03-02T09:00:00.0000000", "timeZone": zone_name}`: 7 fractional digits, no offset."""
    local = moment.astimezone(zone(zone_name) or UTC)
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S") + f".{local.microsecond * 10:07d}",
            "timeZone": zone_name}


def parse_graph_time(value: Any, name: str) -> datetime:
    """A dateTimeTimeZone from a request body, in UTC; 400 the way Graph answers otherwise."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise graph_error(400, "ErrorInvalidRequest", f"{name} must be a dateTimeTimeZone.")
    tz = zone(value.get("timeZone") or "UTC")
    if tz is None:
        raise graph_error(400, "TimeZoneNotSupportedException",
                          f"A valid TimeZone value must be specified. The following TimeZone value is not "
                          f"supported: '{value.get('timeZone')}'.")
    text = value["dateTime"]
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", text)
    if not match:
        raise graph_error(400, "ErrorInvalidRequest", f"Cannot convert the literal '{text}' to the expected "
                                                      f"type 'Edm.DateTime'.")
    moment = datetime.fromisoformat(match[1] + (match[3] or ""))
    if match[2]:
        moment = moment.replace(microsecond=int(match[2][:6].ljust(6, "0")))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def parse_iso(value: str) -> datetime:
    """A `$filter` literal or a seeded time: ISO 8601, naive means UTC."""
    moment = datetime.fromisoformat(value.rstrip("Z") + ("+00:00" if value.endswith("Z") else ""))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def prefer(req: Request) -> dict[str, str]:
    """`Prefer: outlook.timezone="X", IdType="ImmutableId"` as {name lowercased: value}."""
    found: dict[str, str] = {}
    for header in req.headers.get_all("Prefer") or []:
        for part in header.split(","):
            name, _, value = part.strip().partition("=")
            if name:
                found[name.strip().lower()] = value.strip().strip('"')
    return found


def new_id(prefix: str) -> str:
    """An opaque Exchange-looking item id (base64url alphabet, ends in `=`)."""
    return prefix + secrets.token_urlsafe(96).replace("-", "_") + "="


# ---- $filter ---------------------------------------------------------------------------------------------------

ANY_CLAUSE = re.compile(r"singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*\1/id\s+eq\s+'((?:[^']|'')*)'\s+and\s+"
                        r"\1/value\s+eq\s+'((?:[^']|'')*)'\s*\)", re.IGNORECASE)
COMPARE_CLAUSE = re.compile(r"(start/dateTime|end/dateTime|iCalUId|subject|isCancelled|isOrganizer|"
                            r"transactionId)\s+(eq|ne|ge|gt|le|lt)\s+('((?:[^']|'')*)'|true|false)", re.IGNORECASE)
EXPAND_PROPS = re.compile(r"singleValueExtendedProperties(?:\(\s*\$filter\s*=\s*id\s+eq\s+'((?:[^']|'')*)'\s*\))?",
                          re.IGNORECASE)


def split_and(text: str) -> list[str]:
    """`a and b and c` at the top level (outside quotes and parentheses)."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and text[i:i + 5].lower() == " and ":
            parts.append(text[start:i].strip())
            start = i = i + 5
            continue
        i += 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def event_filter(text: str):
    """A predicate over stored events for the `$filter` forms Graph takes on events that our adapter uses: the
    extended-property `Any` lookup, and eq/ne/ge/gt/le/lt on start/dateTime, end/dateTime, iCalUId, subject,
    isCancelled, isOrganizer, transactionId, joined by `and`. Anything else answers 400."""
    tests = []
    for clause in split_and(text):
        if match := ANY_CLAUSE.fullmatch(clause):
            prop_id, value = match[2].replace("''", "'").lower(), match[3].replace("''", "'")
            tests.append(lambda e, p=prop_id, v=value: any(
                x["id"].lower() == p and x.get("value") == v for x in e.get("singleValueExtendedProperties", [])))
            continue
        match = COMPARE_CLAUSE.fullmatch(clause)
        if not match:
            raise graph_error(400, "BadRequest", f"Invalid filter clause: {clause}")
        field, op = match[1].lower(), match[2].lower()
        literal: Any = match[4].replace("''", "'") if match[4] is not None else match[3].lower() == "true"
        tests.append(_comparison(field, op, literal))
    return lambda event: all(test(event) for test in tests)


def _comparison(field: str, op: str, literal: Any):
    ops = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "ge": lambda a, b: a >= b,
           "gt": lambda a, b: a > b, "le": lambda a, b: a <= b, "lt": lambda a, b: a < b}
    if field in ("start/datetime", "end/datetime"):
        try:
            wanted = parse_iso(literal)
        except (TypeError, ValueError):
            raise graph_error(400, "BadRequest", f"Invalid filter value: {literal}") from None
        key = "_start" if field.startswith("start") else "_end"
        return lambda e: ops[op](parse_iso(e[key]), wanted)
    name = {"icaluid": "iCalUId", "subject": "subject", "iscancelled": "isCancelled", "isorganizer": "isOrganizer",
            "transactionid": "transactionId"}[field]
    if op not in ("eq", "ne"):
        raise graph_error(400, "BadRequest", f"The operator '{op}' is not supported on {name}.")
    return lambda e: ops[op](e.get(name), literal)


# ---- seed checks -----------------------------------------------------------------------------------------------

def seed_items(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = data.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise Abort(400, f"{key} must be a list of objects", field=key)
    return items


def seed_need(item: dict[str, Any], key: str, where: str) -> str:
    if not isinstance(item.get(key), str) or not item[key]:
        raise Abort(400, f"each of {where} needs {key}", field=where)
    return item[key]


def busy_block(block: Any) -> tuple[datetime, datetime, str]:
    """A seeded busy block: [start, end] or [start, end, status] (busy, tentative, oof, workingElsewhere), or
    {"start", "end", "status"?}; times in ISO 8601 with an offset."""
    try:
        if isinstance(block, dict):
            start, end, status = block["start"], block["end"], block.get("status", "busy")
        else:
            start, end, *rest = block
            status = rest[0] if rest else "busy"
        if any(datetime.fromisoformat(t.replace("Z", "+00:00")).tzinfo is None for t in (start, end)):
            raise ValueError("no offset")
        first, last = parse_iso(start), parse_iso(end)
    except (KeyError, TypeError, ValueError):
        raise Abort(400, f"a busy block must be [start, end(, status)] in ISO 8601 with an offset, not {block!r}",
                    field="busy") from None
    if status not in STATUS_DIGITS or status == "free":
        raise Abort(400, f"busy block {block!r}: status must be busy, tentative, oof or workingElsewhere",
                    field="busy")
    if last <= first:
        raise Abort(400, f"busy block {block!r} ends before it starts", field="busy")
    return first, last, status
