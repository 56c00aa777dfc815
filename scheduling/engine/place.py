"""Placing loops: which candidate starts have an option, and the panel of each.

For one ordering of the sessions, every candidate start is staffed at once (walk.py works on all the
columns together) by the greedy rule the whole engine is built on:

    seats are filled in this order: the required roles of each session in the order the sessions run
    (roles in the order the problem gives them), then the optional roles in the same order; each seat
    takes the `count` first members of its pool, in order of (`booked` in the member's local ISO week of
    the session's start, id), that are available and not yet taken (a person sits one session per
    option; a room may host several sessions, but never twice in one).

When that greedy walk completes a valid option it is the lexicographically first valid assignment of the
required seats, which makes it load-balanced by construction: a swap to an unused, available person with
a smaller key would give a lexicographically smaller valid assignment. Optional seats filled greedily
afterwards are balanced for the same reason, and an optional seat left empty had fewer than `count`
addable members when its turn came, which later seats only reduce ("shadows filled").

Where the greedy walk fails (someone needed twice, or a room over its cap because it hosts several
sessions), `search.first_option` runs the exact lexicographic search for that start alone.

Under order "any" the orderings are tried in turn, each on the starts no earlier ordering could staff.
Starts that no ordering can staff are dropped early, so that up to 720 orderings stay affordable: when
too few people are free at all, when even a relaxation of every ordering at once (each session at any of
its offsets) has no matching of seats to people, or, per ordering, when Hall's condition fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations

import numpy as np

from .masks import SessionRows, Slot, Tables, make_slot, session_rows
from .search import candidates, could_staff, first_option
from .walk import walk


@dataclass
class Plan:
    """One ordering of the sessions: session index and slot (None for a break) per run position, every
    slot over the plan's columns `cols` (positions in Tables.cols)."""

    order: tuple[int, ...]
    offsets: tuple[int, ...]
    slots: list[Slot | None]
    cols: np.ndarray

    def coverable(self) -> np.ndarray:
        ok = np.ones(len(self.cols), dtype=bool)
        for s in self.slots:
            if s is not None:
                ok &= s.coverable
        return ok


@dataclass
class Found:
    """Options found, by column (index into Tables.cols): the plan, and the chosen table rows as
    rows[run position][role], a (count, columns of a batch) array of rows in key order (-1 marks an
    empty place), and k, the column's place in the batch of columns placed together."""

    by_col: dict[int, tuple[Plan, list[list[np.ndarray]], int]]


class Planner:
    """Builds plans (and caches their slots) for the orderings a problem allows."""

    def __init__(self, t: Tables, keep_parts: bool = False):
        self.t = t
        self.keep_parts = keep_parts
        self._rows: dict[int, SessionRows] = {}
        self._slots: dict[tuple, Slot | np.ndarray] = {}

    def orders(self) -> list[tuple[int, ...]]:
        """Orderings in the order they are tried: under "any", interviews permuted over their positions in
        lexicographic order of the given session indices, breaks staying where they are."""
        sessions = self.t.problem.sessions
        fixed = tuple(range(len(sessions)))
        if self.t.problem.order == "fixed":
            return [fixed]
        places = [i for i, s in enumerate(sessions) if s.roles]
        out = []
        for perm in permutations(places):
            order = list(fixed)
            for place, idx in zip(places, perm, strict=True):
                order[place] = idx
            out.append(tuple(order))
        return out

    def session_offsets(self) -> dict[int, list[int]]:
        """Every offset into the loop that each session with roles takes in some ordering."""
        p, out = self.t.problem, {}
        for order in self.orders():
            at = 0
            for idx in order:
                out.setdefault(idx, set()).add(at)
                at += p.sessions[idx].duration + p.gap
        return {idx: sorted(v) for idx, v in out.items() if p.sessions[idx].roles}

    def union(self, idx: int) -> np.ndarray:
        """(members, every column): who can sit session idx at some offset it may take."""
        if ("union", idx) not in self._slots:
            offsets = self.session_offsets()[idx]
            self._slots["union", idx] = np.logical_or.reduce([self.slot(idx, o).avail for o in offsets])
        return self._slots["union", idx]

    def enough_people(self) -> np.ndarray:
        """(columns,) False where fewer people are free, for any session at any offset, than the
        required roles that only people can fill need together."""
        t, p = self.t, self.t.problem
        need = sum(r.count for s in p.sessions for r in s.roles
                   if not r.optional and not any(t.is_room[t.row[rid]] for rid in r.pool))
        ok = np.ones(len(t.cols), dtype=bool)
        if need < 2:
            return ok
        free = np.zeros((len(t.ids), len(t.cols)), dtype=bool)
        for idx in self.session_offsets():
            free[self._session_rows(idx).members] |= self.union(idx)
        return ok & (free[~t.is_room].sum(axis=0) >= need)

    def relaxed_seats(self, col: int) -> list[tuple]:
        """The required seats of every session at one column, each with whoever can sit it at any of its
        offsets: a relaxation of every ordering at once."""
        seats = []
        for idx, s in enumerate(self.t.problem.sessions):
            if not s.roles:
                continue
            rows, free = self._session_rows(idx), self.union(idx)[:, col]
            for j, role in enumerate(s.roles):
                if not role.optional:
                    rr = rows.role_rows[j]
                    seats.append((idx, role.count, rows.members[rr[free[rr]]].tolist()))
        return seats

    def plan(self, order: tuple[int, ...]) -> Plan:
        """The plan of one ordering. Under order "fixed" (one plan, no diagnostics) each session is only
        looked at where the sessions before it can be staffed, and every slot ends over the columns
        where all can; under "any" slots are shared by many plans and cover every column."""
        p = self.t.problem
        offsets, at = [], 0
        for idx in order:
            offsets.append(at)
            at += p.sessions[idx].duration + p.gap
        if p.order == "any" or self.keep_parts:
            slots = [self.slot(idx, o) if p.sessions[idx].roles else None
                     for idx, o in zip(order, offsets, strict=True)]
            return Plan(order, tuple(offsets), slots, np.arange(len(self.t.cols)))
        cols = np.arange(len(self.t.cols))
        built: list[tuple[Slot, np.ndarray] | None] = []
        for idx, o in zip(order, offsets, strict=True):
            if not p.sessions[idx].roles:
                built.append(None)
                continue
            slot = make_slot(self.t, self._session_rows(idx), o, cols=cols)
            built.append((slot, cols))
            cols = cols[slot.coverable]
        slots = [None if b is None else b[0].narrow(np.searchsorted(b[1], cols)) for b in built]
        return Plan(order, tuple(offsets), slots, cols)

    def slot(self, idx: int, offset: int) -> Slot:
        """Session idx at `offset` minutes into the loop, over every column (cached)."""
        if (idx, offset) not in self._slots:
            self._slots[idx, offset] = make_slot(self.t, self._session_rows(idx), offset, self.keep_parts)
        return self._slots[idx, offset]

    def _session_rows(self, idx: int) -> SessionRows:
        if idx not in self._rows:
            self._rows[idx] = session_rows(self.t, self.t.problem.sessions[idx])
        return self._rows[idx]


def place_loops(t: Tables, planner: Planner) -> Found:
    """Every column with a valid option, with its plan and panel; columns past the (max_options + 1)-th
    found are not looked at, since neither the options returned nor `truncated` depend on them."""
    decided = np.zeros(len(t.cols), dtype=bool)
    found: dict[int, tuple] = {}
    limit = t.problem.max_options + 1
    many = t.problem.order == "any"
    # Under "any", starts that no ordering can staff are found once instead of once per ordering: too
    # few people free at all, or (checked when a start first needs the exact search) no matching of
    # seats to people even when each session may take any of its offsets.
    dead = ~planner.enough_people() if many else np.zeros(len(t.cols), dtype=bool)
    relaxed: dict[int, bool] = {}
    for order in planner.orders():
        plan = planner.plan(order)
        todo = ~decided[plan.cols] & ~dead[plan.cols] & plan.coverable()
        cutoff = _cutoff(decided, limit)
        if cutoff is not None:
            todo &= plan.cols < cutoff
        todo = np.flatnonzero(todo)  # positions in plan.cols
        if not todo.size:
            continue
        ok, picks = greedy(t, plan, todo)
        rows = picks
        for k, col in zip(np.flatnonzero(ok).tolist(), plan.cols[todo[ok]].tolist(), strict=True):
            found[col] = (plan, rows, k)
        decided[plan.cols[todo[ok]]] = True
        stuck = todo[~ok]
        if stuck.size >= 4:  # cheaper than searching them from 4 on: drop starts failing Hall's condition
            stuck = stuck[_hall_holds(t, plan, stuck)]
        specs = candidates(t, plan, stuck) if stuck.size else []
        for here, spec in zip(stuck.tolist(), specs, strict=True):
            col = int(plan.cols[here])
            cutoff = _cutoff(decided, limit)
            if cutoff is not None and col >= cutoff:
                break
            if many:
                if col not in relaxed:
                    relaxed[col] = could_staff(t, planner.relaxed_seats(col))
                if not relaxed[col]:
                    dead[col] = True
                    continue
            option = first_option(t, plan, here, spec)
            if option is not None:
                found[col] = (plan, [[_column(seat) for seat in pos] for pos in option], 0)
                decided[col] = True
    return Found(found)


def _column(chosen: tuple[int, ...]) -> np.ndarray:
    """One column of picks (see Found) for the rows an exact search chose for a seat."""
    out = np.full((max(len(chosen), 1), 1), -1, dtype=np.int64)
    out[:len(chosen), 0] = chosen
    return out


def _hall_holds(t: Tables, plan: Plan, cols: np.ndarray) -> np.ndarray:
    """Per column of `cols` (plan positions): does every set of the plan's people-only required roles
    have at least as many distinct people free as those roles need together? A necessary condition for
    an option (Hall's theorem for the matching of seats to people), checked for up to 8 roles at once."""
    seats = [(slot, slot.rows.role_rows[j], role.count)
             for i, slot in enumerate(plan.slots) if slot is not None
             for j, role in enumerate(t.problem.sessions[plan.order[i]].roles)
             if not role.optional and not t.is_room[slot.rows.members[slot.rows.role_rows[j]]].any()]
    ok = np.ones(len(cols), dtype=bool)
    if not 2 <= len(seats) <= 8:
        return ok
    people = sorted({int(m) for slot, rows, _ in seats for m in slot.rows.members[rows]})
    index = {m: k for k, m in enumerate(people)}
    free = []
    for slot, rows, _ in seats:
        a = np.zeros((len(people), len(cols)), dtype=bool)
        a[[index[int(m)] for m in slot.rows.members[rows]]] = slot.avail[rows][:, cols]
        free.append(a)
    union = [np.zeros((len(people), len(cols)), dtype=bool)]
    need = [0]
    for subset in range(1, 1 << len(seats)):
        top = subset.bit_length() - 1
        union.append(union[subset ^ (1 << top)] | free[top])
        need.append(need[subset ^ (1 << top)] + seats[top][2])
        ok &= union[subset].sum(axis=0) >= need[subset]
    return ok


def _cutoff(decided: np.ndarray, limit: int) -> int | None:
    """The column of the limit-th decided start (nothing after it matters), or None if not that many."""
    if limit > len(decided):
        return None
    idx = np.flatnonzero(decided)
    return int(idx[limit - 1]) + 1 if idx.size >= limit else None


def greedy(t: Tables, plan: Plan, sub: np.ndarray,
           forward_check: bool = True) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    """The greedy walk (module docstring; walk.py) over columns `sub` at once. Returns which columns it
    completed validly, and picks[run position][role] = (count, len(sub)) table rows, -1 where empty."""
    alive, picks = walk(t, plan, sub, forward_check)
    done = np.unpackbits(np.frombuffer(alive.to_bytes((len(sub) + 7) // 8, "little"), dtype=np.uint8),
                         bitorder="little")[:len(sub)].astype(bool)
    return done & _room_caps_hold(t, plan, sub, picks), picks


def _room_caps_hold(t: Tables, plan: Plan, sub: np.ndarray, picks: list) -> np.ndarray:
    """Columns where no capped room exceeds its day or week cap by hosting several sessions."""
    ok = np.ones(len(sub), dtype=bool)
    capped = {}
    for i, slot in enumerate(plan.slots):
        for m, cal in ([] if slot is None else slot.room_caps.items()):
            capped.setdefault(int(slot.rows.members[m]), []).append((i, cal))
    for room, places in capped.items():
        if len(places) < 2:
            continue
        hosts = [(np.any([(seat == room).any(axis=0) for seat in picks[i]], axis=0), [x[sub] for x in cal])
                 for i, cal in places]
        for flag, (days, day_booked, weeks, week_booked) in hosts:
            same_day = np.sum([f & (d[0] == days) for f, d in hosts], axis=0)
            same_week = np.sum([f & (d[2] == weeks) for f, d in hosts], axis=0)
            ok &= ~flag | ((day_booked + same_day <= t.cap_day[room]) & (week_booked + same_week <= t.cap_week[room]))
    return ok


