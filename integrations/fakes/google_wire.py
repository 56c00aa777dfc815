"""Wire formats for the `google` fake (integrations/fakes/google.py): Google's error body, RFC 3339 times, event
spans, ids and links, Meet conferences, PATCH merging and seed checks. Pure functions, no state."""

from __future__ import annotations

import base64
import copy
import hashlib
from datetime import UTC, date, datetime
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from integrations.fakes.base import Abort, Request

MEET_ICON = "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png"
STATUS_ERRORS = {  # status: (domain, reason, message) for answers that carry no reason of their own
    400: ("global", "badRequest", "Bad Request"), 401: ("global", "authError", "Invalid Credentials"),
    403: ("global", "forbidden", "Forbidden"), 404: ("global", "notFound", "Not Found"),
    405: ("global", "badRequest", "Method Not Allowed"), 409: ("global", "conflict", "Conflict"),
    410: ("global", "deleted", "Resource has been deleted"), 412: ("global", "conditionNotMet", "Precondition Failed"),
    429: ("usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
}


def google_error(status: int, reason: str, message: str, *, domain: str = "global",
                 headers: dict[str, str] | None = None) -> Abort:
    """An Abort carrying Google's canonical error body, `errors[0].reason` included (the client retries on it)."""
    return Abort(status, message, body=error_json(status, domain, reason, message), headers=headers)


def error_json(status: int, domain: str, reason: str, message: str) -> dict[str, Any]:
    return {"error": {"errors": [{"domain": domain, "reason": reason, "message": message}], "code": status,
                      "message": message}}


def rfc3339(moment: datetime, *, ms: bool = False) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{moment.microsecond // 1000:03d}Z" if ms else "Z")


def now_rfc3339() -> str:
    return rfc3339(datetime.now(UTC), ms=True)


def parse_time(value: Any) -> datetime:
    """An RFC 3339 time with an offset, in UTC; ValueError otherwise."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    if moment is None or moment.tzinfo is None:
        raise ValueError(f"not an RFC 3339 time with an offset: {value!r}")
    return moment.astimezone(UTC)


def required_time(body: dict[str, Any], name: str) -> datetime:
    if name not in body:
        raise google_error(400, "required", f"Missing {name} parameter.")
    try:
        return parse_time(body[name])
    except ValueError:
        raise google_error(400, "invalid", f"Invalid value for: {name}") from None


def query_time(req: Request, name: str) -> datetime | None:
    return None if req.arg(name) is None else required_time({name: req.arg(name)}, name)


def time_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise google_error(400, "invalid", f"Invalid time zone definition: {name}") from None


def in_zone(moment: datetime, zone: ZoneInfo) -> str:
    return rfc3339(moment) if zone.key == "UTC" else moment.astimezone(zone).isoformat()


def event_span(event: dict[str, Any], calendar_zone: str) -> tuple[datetime, datetime]:
    """An event's [start, end) in UTC: `dateTime` with an offset or with `timeZone`, or an all-day `date`."""
    ends = []
    for key in ("start", "end"):
        when = event[key]
        try:
            if "dateTime" in when:
                moment = datetime.fromisoformat(when["dateTime"])
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=time_zone(when.get("timeZone") or calendar_zone))
            else:
                moment = datetime.combine(date.fromisoformat(when["date"]), clock_time(),
                                          time_zone(when.get("timeZone") or calendar_zone))
        except (KeyError, TypeError, ValueError):
            raise google_error(400, "invalid", f"Invalid {key} time.") from None
        ends.append(moment.astimezone(UTC))
    return ends[0], ends[1]


def html_link(event_id: str, calendar_id: str) -> str:
    eid = base64.urlsafe_b64encode(f"{event_id} {calendar_id}".encode()).rstrip(b"=").decode()
    return f"https://www.google.com/calendar/event?eid={eid}"


def meet_code(seed: str) -> str:
    """A Meet code like `abc-defg-hij`, the same for the same seed."""
    letters = "".join(chr(ord("a") + b % 26) for b in hashlib.sha256(seed.encode()).digest()[:10])
    return f"{letters[:3]}-{letters[3:7]}-{letters[7:]}"


def meet_conference(request_id: str, seed: str) -> dict[str, Any]:
    code = meet_code(seed)
    pin = str(int(hashlib.sha256(f"pin {seed}".encode()).hexdigest(), 16))[:9]
    return {"createRequest": {"requestId": request_id, "conferenceSolutionKey": {"type": "hangoutsMeet"},
                              "status": {"statusCode": "success"}},
            "entryPoints": [{"entryPointType": "video", "uri": f"https://meet.google.com/{code}",
                             "label": f"meet.google.com/{code}"},
                            {"entryPointType": "more", "uri": f"https://tel.meet/{code}?pin={pin}", "pin": pin},
                            {"entryPointType": "phone", "uri": "tel:+1-555-0100", "label": "+1 555-0100",
                             "pin": pin[:6], "regionCode": "US"}],
            "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet", "iconUri": MEET_ICON},
            "conferenceId": code}


def json_body(req: Request) -> dict[str, Any]:
    body = req.json()
    if not isinstance(body, dict):
        raise google_error(400, "parseError", "Parse Error")
    return body


def constraint(value: str) -> tuple[str, str]:
    key, sep, wanted = value.partition("=")
    if not sep or not key:
        raise google_error(400, "invalid", f"Invalid extended property constraint: {value}")
    return key, wanted


def merge_patch(target: dict[str, Any], key: str, value: Any) -> None:
    """JSON merge patch of one field: objects merge, null deletes, anything else replaces."""
    if value is None:
        target.pop(key, None)
    elif isinstance(value, dict) and isinstance(target.get(key), dict):
        for sub_key, sub_value in value.items():
            merge_patch(target[key], sub_key, sub_value)
    else:
        target[key] = copy.deepcopy(value)


def attendee_emails(event: dict[str, Any]) -> set[str]:
    return {a["email"].lower() for a in event.get("attendees", [])}


def seed_items(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = data.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise Abort(400, f"{key} must be a list of objects", field=key)
    return items


def seed_need(item: dict[str, Any], key: str, where: str) -> str:
    if not isinstance(item.get(key), str) or not item[key]:
        raise Abort(400, f"each of {where} needs {key}", field=where)
    return item[key]


def busy_block(block: Any) -> tuple[datetime, datetime]:
    try:
        start, end = (block["start"], block["end"]) if isinstance(block, dict) else block
        start, end = parse_time(start), parse_time(end)
    except (KeyError, TypeError, ValueError):
        raise Abort(400, f"a busy block must be [start, end] in RFC 3339 with an offset, not {block!r}",
                    field="busy") from None
    if end <= start:
        raise Abort(400, f"busy block {block!r} ends before it starts", field="busy")
    return start, end
