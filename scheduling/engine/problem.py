"""The contract's problem dict, checked once and turned into frozen dataclasses.

Everything after `parse_problem` trusts its input. Errors name the field by its path in the problem
(`sessions[2].roles[0].pool`, `resources.alice.busy[3][1]`) and are collected, so that one bad upload
reports as much as can be found in one pass; `ProblemError.errors` holds them all, in document order.

Instants become integers (µs since the epoch, see `instants.py`); working hours become minutes of the local
day; pools are sorted by plain code-point order, the order every tie is broken in.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from .instants import DAY, InstantError, parse_calendars, parse_one

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_WINDOW_DAYS = 62
EARLIEST, LATEST = -2_208_988_800 * 1_000_000, 32_503_680_000 * 1_000_000  # 1900-01-01, 3000-01-01 (UTC)
MAX_MINUTES = 366 * 1440  # upper bound for notice, buffer and gap: keeps all arithmetic small and exact
_TOP = {"now", "window", "step_minutes", "min_notice_minutes", "buffer_minutes", "gap_minutes", "order",
        "max_options", "candidate", "resources", "sessions"}
_RESOURCE = {"kind", "timezone", "working_hours", "busy", "booked", "buffer_minutes", "max_per_day",
             "max_per_week", "calendar_unknown"}
# Every valid "HH:MM" and its minute of the day; "24:00" may only end a range.
_CLOCK = {f"{m // 60:02d}:{m % 60:02d}": m for m in range(1440)}
_CLOCK_END = {**_CLOCK, "24:00": 1440}
_WEEKDAY_SET = frozenset(WEEKDAYS)


class ProblemError(ValueError):
    """Bad input: `.field` is the path of the first bad field, `.message` what is wrong with it, and
    `.errors` every (field, message) found. `str()` gives "field: message" for the first one."""

    def __init__(self, field: str, message: str, errors: list[tuple[str, str]] | None = None):
        self.errors = list(errors) if errors else [(field, message)]
        self.field, self.message = self.errors[0]
        super().__init__(f"{self.field}: {self.message}")


@dataclass(frozen=True, slots=True)
class Resource:
    id: str
    is_room: bool
    timezone: str
    working_hours: tuple[tuple[tuple[int, int], ...], ...] | None  # Monday first; minutes of the local day
    busy: np.ndarray  # (n, 2) int64 µs, [start, end), empty intervals dropped
    booked: np.ndarray  # (m,) int64 µs
    buffer_minutes: int  # in force: the person's own, else the problem's; 0 for rooms
    max_per_day: int | None
    max_per_week: int | None
    calendar_unknown: bool


@dataclass(frozen=True, slots=True)
class Role:
    pool: tuple[str, ...]  # sorted by code point
    count: int
    optional: bool


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    duration: int  # minutes
    roles: tuple[Role, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    now: int
    window_start: int
    window_end: int
    step: int
    notice: int
    buffer: int
    gap: int
    order: str
    max_options: int
    candidate_timezone: str | None
    candidate_available: tuple[tuple[int, int], ...] | None
    resources: dict[str, Resource]
    sessions: tuple[Session, ...]

    @property
    def loop_minutes(self) -> int:
        """Length of the whole loop: every session and the gaps between them."""
        return sum(s.duration for s in self.sessions) + self.gap * (len(self.sessions) - 1)


class _Errors(list):
    def add(self, field: str, message: str) -> None:
        self.append((field, message))


def parse_problem(raw: object) -> Problem:
    """A validated Problem; raises ProblemError naming every bad field found."""
    errs = _Errors()
    if not isinstance(raw, dict):
        raise ProblemError("problem", "must be a JSON object")
    _unknown(raw, _TOP, "", errs)
    now = _instant(raw["now"], "now", errs) if "now" in raw else _missing("now", 0, errs)
    w_start, w_end = _window(raw["window"], errs) if "window" in raw else _missing("window", (0, 0), errs)
    step = _int(raw, "step_minutes", "step_minutes", errs, 15, 1, 1440)
    notice = _int(raw, "min_notice_minutes", "min_notice_minutes", errs, 0, 0, MAX_MINUTES)
    buffer = _int(raw, "buffer_minutes", "buffer_minutes", errs, 0, 0, MAX_MINUTES)
    gap = _int(raw, "gap_minutes", "gap_minutes", errs, 0, 0, MAX_MINUTES)
    max_options = _int(raw, "max_options", "max_options", errs, 200, 1, 5000)
    order = raw.get("order", "fixed")
    if order not in ("fixed", "any"):
        errs.add("order", 'must be "fixed" or "any"')
        order = "fixed"
    cand_zone, cand_avail = _candidate(raw["candidate"], errs) if "candidate" in raw else (None, None)
    resources = _resources(raw["resources"], buffer, errs) if "resources" in raw else _missing("resources", {}, errs)
    sessions = _sessions(raw["sessions"], resources, order, errs) if "sessions" in raw else \
        _missing("sessions", (), errs)
    if errs:
        raise ProblemError(*errs[0], errors=errs)
    return Problem(now, w_start, w_end, step, notice, buffer, gap, order, max_options, cand_zone, cand_avail,
                   resources, sessions)


def _missing(field: str, placeholder, errs: _Errors):
    errs.add(field, "is required")
    return placeholder


def _unknown(obj: dict, allowed: set[str], path: str, errs: _Errors) -> None:
    for key in obj:
        if key not in allowed:
            errs.add(f"{path}{key}" if isinstance(key, str) else path.rstrip("."), "unknown field")


def _int(obj: dict, key: str, field: str, errs: _Errors, default: int | None, lo: int, hi: int) -> int | None:
    if key not in obj:
        return default
    value = obj[key]
    if type(value) is not int:
        errs.add(field, "must be a whole number")
        return default
    if not lo <= value <= hi:
        errs.add(field, f"must be from {lo} to {hi}")
        return default
    return value


def _instant(value: object, field: str, errs: _Errors) -> int:
    try:
        return parse_one(value)
    except InstantError as e:
        errs.add(field, str(e))
        return 0


def _zone(value: object, field: str, errs: _Errors) -> str:
    if not isinstance(value, str) or not value:
        errs.add(field, "must be an IANA time zone name")
        return "UTC"
    try:
        if value == "localtime":  # the machine's own zone: not a name the app can mean
            raise ValueError(value)
        ZoneInfo(value)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        errs.add(field, f"unknown time zone {value!r}")
        return "UTC"
    return value


def _window(value: object, errs: _Errors) -> tuple[int, int]:
    if not isinstance(value, dict):
        errs.add("window", "must be an object with start and end")
        return 0, 0
    _unknown(value, {"start", "end"}, "window.", errs)
    for key in ("start", "end"):
        if key not in value:
            errs.add(f"window.{key}", "is required")
    before = len(errs)
    start = _instant(value.get("start"), "window.start", errs) if "start" in value else 0
    end = _instant(value.get("end"), "window.end", errs) if "end" in value else 0
    if "start" in value and "end" in value and len(errs) == before:
        if end <= start:
            errs.add("window.end", "must be after window.start")
        elif end - start > MAX_WINDOW_DAYS * DAY:
            errs.add("window.end", f"the window may be at most {MAX_WINDOW_DAYS} days long")
        elif not EARLIEST <= start < end <= LATEST:
            errs.add("window", "must lie between the years 1900 and 2999")
    return start, end


def _candidate(value: object, errs: _Errors) -> tuple[str | None, tuple | None]:
    if not isinstance(value, dict):
        errs.add("candidate", "must be an object")
        return None, None
    _unknown(value, {"timezone", "available"}, "candidate.", errs)
    zone = _zone(value["timezone"], "candidate.timezone", errs) if "timezone" in value else None
    if "available" not in value:
        return zone, None
    return zone, tuple(_intervals(value["available"], "candidate.available", errs))


def _intervals(value: object, field: str, errs: _Errors) -> list[tuple[int, int]]:
    """A short list of [start, end) pairs, item by item (busy lists take the bulk path in _busy)."""
    if not isinstance(value, list):
        errs.add(field, "must be a list of [start, end] pairs")
        return []
    out = []
    for i, pair in enumerate(value):
        if not isinstance(pair, list) or len(pair) != 2:
            errs.add(f"{field}[{i}]", "must be a [start, end] pair")
            continue
        a, b = _instant(pair[0], f"{field}[{i}][0]", errs), _instant(pair[1], f"{field}[{i}][1]", errs)
        if b < a:
            errs.add(f"{field}[{i}]", "ends before it starts")
        out.append((a, b))
    return out


def _resources(value: object, default_buffer: int, errs: _Errors) -> dict[str, Resource]:
    if not isinstance(value, dict):
        errs.add("resources", "must be an object mapping resource ids to resources")
        return {}
    out = {}
    seen: tuple[dict, dict] = ({}, {})  # working hours already read, by id() of the dict, of the list
    for rid in sorted(value):
        path = f"resources.{rid}"
        spec = value[rid]
        if not rid:
            errs.add("resources", "a resource id may not be empty")
            continue
        if not isinstance(spec, dict):
            errs.add(path, "must be an object")
            continue
        _unknown(spec, _RESOURCE, path + ".", errs)
        kind = spec.get("kind", "person")
        if kind not in ("person", "room"):
            errs.add(f"{path}.kind", 'must be "person" or "room"')
        is_room = kind == "room"
        if "timezone" not in spec:
            errs.add(f"{path}.timezone", "is required")
        zone = _zone(spec.get("timezone"), f"{path}.timezone", errs) if "timezone" in spec else "UTC"
        hours = _working_hours(spec["working_hours"], f"{path}.working_hours", errs, seen) \
            if "working_hours" in spec else None
        buffer = default_buffer
        if "buffer_minutes" in spec:
            if is_room:
                errs.add(f"{path}.buffer_minutes", "rooms take no buffer")
            else:
                buffer = _int(spec, "buffer_minutes", f"{path}.buffer_minutes", errs, default_buffer, 0,
                              MAX_MINUTES)
        per_day = _int(spec, "max_per_day", f"{path}.max_per_day", errs, None, 0, 10_000)
        per_week = _int(spec, "max_per_week", f"{path}.max_per_week", errs, None, 0, 10_000)
        unknown = spec.get("calendar_unknown", False)
        if not isinstance(unknown, bool):
            errs.add(f"{path}.calendar_unknown", "must be true or false")
        out[rid] = (is_room, zone, hours, 0 if is_room else buffer, per_day, per_week, unknown is True)
    busy, booked = _bulk_instants(value, [rid for rid in out], errs)
    return {rid: Resource(rid, f[0], f[1], f[2], busy[rid], booked[rid], *f[3:]) for rid, f in out.items()}


def _working_hours(value: object, path: str, errs: _Errors, seen: tuple[dict, dict]) -> tuple | None:
    """The weekly hours, Monday first. Resources often share their hours (the same dict, or the same list
    for a day), so a dict (a day's list) read without error is remembered by its id() in seen[0] (seen[1]),
    which live for one parse of one problem (the objects stay alive and unchanged meanwhile); errors are
    always found again, so that each names its own resource."""
    weeks, days = seen
    week = weeks.get(id(value))
    if week is not None:
        return week
    if not isinstance(value, dict):
        errs.add(path, "must be an object with keys mon..sun")
        return None
    clean = value.keys() <= _WEEKDAY_SET
    if not clean:
        _unknown(value, _WEEKDAY_SET, path + ".", errs)
    week = []
    for day in WEEKDAYS:
        ranges = value.get(day)
        if not ranges:
            week.append(())
            if ranges is not None and ranges != []:
                errs.add(f"{path}.{day}", 'must be a list of ["HH:MM", "HH:MM"] ranges')
                clean = False
            continue
        if type(ranges) is not list:
            errs.add(f"{path}.{day}", 'must be a list of ["HH:MM", "HH:MM"] ranges')
            week.append(())
            clean = False
            continue
        known = days.get(id(ranges))
        if known is not None:
            week.append(known)
            continue
        errors = len(errs)
        parsed = []
        for i, pair in enumerate(ranges):
            try:
                a, b = _CLOCK[pair[0]], _CLOCK_END[pair[1]]
                if type(pair) is not list or len(pair) != 2:
                    raise TypeError
            except (TypeError, KeyError, IndexError):
                if type(pair) is not list or len(pair) != 2:
                    errs.add(f"{path}.{day}[{i}]", 'must be a ["HH:MM", "HH:MM"] range')
                else:
                    errs.add(f"{path}.{day}[{i}]", 'times must be "HH:MM" from "00:00" to "24:00" '
                                                   '(24:00 only as an end)')
                continue
            if b <= a:
                errs.add(f"{path}.{day}[{i}]", f"ends ({pair[1]}) before it starts ({pair[0]})")
            else:
                parsed.append((a, b))
        week.append(tuple(parsed))
        if len(errs) == errors:
            days[id(ranges)] = week[-1]
        else:
            clean = False
    week = tuple(week)
    if clean:
        weeks[id(value)] = week
    return week


def _bulk_instants(value: dict, rids: list[str], errs: _Errors) -> tuple[dict, dict]:
    """Every busy and booked instant of every resource, parsed in one call (instants.parse_calendars)."""
    busy_lists, booked_lists = [], []
    for rid in rids:
        busy, booked = value[rid].get("busy", []), value[rid].get("booked", [])
        if type(busy) is not list:
            errs.add(f"resources.{rid}.busy", "must be a list of [start, end] pairs")
            busy = []
        if type(booked) is not list:
            errs.add(f"resources.{rid}.booked", "must be a list of instants")
            booked = []
        busy_lists.append(busy)
        booked_lists.append(booked)
    busy, booked, problems = parse_calendars(busy_lists, booked_lists)
    for n, where, message in problems:
        errs.add(f"resources.{rids[n]}.{where}", message)
    return dict(zip(rids, busy, strict=True)), dict(zip(rids, booked, strict=True))


def _sessions(value: object, resources: dict[str, Resource], order: str, errs: _Errors) -> tuple[Session, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= 12:
        errs.add("sessions", "must be a list of 1 to 12 sessions")
        return ()
    out, seen = [], set()
    for i, spec in enumerate(value):
        path = f"sessions[{i}]"
        if not isinstance(spec, dict):
            errs.add(path, "must be an object")
            continue
        _unknown(spec, {"id", "duration_minutes", "roles"}, path + ".", errs)
        sid = spec.get("id")
        if not isinstance(sid, str) or not sid:
            errs.add(f"{path}.id", "must be a non-empty string")
        elif sid in seen:
            errs.add(f"{path}.id", f"{sid!r} is used by an earlier session")
        else:
            seen.add(sid)
        if "duration_minutes" not in spec:
            errs.add(f"{path}.duration_minutes", "is required")
        duration = _int(spec, "duration_minutes", f"{path}.duration_minutes", errs, 60, 5, 480)
        if "roles" not in spec:
            errs.add(f"{path}.roles", "is required (an empty list makes a break)")
        roles = spec.get("roles", [])
        if not isinstance(roles, list):
            errs.add(f"{path}.roles", "must be a list of roles")
            roles = []
        out.append(Session(sid if isinstance(sid, str) else "", duration,
                           tuple(_role(r, f"{path}.roles[{j}]", resources, errs) for j, r in enumerate(roles))))
    if order == "any" and sum(1 for s in out if s.roles) > 6:
        errs.add("sessions", 'order "any" allows at most 6 sessions with roles')
    return tuple(out)


def _role(spec: object, path: str, resources: dict[str, Resource], errs: _Errors) -> Role:
    if not isinstance(spec, dict):
        errs.add(path, "must be an object with a pool")
        return Role((), 1, False)
    _unknown(spec, {"pool", "count", "optional"}, path + ".", errs)
    pool = spec.get("pool")
    if "pool" not in spec:
        errs.add(f"{path}.pool", "is required")
        pool = []
    elif not isinstance(pool, list) or not all(isinstance(p, str) for p in pool):
        errs.add(f"{path}.pool", "must be a list of resource ids")
        pool = []
    for rid in pool:
        if rid not in resources:
            errs.add(f"{path}.pool", f"unknown resource {rid!r}")
    dupes = sorted({p for p in pool if pool.count(p) > 1})
    if dupes:
        errs.add(f"{path}.pool", f"lists {dupes[0]!r} more than once")
    count = _int(spec, "count", f"{path}.count", errs, 1, 1, 10_000)
    optional = spec.get("optional", False)
    if not isinstance(optional, bool):
        errs.add(f"{path}.optional", "must be true or false")
    return Role(tuple(sorted(set(pool))), count, optional is True)
