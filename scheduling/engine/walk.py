"""The greedy walk of place.py, over many candidate starts at once, on Python integers used as bit sets.

Bit k of an integer stands for the k-th column being placed. A seat's members are tried in key order
(per stretch of columns with the same order, see masks.WeekLoad); each takes, of the columns still
open, those where it is available, not yet taken, and not forbidden by forward checking; a round per
unit of the role's count. A few big-integer operations per member and seat replace the per-column
loop, and cost less than the same steps as NumPy calls on matrices of this size.

Forward checking: a person (or, within one session, a room) may not take a column where it is the only
free candidate left for a later required seat of count 1. This makes the walk the first path of a
depth-first search that prunes only choices with no completion, so when the walk completes, its result
is still the lexicographically first valid assignment; it just completes more often, leaving fewer
starts to the exact search of search.py.
"""

from __future__ import annotations

import numpy as np

from .masks import Slot, Tables


class _Seat:
    __slots__ = ("place", "role", "count", "optional", "members", "bits", "segments", "people")

    def __init__(self, place, role, count, optional, members, bits, segments, people):
        self.place, self.role, self.count, self.optional = place, role, count, optional
        self.members, self.bits, self.segments, self.people = members, bits, segments, people


def walk(t: Tables, plan, sub: np.ndarray, forward_check: bool = True) -> tuple[int, list[list[np.ndarray]]]:
    """Places columns `sub` (plan positions). Returns the bit set of columns whose required seats were
    all filled, and picks[run position][role] = (count, len(sub)) table rows, -1 where empty."""
    c = len(sub)
    seats = _seats(t, plan, sub)
    rooms = t.room_rows
    taken: dict[int, int] = {}
    here: list[dict[int, int]] = [{} for _ in plan.slots]
    alive = (1 << c) - 1
    picks: list[list] = [[None] * (0 if s is None else len(s.rows.role_rows)) for s in plan.slots]
    required = [s for s in seats if not s.optional]
    for seat in seats:
        later = required[required.index(seat) + 1:] if forward_check and not seat.optional else []
        forbid = _forbidden(seat, later, taken, here, rooms, alive) if seat.count == 1 and later else {}
        mine = here[seat.place]
        rounds: list[dict[int, int]] = []
        picked: dict[int, int] = {}
        filled = alive
        for _ in range(seat.count):
            got: dict[int, int] = {}
            short = 0
            for mask, order in seat.segments:
                need = filled & mask
                for pos in order:
                    if not need:
                        break
                    f = seat.bits[pos] & need
                    if not f:
                        continue
                    row = seat.members[pos]
                    f &= ~(mine.get(row, 0) | picked.get(row, 0) | forbid.get(row, 0)
                           | (0 if row in rooms else taken.get(row, 0)))
                    if f:
                        got[row] = got.get(row, 0) | f
                        need &= ~f
                short |= need
            filled &= ~short
            for row, f in got.items():
                picked[row] = picked.get(row, 0) | f
            rounds.append(got)
        for row, f in picked.items():
            f &= filled
            mine[row] = mine.get(row, 0) | f
            if row not in rooms:
                taken[row] = taken.get(row, 0) | f
        if not seat.optional:
            alive &= filled
        picks[seat.place][seat.role] = np.stack([_rows_of(got, filled, c) for got in rounds])
    return alive, picks


def _forbidden(seat: _Seat, later: list[_Seat], taken: dict, here: list, rooms, alive: int) -> dict[int, int]:
    """Columns where each member of `seat` is the last free candidate of a later required seat of count
    1 (people for any session; rooms only for the same session)."""
    forbid: dict[int, int] = {}
    candidates = set(seat.members)
    for s in later:
        if s.count != 1 or not (candidates & (s.people if s.place != seat.place else set(s.members))):
            continue
        ones = twos = 0
        free = []
        blocked = here[s.place]
        for pos, row in enumerate(s.members):
            f = s.bits[pos] & alive & ~(blocked.get(row, 0) | (0 if row in rooms else taken.get(row, 0)))
            if f:
                twos |= ones & f
                ones |= f
                free.append((row, f))
        single = ones & ~twos
        if not single:
            continue
        for row, f in free:
            if row in candidates and (row not in rooms or s.place == seat.place) and f & single:
                forbid[row] = forbid.get(row, 0) | (f & single)
    return forbid


def _seats(t: Tables, plan, sub: np.ndarray) -> list[_Seat]:
    """Every seat of the plan in the greedy order, with its members' availability as bit sets."""
    c = len(sub)
    out = []
    bits_of = {}
    for optional in (False, True):
        for i, slot in enumerate(plan.slots):
            if slot is None:
                continue
            if i not in bits_of:
                bits_of[i] = _bits(slot.avail[:, sub])
            for j, role in enumerate(t.problem.sessions[plan.order[i]].roles):
                if role.optional != optional:
                    continue
                rows = slot.rows.role_rows[j]
                members = slot.rows.members[rows].tolist()
                people = {m for m in members if m not in t.room_rows}
                out.append(_Seat(i, j, role.count, optional, members, [bits_of[i][r] for r in rows.tolist()],
                                 _segments(slot, rows, sub, c), people))
    return out


def _segments(slot: Slot, rows: np.ndarray, sub: np.ndarray, c: int) -> list[tuple[int, list[int]]]:
    """(column bit mask, member positions in key order) for each stretch of columns sharing an order."""
    if slot.load is None or not slot.load.counts[rows].any():
        return [((1 << c) - 1, list(range(len(rows))))]
    out = []
    for start, end, order in slot.load.segments(rows, sub):
        out.append((((1 << (end - start)) - 1) << start, order.tolist()))
    return out


def _bits(matrix: np.ndarray) -> list[int]:
    """Each row of a boolean matrix as an integer, column k as bit k."""
    packed = np.packbits(matrix, axis=1, bitorder="little")
    width, raw = packed.shape[1], packed.tobytes()
    return [int.from_bytes(raw[k:k + width], "little") for k in range(0, len(raw), width)] if width else \
        [0] * len(matrix)


def _rows_of(got: dict[int, int], filled: int, c: int) -> np.ndarray:
    """(c,) the row that took each column in one round, -1 where none did (or the seat was not filled).
    In one round a column is taken by one row at most, so row + 1 weighted by its bits sums to it."""
    rows = [r for r, f in got.items() if f & filled]
    if not rows:
        return np.full(c, -1, dtype=np.int64)
    width = (c + 7) // 8
    raw = b"".join((got[r] & filled).to_bytes(width, "little") for r in rows)
    hit = np.unpackbits(np.frombuffer(raw, dtype=np.uint8).reshape(len(rows), width), axis=1, count=c,
                        bitorder="little")
    return (np.array(rows, dtype=np.int64) + 1) @ hit - 1
