"""Small problem builders for hand-made engine tests."""

from __future__ import annotations

import copy

WEEKDAYS_9_TO_5 = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def person(timezone: str = "UTC", **fields) -> dict:
    return {"timezone": timezone, "busy": [], **fields}


def room(timezone: str = "UTC", **fields) -> dict:
    return {"kind": "room", "timezone": timezone, "busy": [], **fields}


def session(sid: str, minutes: int = 60, *roles: dict) -> dict:
    return {"id": sid, "duration_minutes": minutes, "roles": list(roles)}


def role(*pool: str, count: int = 1, optional: bool = False) -> dict:
    out = {"pool": list(pool), "count": count}
    if optional:
        out["optional"] = True
    return out


def problem(start: str, end: str, resources: dict, sessions: list, **fields) -> dict:
    """A problem whose `now` is well before the window unless given."""
    out = {"now": "2020-01-01T00:00:00Z", "window": {"start": start, "end": end},
           "resources": copy.deepcopy(resources), "sessions": copy.deepcopy(sessions)}
    out.update(fields)
    return out


def starts(result: dict) -> list[str]:
    return [o["start"] for o in result["options"]]
