"""Diagnostics: who was left out, and why there are no options.

Two entries are given whenever they apply: `calendar_unknown` (one per pooled resource whose calendar could
not be read, session null) and `pool_too_small` (one per role whose count exceeds its pool, optional roles
included: such a shadow seat is never filled). When no start has an option, `explain_empty` looks for
the first layer that empties the result and names what blocks it there:

1. the loop itself: longer than the window (`window`), every start too soon (`notice`), no candidate
   interval long enough (`candidate_window`), or notice and candidate availability that never meet (both);
2. one role of one session that no start can staff: each pool member is named under the first rule that
   rules them out at every start (`no_working_hours`, then `busy` while at work, then `cap_day`, then
   `cap_week`); members who are free at times but never `count` at once give `no_common_time`;
3. sessions that each can be staffed, but never together: `no_common_time` naming the first session (in
   run order) whose staffable times miss those of the sessions before it, with the members of its pool
   who are free at some time (under "any", the ordering that gets furthest, the first such on ties);
4. sessions staffable together but only by the same people (no one sits two sessions): `no_common_time`
   naming the session the greedy walk most often fails to staff and the members it would need, or, when
   only room caps stand in the way, the capped rooms.

Entries are sorted by code (the contract's order), then session (the problem's order, null first), then
resources; resources are sorted by id.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from .masks import Tables, loop_rules
from .place import Planner, greedy
from .problem import Problem

CODES = ("calendar_unknown", "no_working_hours", "busy", "cap_day", "cap_week", "notice", "window",
         "candidate_window", "pool_too_small", "no_common_time")
_RULES = ("no_working_hours", "busy", "cap_day", "cap_week")


def entry(code: str, session: str | None, resources, message: str) -> dict:
    return {"code": code, "session": session, "resources": sorted(resources), "message": message}


def always(p: Problem) -> list[dict]:
    """calendar_unknown and pool_too_small entries, whether or not options exist."""
    out = []
    pooled = sorted({rid for s in p.sessions for r in s.roles for rid in r.pool})
    for rid in pooled:
        if p.resources[rid].calendar_unknown:
            out.append(entry("calendar_unknown", None, [rid], f"{rid}'s calendar could not be read, so {rid} "
                                                              "sits no session"))
    for s in p.sessions:
        for j, r in enumerate(s.roles):
            if r.count > len(r.pool):
                kind = "optional role" if r.optional else "role"
                out.append(entry("pool_too_small", s.id, r.pool,
                                 f"'{s.id}' {kind} {j + 1} needs {r.count} but its pool has only {len(r.pool)}"))
    return out


def sort_entries(p: Problem, entries: list[dict]) -> list[dict]:
    place = {s.id: i for i, s in enumerate(p.sessions)}
    return sorted(entries, key=lambda e: (CODES.index(e["code"]), -1 if e["session"] is None
                                          else place[e["session"]], e["resources"], e["message"]))


def explain_empty(t: Tables) -> list[dict]:
    """Entries naming what leaves the problem without options (see the module docstring)."""
    p = t.problem
    loop = _loop_layer(p)
    if loop:
        return loop
    if any(r.count > len(r.pool) and not r.optional for s in p.sessions for r in s.roles):
        return []  # pool_too_small already says it
    planner = Planner(t, keep_parts=True)
    orders = planner.orders()
    blocked, roles = _role_layer(t, planner, orders)
    if blocked:
        return roles  # may be empty when only unknown calendars block, which always() names
    return _joint_layer(t, planner, orders)


def _loop_layer(p: Problem) -> list[dict]:
    k, notice, cand = loop_rules(p)
    minutes = p.loop_minutes
    if k == 0:
        return [entry("window", None, [], f"the loop takes {_span(minutes)}, longer than the window "
                                          f"({_span((p.window_end - p.window_start) // 60_000_000)})")]
    if not notice.any():
        return [entry("notice", None, [], f"every start in the window is less than {p.notice} minutes after now")]
    if not cand.any():
        return [entry("candidate_window", None, [], f"the candidate is available for no stretch of "
                                                    f"{_span(minutes)} inside the window")]
    if not (notice & cand).any():
        return [entry("notice", None, [], f"the minimum notice of {p.notice} minutes rules out every time "
                                          "the candidate is available"),
                entry("candidate_window", None, [], "the candidate is available only before the minimum "
                                                    "notice allows a start")]
    return []


def _span(minutes: int) -> str:
    h, m = divmod(minutes, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"


def _role_layer(t: Tables, planner: Planner, orders: list) -> tuple[bool, list[dict]]:
    p = t.problem
    offsets: dict[int, set[int]] = {}
    for order in orders:
        at = 0
        for idx in order:
            offsets.setdefault(idx, set()).add(at)
            at += p.sessions[idx].duration + p.gap
    out, blocked = [], False
    for idx, s in enumerate(p.sessions):
        slots = [planner.slot(idx, o) for o in sorted(offsets[idx])] if s.roles else []
        for j, role in enumerate(s.roles):
            if role.optional:
                continue
            rows = slots[0].rows.role_rows[j]
            if any((sl.avail[rows].sum(axis=0) >= role.count).any() for sl in slots):
                continue
            blocked = True
            out.extend(_blocked_role(t, s.id, role.count, slots, rows))
    return blocked, out


def _blocked_role(t: Tables, sid: str, count: int, slots: list, rows: np.ndarray) -> list[dict]:
    """Entries for a role no start can staff: each member under the first rule that rules them out."""
    groups: dict[str, list[str]] = {code: [] for code in (*_RULES, "free")}
    for r in rows.tolist():
        rid = t.ids[slots[0].rows.members[r]]
        if not slots[0].parts["known"][r]:
            continue  # named by its calendar_unknown entry
        masks = [sl.parts for sl in slots]
        hours = [m["hours"][r] for m in masks]
        free = [h & m["free"][r] for h, m in zip(hours, masks, strict=True)]
        day = [f & m["caps"][0][r] for f, m in zip(free, masks, strict=True)]
        week = [d & m["caps"][1][r] for d, m in zip(day, masks, strict=True)]
        for code, layer in zip(_RULES, (hours, free, day, week), strict=True):
            if not any(x.any() for x in layer):
                groups[code].append(rid)
                break
        else:
            groups["free"].append(rid)
    texts = {
        "no_working_hours": "{names} {works} at no time '{sid}' could run in the window",
        "busy": "{names} {is} busy at every time '{sid}' could run within working hours",
        "cap_day": "{names} {has} reached the daily maximum of interviews on every day '{sid}' could run",
        "cap_week": "{names} {has} reached the weekly maximum of interviews in every week '{sid}' could run",
    }
    out = [entry(code, sid, names, _say(texts[code], names, sid=sid))
           for code, names in groups.items() if names and code != "free"]
    if groups["free"]:
        text = ("'{sid}' needs {count} people at once, but {names} {is} never free together" if count > 1
                else "{names} {is} free only when the loop cannot start")
        out.append(entry("no_common_time", sid, groups["free"], _say(text, groups["free"], sid=sid, count=count)))
    return out


def _say(text: str, names: list[str], **fields) -> str:
    """Fills a message, with the verb agreeing with the number of names."""
    one = len(names) == 1
    return text.format(names=", ".join(sorted(names)), works="works" if one else "work", **{"is": "is" if one
                       else "are", "has": "has" if one else "have"}, **fields)


def _joint_layer(t: Tables, planner: Planner, orders: list) -> list[dict]:
    p = t.problem
    best = None  # (run position reached, plan)
    for order in orders:
        plan = planner.plan(order)
        ok = np.ones(len(plan.cols), dtype=bool)
        for i, slot in enumerate(plan.slots):
            if slot is None:
                continue
            ok = ok & slot.coverable
            if not ok.any():
                if best is None or i > best[0]:
                    best = (i, plan)
                break
        else:
            return _conflict_layer(t, plan, np.flatnonzero(ok))
    i, plan = best
    slot = plan.slots[i]
    s = p.sessions[plan.order[i]]
    required = sorted({int(r) for j, role in enumerate(s.roles) if not role.optional
                       for r in slot.rows.role_rows[j]})
    names = [t.ids[slot.rows.members[r]] for r in required if slot.avail[r].any()]
    before = ", ".join(f"'{p.sessions[idx].id}'" for idx in plan.order[:i] if p.sessions[idx].roles)
    if not before:
        return [entry("no_common_time", s.id, names, _say("'{sid}' never has enough different people free at "
                                                          "once for all its roles ({names})", names, sid=s.id))]
    return [entry("no_common_time", s.id, names,
                  _say("no start lets '{sid}' be staffed while {before} can be: {names} {is} free only at other "
                       "times", names, sid=s.id, before=before))]


def _conflict_layer(t: Tables, plan, cols: np.ndarray) -> list[dict]:
    p = t.problem
    ok, picks = greedy(t, plan, cols, forward_check=False)  # where the plain walk gets stuck
    stuck: Counter = Counter()
    for k in range(len(cols)):
        for i, slot in enumerate(plan.slots):
            s = p.sessions[plan.order[i]]
            if slot is not None and any(not role.optional and picks[i][j][0, k] < 0
                                        for j, role in enumerate(s.roles)):
                stuck[i] += 1
                break
    if not stuck:
        rooms = sorted({t.ids[slot.rows.members[m]] for slot in plan.slots if slot is not None
                        for m in slot.room_caps})
        return [entry("no_common_time", None, rooms, f"the rooms {', '.join(rooms)} cannot host every session "
                                                     "within their daily and weekly caps")]
    i = min(stuck, key=lambda x: (-stuck[x], x))
    slot, s = plan.slots[i], p.sessions[plan.order[i]]
    rows = sorted({int(r) for j, role in enumerate(s.roles) if not role.optional for r in slot.rows.role_rows[j]
                   if slot.avail[r, cols].any()})
    names = [t.ids[slot.rows.members[r]] for r in rows]
    return [entry("no_common_time", s.id, names,
                  f"'{s.id}' can only be staffed by people needed for another session at the same start "
                  f"({', '.join(sorted(names))}), and no one may sit two sessions")]
