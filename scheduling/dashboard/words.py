""""Why no slots?": the solver's diagnostics in a recruiter's words, each with the link to its fix.

Sentences are built from a diagnostic's `code`, `session` and `resources` (i<pk> interviewers, r<pk> rooms,
s<pk> sessions), never from the engine's `message`, with names, since when, and the session concerned. Every
reason carries its fixes: a page to open (an interviewer to raise a cap or set working hours, the plan to widen
the window, the pool to add members, the calendar connection) and, where one exists, a button (send an
interviewer the link that connects their calendar).

`lookup_for` reads every name the diagnostics of many requests mention in four queries, whatever their number.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.urls import NoReverseMatch, reverse

from integrations.models import Health
from scheduling.models import Interviewer, InterviewerPool, Role, Room, SchedulingRequest, SessionTemplate

__all__ = ["Fix", "Reason", "Lookup", "lookup_for", "explain", "admin_change"]


@dataclass(frozen=True)
class Fix:
    """A way to fix a reason: a page to open (`url`), or a button that posts to `post`."""

    label: str
    url: str = ""
    post: str = ""


@dataclass
class Reason:
    text: str
    since: dt.datetime | None = None
    fixes: list[Fix] = field(default_factory=list)


@dataclass
class Lookup:
    interviewers: dict[str, Interviewer] = field(default_factory=dict)
    rooms: dict[str, Room] = field(default_factory=dict)
    sessions: dict[str, SessionTemplate] = field(default_factory=dict)
    pools: dict[str, list[InterviewerPool]] = field(default_factory=dict)  # session id -> its roles' pools


def admin_change(obj) -> str:
    if obj is None:
        return ""
    try:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""


def _pks(ids: set[str], prefix: str) -> list[int]:
    return [int(r[1:]) for r in ids if r[:1] == prefix and r[1:].isdigit()]


def lookup_for(diagnostic_lists: list[list[dict]]) -> Lookup:
    """Everything the given diagnostics name, in four queries."""
    resources: set[str] = set()
    sessions: set[str] = set()
    for diagnostics in diagnostic_lists:
        for d in diagnostics or []:
            if not isinstance(d, dict):
                continue
            resources.update(r for r in d.get("resources") or [] if isinstance(r, str))
            if isinstance(d.get("session"), str):
                sessions.add(d["session"])
    found = Lookup()
    for p in Interviewer.objects.filter(pk__in=_pks(resources, "i")).select_related("calendar__connection"):
        found.interviewers[f"i{p.pk}"] = p
    for r in Room.objects.filter(pk__in=_pks(resources, "r")).select_related("calendar__connection"):
        found.rooms[f"r{r.pk}"] = r
    for t in SessionTemplate.objects.filter(pk__in=_pks(sessions, "s")).select_related("plan"):
        found.sessions[f"s{t.pk}"] = t
    pools: dict[str, list[InterviewerPool]] = defaultdict(list)
    for role in Role.objects.filter(session_id__in=_pks(sessions, "s"), kind=Role.Kind.POOL).select_related("pool") \
            .order_by("session_id", "id"):
        if role.pool not in pools[f"s{role.session_id}"]:
            pools[f"s{role.session_id}"].append(role.pool)
    found.pools = dict(pools)
    return found


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return names[0] if names else "nobody"
    return ", ".join(names[:-1]) + " and " + names[-1]


def _names(ids: list[str], lookup: Lookup) -> str:
    names = []
    for rid in ids:
        thing = lookup.interviewers.get(rid) or lookup.rooms.get(rid)
        names.append(thing.name if thing is not None else f"someone no longer listed ({rid})")
    return _join(names)


def _people(ids: list[str], lookup: Lookup) -> list[Interviewer]:
    return [lookup.interviewers[r] for r in ids if r in lookup.interviewers]


def _calendar_reasons(ids: list[str], lookup: Lookup, consent_url) -> list[Reason]:
    """Calendars the solver could not use, grouped by cause: a whole connection off, broken or not read yet is
    one reason (its fix is the connection); a calendar the provider refuses, or a person with no calendar, is
    one reason per person (their fix is a new consent)."""
    by_connection: dict[tuple[int, str], list] = defaultdict(list)
    reasons: list[Reason] = []
    for rid in ids:
        owner = lookup.interviewers.get(rid) or lookup.rooms.get(rid)
        person = lookup.interviewers.get(rid)
        if owner is None:
            reasons.append(Reason(f"A calendar ({rid}) could not be read; that resource is no longer listed."))
            continue
        cal = owner.calendar
        open_owner = Fix(f"Open {owner.name}", url=admin_change(owner))
        if cal is None:
            fixes = [Fix(f"Email {person.first_name} a link to connect their calendar", post=consent_url(person))] \
                if person is not None else []
            reasons.append(Reason(f"{owner.name} has no calendar connected, so they are left out of every time.",
                                  fixes=[*fixes, open_owner]))
            continue
        connection = cal.connection
        if not connection.active:
            by_connection[(connection.pk, "off")].append(owner)
        elif connection.health == Health.RED:
            by_connection[(connection.pk, "broken")].append(owner)
        elif cal.health == Health.RED:
            fixes = [Fix(f"Email {person.first_name} a link to connect their calendar again",
                         post=consent_url(person))] if person is not None else []
            error = f" ({cal.last_error[:140]})" if cal.last_error else ""
            reasons.append(Reason(f"{owner.name}'s calendar ({cal.external_id}) refuses access{error}, so they are "
                                  f"left out of every time.", cal.last_error_at,
                                  [*fixes, open_owner, Fix("Open the calendar connection",
                                                           url=admin_change(connection))]))
        else:
            by_connection[(connection.pk, "unread")].append(owner)
    for (_pk, why), owners in by_connection.items():
        connection = owners[0].calendar.connection
        names = _join([o.name for o in owners])
        count = f"{len(owners)} calendars" if len(owners) > 1 else "The calendar"
        if why == "off":
            text = f"{count} of {names} are not read: the connection “{connection.name}” is switched off."
        elif why == "broken":
            error = f" ({connection.last_error[:140]})" if connection.last_error else ""
            text = f"The connection “{connection.name}” is broken{error}, so the calendars of {names} cannot be read."
        else:
            text = (f"{count} of {names} {'have' if len(owners) > 1 else 'has'} not been read yet on "
                    f"“{connection.name}”. Free/busy is read every 5 minutes: if this lasts, check the connection.")
        reasons.append(Reason(text, connection.last_error_at if why == "broken" else None,
                              [Fix(f"Open the connection “{connection.name}”", url=admin_change(connection))]))
    return reasons


def explain(diagnostics: list[dict], *, request: SchedulingRequest, lookup: Lookup, consent_url) -> list[Reason]:
    """The reasons a request has no time to offer, in the engine's order. `consent_url(interviewer)` is the URL
    the "send a consent link" button posts to."""
    plan = request.plan
    plan_fix = Fix("Widen the plan's window or notice", url=admin_change(plan))
    reasons: list[Reason] = []
    # The engine names each unreadable calendar in its own entry: they are told together, grouped by cause.
    unreadable = [r for d in diagnostics or [] if isinstance(d, dict) and d.get("code") == "calendar_unknown"
                  for r in d.get("resources") or [] if isinstance(r, str)]
    for d in diagnostics or []:
        if not isinstance(d, dict):
            continue
        code = d.get("code")
        ids = [r for r in d.get("resources") or [] if isinstance(r, str)]
        template = lookup.sessions.get(d.get("session") or "")
        session = f"“{template.name}”" if template is not None else "the loop"
        who = _names(ids, lookup)
        pool_fixes = [Fix(f"Add members to the pool {p.name}", url=admin_change(p))
                      for p in lookup.pools.get(d.get("session") or "", [])]
        if code == "calendar_unknown":
            if unreadable:
                reasons += _calendar_reasons(list(dict.fromkeys(unreadable)), lookup, consent_url)
                unreadable = []
        elif code == "no_working_hours":
            reasons.append(Reason(f"No one who can sit {session} ({who}) has working hours that fit it in the "
                                  f"window.", fixes=[Fix(f"Set {p.name}'s working hours", url=admin_change(p))
                                                     for p in _people(ids, lookup)] + pool_fixes))
        elif code == "busy":
            reasons.append(Reason(f"{who} {'is' if len(ids) == 1 else 'are'} busy whenever {session} could take "
                                  f"place in the next {plan.window_days} days.", fixes=[plan_fix, *pool_fixes]))
        elif code in ("cap_day", "cap_week"):
            period = "daily" if code == "cap_day" else "weekly"
            caps = ", ".join(f"{p.name}: {p.max_per_day if code == 'cap_day' else p.max_per_week}"
                             for p in _people(ids, lookup))
            reasons.append(Reason(f"{who} {'reaches' if len(ids) == 1 else 'reach'} their {period} interview "
                                  f"limit on every {'day' if code == 'cap_day' else 'week'} {session} could take "
                                  f"place" + (f" ({caps})." if caps else "."),
                                  fixes=[Fix(f"Raise {p.name}'s limit", url=admin_change(p))
                                         for p in _people(ids, lookup)] + pool_fixes))
        elif code == "notice":
            reasons.append(Reason(f"The plan's minimum notice ({plan.min_notice_hours} h) leaves no start time in "
                                  f"its {plan.window_days}-day window.", fixes=[plan_fix]))
        elif code == "window":
            reasons.append(Reason(f"The loop does not fit in the plan's {plan.window_days}-day window.",
                                  fixes=[plan_fix]))
        elif code == "candidate_window":
            reasons.append(Reason("No start time fits inside the times the candidate said suit them.",
                                  fixes=[Fix("Open the request", url=admin_change(request))]))
        elif code == "pool_too_small":
            pools = ", ".join(p.name for p in lookup.pools.get(d.get("session") or "", [])) or "its pool"
            reasons.append(Reason(f"{session} needs more people than {pools} has available ({who}).",
                                  fixes=pool_fixes or [plan_fix]))
        elif code == "no_common_time":
            reasons.append(Reason(f"{who} {'is' if len(ids) == 1 else 'are'} never free at the same time for "
                                  f"{session}.",
                                  fixes=[plan_fix, *pool_fixes]))
        else:
            reasons.append(Reason(f"The solver reported “{code}” for {session} ({who}).", fixes=[plan_fix]))
    return reasons
