"""The exact search for single starts, used only where the greedy walk of place.py and walk.py fails.

For each start it returns the lexicographically first valid assignment of the required seats (seats in
the greedy walk's order, each seat's member combinations in key order), then fills the optional seats
greedily: the same result the greedy walk gives whenever that walk succeeds, so the rule stays one rule.

The candidates of every seat at every start of a batch are listed with NumPy first; the depth-first
search itself is plain Python over small lists. Seats that share no candidate that could clash are
searched as separate groups (`_independent`). Within a group the search keeps, per later seat, the count
of candidates still free (forward checking), so a choice that starves a later seat is dropped at once.
A group of several seats is first checked with a bipartite matching (people distinct across the option,
rooms distinct within a session; room caps relaxed), and should a search backtrack more than
`_PATIENCE` times, every further step is too: so no start costs more than a polynomial number of
matchings per seat, unless capped rooms shared by several sessions (which the matching cannot see)
make it backtrack further.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from .masks import NO_CAP, Tables, key_order

_PATIENCE = 64


class _Seat:
    __slots__ = ("place", "count", "optional", "cands", "chosen")

    def __init__(self, place: int, count: int, optional: bool, cands: list[int]):
        self.place, self.count, self.optional, self.cands = place, count, optional, cands
        self.chosen: tuple[int, ...] = ()


def candidates(t: Tables, plan, cols: np.ndarray) -> list[list[tuple]]:
    """Per column of `cols`, the seats in the greedy walk's order as (run position, role, count, optional,
    available members in key order as table rows)."""
    from_order = []
    for optional in (False, True):
        for i, slot in enumerate(plan.slots):
            if slot is None:
                continue
            for j, role in enumerate(t.problem.sessions[plan.order[i]].roles):
                if role.optional == optional:
                    from_order.append((i, j, role))
    per_col: list[list[tuple]] = [[] for _ in range(len(cols))]
    for i, j, role in from_order:
        slot = plan.slots[i]
        rows = slot.rows.role_rows[j]
        ok = slot.avail[rows][:, cols]
        order = key_order(slot, rows, cols)
        ranked = ok if order is None else np.take_along_axis(ok, order, axis=0)
        col_idx, pos = np.nonzero(ranked.T)
        local = pos if order is None else order[pos, col_idx]
        members = slot.rows.members[rows[local]].tolist()
        cuts = np.searchsorted(col_idx, np.arange(1, len(cols))).tolist()
        for n, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(members)], strict=True)):
            per_col[n].append((i, j, role.count, role.optional, members[a:b]))
    return per_col


def first_option(t: Tables, plan, col: int, seats_spec: list[tuple]) -> list[list[tuple[int, ...]]] | None:
    """assignment[run position][role] = table rows in key order, or None if no valid option exists."""
    seats = [_Seat(i, count, optional, cands) for i, _, count, optional, cands in seats_spec]
    required = [s for s in seats if not s.optional]
    if any(len(s.cands) < s.count for s in required):
        return None
    search = None
    for group in _independent(t, required):
        search = _Search(t, plan, col, group, search)
        if (len(group) > 1 and not search.matchable(0)) or not search.fill(0):
            return None
    search = _Search(t, plan, col, [], search)
    for seat in seats:
        if seat.optional:
            search.take_greedy(seat)
    out = [[() for _ in range(0 if s is None else len(s.rows.role_rows))] for s in plan.slots]
    for (i, j, *_), seat in zip(seats_spec, seats, strict=True):
        out[i][j] = seat.chosen
    return out


def could_staff(t: Tables, seats_spec: list[tuple]) -> bool:
    """Can seats, given as (place, count, candidate rows), all be filled with distinct people (rooms
    distinct per place)? Room caps aside."""
    seats = [_Seat(place, count, False, cands) for place, count, cands in seats_spec]
    if any(len(s.cands) < s.count for s in seats):
        return False
    return _Search(t, None, 0, seats, None).matchable(0)


def _independent(t: Tables, seats: list[_Seat]) -> list[list[_Seat]]:
    """The seats split into groups that share no candidate that could clash (a person; a room within one
    session; a capped room anywhere), each in seat order. The lexicographically first assignment is then
    the first one of each group, found separately: without this split a search that must backtrack over
    one session's people would also walk through every combination of the rooms in between."""
    parent = list(range(len(seats)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    seen: dict[tuple[int, int], int] = {}
    for k, seat in enumerate(seats):
        for r in seat.cands:
            key = (r, seat.place if r in t.room_rows and t.cap_day[r] >= NO_CAP and t.cap_week[r] >= NO_CAP else -1)
            if key in seen:
                parent[root(k)] = root(seen[key])
            else:
                seen[key] = k
    groups: dict[int, list[_Seat]] = {}
    for k, seat in enumerate(seats):
        groups.setdefault(root(k), []).append(seat)
    return list(groups.values())


class _Search:
    """People taken, rooms taken per run position, room hostings per local day and week, and for each
    required seat how many of its candidates are still free."""

    def __init__(self, t: Tables, plan, col: int, required: list[_Seat], before: _Search | None):
        self.rooms = t.room_rows
        self.cap_day, self.cap_week = t.cap_day, t.cap_week
        self.seats = required
        self.steps = 0
        if before is not None:  # carry on from the groups already placed
            self.people, self.here, self.hosted, self.room_cal = before.people, before.here, before.hosted, \
                before.room_cal
        else:
            self.people: set[int] = set()
            self.here: dict[int, set[int]] = {}
            self.hosted: dict[tuple, int] = {}
            self.room_cal: dict[tuple[int, int], tuple] = {}
            for i, slot in enumerate([] if plan is None else plan.slots):
                for m, (days, dbooked, weeks, wbooked) in ([] if slot is None else slot.room_caps.items()):
                    self.room_cal[int(slot.rows.members[m]), i] = (int(days[col]), int(dbooked[col]),
                                                                   int(weeks[col]), int(wbooked[col]))
        for s in required:
            self.here.setdefault(s.place, set())
        self.left = [len(s.cands) for s in required]
        self.holders: dict[int, list[int]] = {}
        for k, s in enumerate(required):
            for r in s.cands:
                self.holders.setdefault(r, []).append(k)

    def room_fits(self, row: int, place: int) -> bool:
        cal = self.room_cal.get((row, place))
        if cal is None:
            return True
        day, dbooked, week, wbooked = cal
        return (dbooked + self.hosted.get((row, "d", day), 0) + 1 <= self.cap_day[row]
                and wbooked + self.hosted.get((row, "w", week), 0) + 1 <= self.cap_week[row])

    def add(self, seat: _Seat, rows: tuple[int, ...], sign: int) -> None:
        here = self.here.setdefault(seat.place, set())
        for r in rows:
            if sign > 0:
                here.add(r)
                if r not in self.rooms:
                    self.people.add(r)
            else:
                here.discard(r)
                self.people.discard(r)
            if self.room_cal:
                cal = self.room_cal.get((r, seat.place))
                if cal is not None:
                    for key in ((r, "d", cal[0]), (r, "w", cal[2])):
                        self.hosted[key] = self.hosted.get(key, 0) + sign
        seat.chosen = rows if sign > 0 else ()

    def starve(self, k: int, rows: tuple[int, ...], sign: int) -> bool:
        """Counts `rows` in or out of the free candidates of the seats after k; True if one falls short."""
        short = False
        place = self.seats[k].place
        for r in rows:
            room = r in self.rooms
            for s in self.holders[r]:
                if s > k and (not room or self.seats[s].place == place):
                    self.left[s] -= sign
                    short |= self.left[s] < self.seats[s].count
        return short

    def free(self, seat: _Seat) -> list[int]:
        here, people, rooms = self.here[seat.place], self.people, self.rooms
        return [r for r in seat.cands if r not in here and (r in rooms or r not in people)]

    def take_greedy(self, seat: _Seat) -> None:
        self.here.setdefault(seat.place, set())
        picked = [r for r in self.free(seat) if self.room_fits(r, seat.place)][:seat.count]
        if len(picked) == seat.count:
            self.add(seat, tuple(picked), +1)

    def fill(self, k: int) -> bool:
        """Depth-first, lexicographic: fills seats[k:] or leaves the state as it found it."""
        if k == len(self.seats):
            return True
        seat = self.seats[k]
        for combo in combinations(self.free(seat), seat.count):
            if self.room_cal and not all(self.room_fits(r, seat.place) for r in combo):
                continue
            self.add(seat, combo, +1)
            starved = self.starve(k, combo, +1)
            if not starved and (self.steps <= _PATIENCE or self.matchable(k + 1)) and self.fill(k + 1):
                return True
            self.steps += 1
            self.starve(k, combo, -1)
            self.add(seat, combo, -1)
        return False

    def matchable(self, k: int) -> bool:
        """Can seats[k:] be given distinct free resources (room caps aside)? Kuhn's augmenting paths."""
        units = []
        for seat in self.seats[k:]:
            nodes = [(r, seat.place if r in self.rooms else -1) for r in self.free(seat)]
            if len(nodes) < seat.count:
                return False
            units.extend([nodes] * seat.count)
        owner: dict[tuple[int, int], int] = {}

        def augment(u: int, seen: set) -> bool:
            for node in units[u]:
                if node in seen:
                    continue
                seen.add(node)
                if node not in owner or augment(owner[node], seen):
                    owner[node] = u
                    return True
            return False

        return all(augment(u, set()) for u in range(len(units)))
