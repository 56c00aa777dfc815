"""check(problem, option): the rule problems of one option, one short sentence each.

This is a second, deliberately plain reading of the contract's rules 1-8 (and the step grid): it walks
one option with `datetime` and `zoneinfo` instead of the solver's matrices, so the booking path re-checks
a confirmed option against fresh data with code that shares nothing with the search but the parsed
problem. A bad problem raises ProblemError like solve(); a malformed option gets sentences, never an
exception. Load balancing and shadow filling are not checked here (the contract leaves them to solve()).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from .instants import DAY, MINUTE, InstantError, format_utc, parse_one, to_datetime
from .problem import EARLIEST, LATEST, Problem, Resource, parse_problem


def check(problem: dict, option: object) -> list[str]:
    """Sentences naming each broken rule of `option`; [] when it keeps them all."""
    p = parse_problem(problem)
    out: list[str] = []
    read = _read(p, option, out)
    if read is None:
        return out
    start, end, sessions = read
    _timing(p, start, end, sessions, out)
    for sid, s, e, roles in sessions:
        _roles(p, sid, roles, out)
        for rid in sorted({rid for role in roles for rid in role if rid in p.resources}):
            _sits(p, p.resources[rid], sid, s, e, out)
    _distinct(p, sessions, out)
    _caps(p, sessions, out)
    return out


def _read(p: Problem, option: object, out: list[str]) -> tuple | None:
    """(start, end, [(session id, start, end, roles)]) or None after saying why the option is unreadable."""
    if not isinstance(option, dict):
        out.append("the option is not an object with start, end and sessions")
        return None
    for key in sorted(set(option) - {"start", "end", "sessions"}, key=str):
        out.append(f"the option has an unknown field {key!r}")
    start, end = _at(option.get("start"), "the option's start", out), _at(option.get("end"), "the option's end", out)
    raw = option.get("sessions")
    if not isinstance(raw, list):
        out.append("the option's sessions are not a list")
        return None
    sessions = []
    for n, s in enumerate(raw):
        if not isinstance(s, dict) or not isinstance(s.get("id"), str):
            out.append(f"session {n + 1} of the option is not an object with an id")
            return None
        sid = s["id"]
        for key in sorted(set(s) - {"id", "start", "end", "roles"}, key=str):
            out.append(f"session '{sid}' has an unknown field {key!r}")
        a, b = _at(s.get("start"), f"the start of '{sid}'", out), _at(s.get("end"), f"the end of '{sid}'", out)
        roles = s.get("roles")
        if not isinstance(roles, list) or not all(
                isinstance(r, list) and all(isinstance(x, str) for x in r) for r in roles):
            out.append(f"the roles of '{sid}' are not lists of resource ids")
            return None
        sessions.append((sid, a, b, roles))
    if start is None or end is None or any(a is None or b is None for _, a, b, _ in sessions):
        return None
    return start, end, sessions


def _at(value: object, what: str, out: list[str]) -> int | None:
    try:
        us = parse_one(value)
    except InstantError:
        out.append(f"{what} is not an instant with a UTC offset")
        return None
    if not EARLIEST <= us <= LATEST:
        out.append(f"{what} is not between the years 1900 and 2999")
        return None
    return us


def _timing(p: Problem, start: int, end: int, sessions: list, out: list[str]) -> None:
    """Rule 1 (sequence and durations), rule 2 (window, notice), rule 3 (candidate) and the step grid."""
    by_id = {s.id: s for s in p.sessions}
    ids = [sid for sid, *_ in sessions]
    unknown = [sid for sid in ids if sid not in by_id]
    for sid in unknown:
        out.append(f"'{sid}' is not a session of the problem")
    for sid, n in sorted(Counter(ids).items()):
        if n > 1:
            out.append(f"'{sid}' appears {n} times")
    for s in p.sessions:
        if s.id not in ids:
            out.append(f"'{s.id}' is missing")
    if not unknown and sorted(ids) == sorted(by_id):
        given = [s.id for s in p.sessions]
        if p.order == "fixed" and ids != given:
            out.append("the sessions do not run in the given order")
        elif p.order == "any" and any(not s.roles and ids[i] != s.id for i, s in enumerate(p.sessions)):
            out.append("a break is not in its given place")
    if sessions and sessions[0][1] != start:
        out.append(f"the first session starts at {format_utc(sessions[0][1])}, not at the option's start")
    if sessions and sessions[-1][2] != end:
        out.append(f"the option ends at {format_utc(end)}, not when its last session ends")
    for n, (sid, a, b, _) in enumerate(sessions):
        if sid in by_id and b - a != by_id[sid].duration * MINUTE:
            out.append(f"'{sid}' lasts {(b - a) / MINUTE:g} minutes instead of {by_id[sid].duration}")
        if n and a != sessions[n - 1][2] + p.gap * MINUTE:
            out.append(f"'{sid}' does not start {p.gap} minutes after '{sessions[n - 1][0]}' ends")
    if (start - p.window_start) % (p.step * MINUTE):
        out.append(f"the start is not on the {p.step}-minute step from the window's start")
    if start < p.window_start:
        out.append("the loop starts before the window")
    if end > p.window_end:
        out.append("the loop ends after the window")
    if start < p.now + p.notice * MINUTE:
        out.append(f"the loop starts less than {p.notice} minutes after now")
    if p.candidate_available is not None and not any(
            cs <= start and end <= ce for cs, ce in p.candidate_available):
        out.append("the loop is not within one of the candidate's available intervals")


def _roles(p: Problem, sid: str, roles: list, out: list[str]) -> None:
    """Rule 8, and resources the problem does not have or whose calendar is unknown."""
    session = next((s for s in p.sessions if s.id == sid), None)
    if session is None:
        return
    if len(roles) != len(session.roles):
        out.append(f"'{sid}' lists {len(roles)} roles instead of {len(session.roles)}")
        return
    for j, (held, role) in enumerate(zip(roles, session.roles, strict=True)):
        for rid in held:
            if rid not in p.resources:
                out.append(f"{rid} in '{sid}' is not a resource of the problem")
            elif rid not in role.pool:
                out.append(f"{rid} is not in the pool of '{sid}' role {j + 1}")
            elif p.resources[rid].calendar_unknown:
                out.append(f"{rid}'s calendar could not be read, so {rid} may sit no session")
        if role.optional and len(held) not in (0, role.count):
            out.append(f"optional role {j + 1} of '{sid}' holds {len(held)}, not 0 or {role.count}")
        elif not role.optional and len(held) != role.count:
            out.append(f"role {j + 1} of '{sid}' holds {len(held)} instead of {role.count}")


def _sits(p: Problem, r: Resource, sid: str, a: int, b: int, out: list[str]) -> None:
    """Rules 4 (busy, with the person's buffer) and 5 (working hours) for one resource in one session."""
    pad = r.buffer_minutes * MINUTE
    if any(bs < b + pad and be > a - pad for bs, be in r.busy.tolist()):
        extra = f" (with its {r.buffer_minutes}-minute buffer)" if pad else ""
        out.append(f"{r.id} is busy during '{sid}'{extra}")
    if r.working_hours is None:
        return
    zone = ZoneInfo(r.timezone)
    day = to_datetime(a).astimezone(zone).date()
    for lo, hi in r.working_hours[day.weekday()]:
        first = _local(day, lo, zone)
        last = _local(day + timedelta(days=1), 0, zone) if hi == 1440 else _local(day, hi, zone)
        if first <= to_datetime(a) and to_datetime(b) <= last:
            return
    out.append(f"'{sid}' is not inside one of {r.id}'s working-hours ranges on {day.isoformat()}")


def _local(day, minutes: int, zone: ZoneInfo) -> datetime:
    """The instant of a local wall-clock time, read with fold=0 (zoneinfo's own rule)."""
    return datetime.combine(day, time(minutes // 60, minutes % 60), zone)


def _distinct(p: Problem, sessions: list, out: list[str]) -> None:
    """Rule 6: a person sits one session; nobody appears twice in one session."""
    sat: dict[str, list[str]] = {}
    for sid, _, _, roles in sessions:
        held = [rid for role in roles for rid in role]
        for rid, n in sorted(Counter(held).items()):
            if n > 1:
                out.append(f"{rid} appears {n} times in '{sid}'")
        for rid in sorted(set(held)):
            sat.setdefault(rid, []).append(sid)
    for rid, sids in sorted(sat.items()):
        r = p.resources.get(rid)
        if r is not None and not r.is_room and len(sids) > 1:
            out.append(f"{rid} sits {len(sids)} sessions ({', '.join(sids)})")


def _caps(p: Problem, sessions: list, out: list[str]) -> None:
    """Rule 7: booked plus this option's sessions per local day and ISO week, against the caps."""
    starts: dict[str, list[int]] = {}
    for _, a, _, roles in sessions:
        for rid in {rid for role in roles for rid in role}:
            starts.setdefault(rid, []).append(a)
    for rid, mine in sorted(starts.items()):
        r = p.resources.get(rid)
        if r is None or (r.max_per_day is None and r.max_per_week is None):
            continue
        zone = ZoneInfo(r.timezone)
        days = [to_datetime(x).astimezone(zone).date() for x in mine]
        near = [x for x in r.booked.tolist() if any(abs(x - m) < 9 * DAY for m in mine)]  # no other shares a week
        booked = [to_datetime(x).astimezone(zone).date() for x in near]
        for day in sorted(set(days)):
            n = days.count(day) + booked.count(day)
            if r.max_per_day is not None and n > r.max_per_day:
                out.append(f"{rid} would have {n} interviews on {day.isoformat()}, over the cap of {r.max_per_day}")
        for wk in sorted({_week(d) for d in days}):
            n = sum(_week(d) == wk for d in days) + sum(_week(d) == wk for d in booked)
            if r.max_per_week is not None and n > r.max_per_week:
                out.append(f"{rid} would have {n} interviews in week {wk[1]} of {wk[0]}, "
                           f"over the cap of {r.max_per_week}")


def _week(day) -> tuple[int, int]:
    """(ISO year, ISO week) of a date."""
    return day.isocalendar()[:2]
