"""Turns an InterviewPlan and the database into a solver problem (`../shared/engine-contract.md`).

This is the only module that knows both the ORM and the contract. Resource ids are `i<pk>` for
interviewers and `r<pk>` for rooms, session ids `s<pk>`; `BuiltProblem` maps them back.

Choices where the contract leaves the app to decide:
- An interviewer with no working-hours rule is offered Monday to Friday 09:00-17:00 in their own
  zone, never around the clock (a missing rule is an oversight, not a 24-hour availability). A
  room with no rule follows no hours (the building is the limit, and people's hours still hold).
- Blackout dates become busy from local midnight to midnight.
- `busy` holds the calendar's cached FreeBusyBlocks plus every session Loopwise has booked for the
  resource, also those not yet written to a calendar; a reschedule leaves out the request's own
  live interview so its people are not blocked by the loop being moved: its sessions are taken
  out of our bookings and cut out of the cached calendar blocks too (those blocks are our own
  events; a meeting double-booked over exactly that time would be hidden with them, a rare case
  the booking's fresh re-check still catches on the provider side).
- `booked` lists every Loopwise session start in the days and ISO weeks the window touches (the
  window widened by 8 days on each side covers any zone's local week).
- `calendar_unknown`: the person's availability comes from a calendar that is missing, red,
  never read, or on a red or inactive connection. The solver then names them instead of letting
  them look busy. Working-hours-only interviewers never are: they have no calendar to read.
- Reverse shadows (issue #7): a required pool role flagged `reverse_shadow_leads`, in a plan with
  `allow_reverse_shadow`, whose pool has active reverse shadows, becomes two required roles: in its
  own place the pool's reverse shadows (the role's count: they lead), and, after the session's
  other roles, one trained member of the pool (the overseer, who watches). Appending the overseer
  keeps every other role at its template index, so readers that line roles up with the template
  (the portal) still see the leads where the role was. When the pool has no reverse shadow left,
  the plan forbids it or the role is optional, the role is the usual trained one. `BuiltProblem.parts`
  says, per session and in contract order, which Role and which SessionParticipant part each
  contract role stands for; booking stores participants with it.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Prefetch, Q

from integrations.models import Calendar, Health
from scheduling import clock
from scheduling.models import (
    AvailabilityRule,
    BlackoutDate,
    FreeBusyBlock,
    Interviewer,
    InterviewPlan,
    InterviewSession,
    PoolMembership,
    Role,
    Room,
    ScheduledInterview,
    SessionParticipant,
    SessionTemplate,
)

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_HOURS = {d: [["09:00", "17:00"]] for d in DAY_KEYS[:5]}
MARGIN = dt.timedelta(days=8)


@dataclass
class BuiltProblem:
    problem: dict
    interviewers: dict[str, Interviewer] = field(default_factory=dict)
    rooms: dict[str, Room] = field(default_factory=dict)
    sessions: dict[str, SessionTemplate] = field(default_factory=dict)
    # Session id -> one (Role, SessionParticipant part) per contract role of that session, in contract order.
    parts: dict[str, list[tuple[Role, str]]] = field(default_factory=dict)

    def role_parts(self, session_id: str) -> list[tuple[Role, str]]:
        """The (Role, part) each contract role of session `session_id` stands for, in the problem's order."""
        return self.parts.get(session_id, [])


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def interviewer_rid(pk: int) -> str:
    return f"i{pk}"


def room_rid(pk: int) -> str:
    return f"r{pk}"


def default_window(plan: InterviewPlan, *, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """From the top of the current hour (so start times sit on a round grid) for the plan's window."""
    start = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return start, start + dt.timedelta(days=plan.window_days)


def problem_build(
    *,
    plan: InterviewPlan,
    now: dt.datetime | None = None,
    window: tuple[dt.datetime, dt.datetime] | None = None,
    candidate_timezone: str = "",
    candidate_available: list[tuple[dt.datetime, dt.datetime]] | None = None,
    exclude_interview: ScheduledInterview | None = None,
    max_options: int = 5000,
) -> BuiltProblem:
    """The contract problem for `plan`, as the database stands now."""
    now = now or clock.now()
    start, end = window or default_window(plan, now=now)
    templates = list(
        SessionTemplate.objects.filter(plan=plan).order_by("position", "id").prefetch_related(
            Prefetch("roles", queryset=Role.objects.order_by("id").select_related("pool", "interviewer")
                     .prefetch_related("rooms"))))
    built = BuiltProblem(problem={})
    sessions = []
    for t in templates:
        built.sessions[f"s{t.pk}"] = t
        roles, parts = ([], []) if t.is_break else _session_roles(t, plan, built)
        built.parts[f"s{t.pk}"] = parts
        sessions.append({"id": f"s{t.pk}", "duration_minutes": t.duration_minutes, "roles": roles})
    resources = _resources(built, start=start, end=end, exclude_interview=exclude_interview)
    problem = {
        "now": iso(now),
        "window": {"start": iso(start), "end": iso(end)},
        "step_minutes": plan.step_minutes,
        "min_notice_minutes": plan.min_notice_hours * 60,
        "buffer_minutes": plan.buffer_minutes,
        "gap_minutes": plan.gap_minutes,
        "order": plan.order,
        "max_options": max_options,
        "resources": resources,
        "sessions": sessions,
    }
    candidate = {}
    if candidate_timezone:
        candidate["timezone"] = candidate_timezone
    if candidate_available is not None:
        candidate["available"] = [[iso(a), iso(b)] for a, b in candidate_available]
    if candidate:
        problem["candidate"] = candidate
    built.problem = problem
    return built


def _session_roles(template: SessionTemplate, plan: InterviewPlan, built: BuiltProblem
                   ) -> tuple[list[dict], list[tuple[Role, str]]]:
    """The contract roles of one session and the (Role, part) each stands for (see the module docstring)."""
    Part = SessionParticipant.Part
    roles: list[dict] = []
    parts: list[tuple[Role, str]] = []
    overseers: list[tuple[dict, tuple[Role, str]]] = []
    for role in template.roles.all():
        led = _reverse_shadow_roles(role, built) if plan.allow_reverse_shadow else None
        if led is None:
            roles.append(_role(role, built))
            parts.append((role, Part.SHADOW if role.trainees else Part.INTERVIEWER))
            continue
        lead, watch = led
        roles.append(lead)
        parts.append((role, Part.REVERSE_SHADOW))
        overseers.append((watch, (role, Part.OVERSEER)))
    for watch, part in overseers:
        roles.append(watch)
        parts.append(part)
    return roles, parts


def _reverse_shadow_roles(role: Role, built: BuiltProblem) -> tuple[dict, dict] | None:
    """(the leads' role, the overseer's role) for a role a reverse shadow leads, or None when it sits as usual."""
    if role.kind != Role.Kind.POOL or not role.reverse_shadow_leads or role.trainees or role.optional:
        return None
    Training = PoolMembership.Training
    members = list(PoolMembership.objects.filter(
        pool=role.pool, training__in=[Training.REVERSE_SHADOW, Training.TRAINED], interviewer__active=True)
        .select_related("interviewer"))
    leads = [m.interviewer for m in members if m.training == Training.REVERSE_SHADOW]
    if not leads:
        return None
    trained = [m.interviewer for m in members if m.training == Training.TRAINED]
    return ({"pool": sorted(_add_people(leads, built)), "count": role.count},
            {"pool": sorted(_add_people(trained, built)), "count": 1})


def _role(role: Role, built: BuiltProblem) -> dict:
    if role.kind == Role.Kind.ROOM:
        rooms = list(role.rooms.filter(active=True)) or list(Room.objects.filter(active=True))
        for r in rooms:
            built.rooms[room_rid(r.pk)] = r
        pool = [room_rid(r.pk) for r in rooms]
    elif role.kind == Role.Kind.INTERVIEWER:
        people = [role.interviewer] if role.interviewer.active else []
        pool = _add_people(people, built)
    else:
        wanted = [PoolMembership.Training.SHADOW] if role.trainees else [PoolMembership.Training.TRAINED]
        people = [m.interviewer for m in PoolMembership.objects.filter(
            pool=role.pool, training__in=wanted, interviewer__active=True).select_related("interviewer")]
        pool = _add_people(people, built)
    out = {"pool": sorted(pool), "count": role.count}
    if role.optional:
        out["optional"] = True
    return out


def _add_people(people: list[Interviewer], built: BuiltProblem) -> list[str]:
    for p in people:
        built.interviewers[interviewer_rid(p.pk)] = p
    return [interviewer_rid(p.pk) for p in people]


def _hours(rules: list[AvailabilityRule]) -> dict[str, list[list[str]]]:
    hours: dict[str, list[list[str]]] = defaultdict(list)
    for r in sorted(rules, key=lambda r: (r.weekday, r.start)):
        end = "24:00" if r.end == dt.time(0, 0) else r.end.strftime("%H:%M")
        hours[DAY_KEYS[r.weekday]].append([r.start.strftime("%H:%M"), end])
    return dict(hours)


def subtract(intervals: list[tuple[dt.datetime, dt.datetime]],
             holes: list[tuple[dt.datetime, dt.datetime]]) -> list[tuple[dt.datetime, dt.datetime]]:
    """`intervals` with every hole cut out (both half-open)."""
    out = list(intervals)
    for h0, h1 in holes:
        nxt = []
        for a, b in out:
            if b <= h0 or h1 <= a:
                nxt.append((a, b))
                continue
            if a < h0:
                nxt.append((a, h0))
            if h1 < b:
                nxt.append((h1, b))
        out = nxt
    return out


def _calendar_unknown(p: Interviewer, calendars: dict[int, Calendar]) -> bool:
    if p.availability_source == Interviewer.Source.WORKING_HOURS:
        return False
    cal = calendars.get(p.calendar_id) if p.calendar_id else None
    return cal is None or cal.health == Health.RED or cal.busy_fetched_at is None \
        or not cal.connection.active or cal.connection.health == Health.RED


def _resources(built: BuiltProblem, *, start: dt.datetime, end: dt.datetime,
               exclude_interview: ScheduledInterview | None) -> dict[str, dict]:
    people = {p.pk: p for p in built.interviewers.values()}
    rooms = {r.pk: r for r in built.rooms.values()}
    cal_ids = [x.calendar_id for x in [*people.values(), *rooms.values()] if x.calendar_id]
    calendars = {c.pk: c for c in Calendar.objects.filter(pk__in=cal_ids).select_related("connection")}
    lo, hi = start - MARGIN, end + MARGIN

    busy: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for b in FreeBusyBlock.objects.filter(calendar_id__in=cal_ids, end__gt=start - dt.timedelta(days=1),
                                          start__lt=end + dt.timedelta(days=1)):
        busy[b.calendar_id].append((b.start, b.end))

    live = Q(session__interview__state=ScheduledInterview.State.ACTIVE, active=True)
    if exclude_interview is not None:
        live &= ~Q(session__interview=exclude_interview)
    own: dict[str, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for sp in SessionParticipant.objects.filter(live, interviewer_id__in=people, session__start__lt=hi,
                                                session__end__gt=lo).select_related("session"):
        own[interviewer_rid(sp.interviewer_id)].append((sp.session.start, sp.session.end))
    room_live = Q(interview__state=ScheduledInterview.State.ACTIVE)
    if exclude_interview is not None:
        room_live &= ~Q(interview=exclude_interview)
    for s in InterviewSession.objects.filter(room_live, room_id__in=rooms, start__lt=hi, end__gt=lo):
        own[room_rid(s.room_id)].append((s.start, s.end))

    holes: dict[str, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    if exclude_interview is not None:
        for sp in SessionParticipant.objects.filter(session__interview=exclude_interview).select_related("session"):
            holes[interviewer_rid(sp.interviewer_id)].append((sp.session.start, sp.session.end))
        for s in InterviewSession.objects.filter(interview=exclude_interview, room__isnull=False):
            holes[room_rid(s.room_id)].append((s.start, s.end))

    rules: dict[tuple[str, int], list[AvailabilityRule]] = defaultdict(list)
    for r in AvailabilityRule.objects.filter(Q(interviewer_id__in=people) | Q(room_id__in=rooms)):
        rules[("i", r.interviewer_id) if r.interviewer_id else ("r", r.room_id)].append(r)
    blackouts: dict[int, list[dt.date]] = defaultdict(list)
    for b in BlackoutDate.objects.filter(interviewer_id__in=people, date__gte=(lo.date()), date__lte=hi.date()):
        blackouts[b.interviewer_id].append(b.date)

    out: dict[str, dict] = {}
    for pk, p in sorted(people.items()):
        rid = interviewer_rid(pk)
        tz = zoneinfo.ZoneInfo(p.timezone)
        intervals = list(own[rid])
        if p.availability_source == Interviewer.Source.CALENDAR and p.calendar_id:
            intervals += subtract(busy[p.calendar_id], holes[rid])
        for day in blackouts[pk]:
            day_start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
            intervals.append((day_start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)))
        res = {
            "timezone": p.timezone,
            "working_hours": _hours(rules[("i", pk)]) or DEFAULT_HOURS,
            "busy": [[iso(a), iso(b)] for a, b in sorted(intervals)],
            "booked": sorted(iso(a) for a, _ in own[rid]),
        }
        if p.buffer_minutes is not None:
            res["buffer_minutes"] = p.buffer_minutes
        if p.max_per_day is not None:
            res["max_per_day"] = p.max_per_day
        if p.max_per_week is not None:
            res["max_per_week"] = p.max_per_week
        if _calendar_unknown(p, calendars):
            res["calendar_unknown"] = True
        out[rid] = res
    for pk, r in sorted(rooms.items()):
        rid = room_rid(pk)
        intervals = list(own[rid]) + (subtract(busy[r.calendar_id], holes[rid]) if r.calendar_id else [])
        res = {"kind": "room", "timezone": r.timezone,
               "busy": [[iso(a), iso(b)] for a, b in sorted(intervals)],
               "booked": sorted(iso(a) for a, _ in own[rid])}
        hours = _hours(rules[("r", pk)])
        if hours:
            res["working_hours"] = hours
        cal = calendars.get(r.calendar_id) if r.calendar_id else None
        if cal is not None and (cal.health == Health.RED or cal.busy_fetched_at is None
                                or cal.connection.health == Health.RED):
            res["calendar_unknown"] = True
        out[rid] = res
    return out
