"""Availability as boolean matrices: one row per pool member, one column per candidate loop start.

A loop start is `window.start + k * step` for a whole number k; `Tables.cols` holds the k that pass the
loop-level rules (window, notice, candidate). Every per-resource rule turns into ranges of k, merged
and written into the matrix run by run (`_ranges_to_matrix`), so no rule is ever evaluated start by
start:

- a busy interval [bs, be) blocks a person whose session, at minute offset o from the loop start with
  duration d and buffer b, would overlap [bs - b, be + b): the session start minute m = k*step + o is
  blocked when bs_min - d - b < m < be_min + b, bs_min rounded down and be_min up to whole minutes of
  the window-start grid (exact: sessions start and end on that grid);
- a working-hours range [s, e) on local day D admits starts s_min <= m <= e_min - d (the range's
  instants come from the zone clock with fold=0, see zones.py), and a range never joins its neighbour;
- a day or week cap admits a start when `booked` that local day (week) + 1 <= the cap: a person sits at
  most one session of an option, so this is exact for people; rooms that host several sessions are
  re-checked when the option is assembled (place.py). The days (weeks) a resource has filled are turned
  once per problem into spans of instants (`_cap_spans`), which then block starts like busy intervals
  (a session start minute m is blocked when lo_min <= m < hi_min), in the same call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .instants import DAY, MINUTE
from .problem import Problem, Session
from .zones import ZoneClock, week_of, weekday, zone_clock

NO_CAP = 1 << 30
_KEY = 1 << 20  # key = row * _KEY + day: days of a problem span far fewer than 2**20


@dataclass
class Tables:
    """Per-solve arrays for every resource that sits in some pool (rows sorted by id)."""

    problem: Problem
    ids: list[str]
    row: dict[str, int]
    n_starts: int  # K: loop starts that end inside the window
    cols: np.ndarray  # the k that pass window, notice and candidate rules
    is_room: np.ndarray
    room_rows: frozenset[int]
    unknown: np.ndarray  # calendar_unknown
    buffer: np.ndarray
    cap_day: np.ndarray
    cap_week: np.ndarray
    busy: tuple[np.ndarray, np.ndarray, np.ndarray]  # (ptr, lo_min, hi_min), CSR by row
    hours: tuple[np.ndarray, np.ndarray, np.ndarray]  # per working-hours pattern: (ptr, start_min, end_min)
    pattern: np.ndarray  # per row: its pattern (zone and weekly hours), -1 for no working-hours rule
    has_booked: np.ndarray  # (rows,) bool
    booked_days: np.ndarray  # sorted keys row * _KEY + local day of each `booked` start (days from day0)
    booked_weeks: np.ndarray  # the same with the Monday of the local ISO week
    caps: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # (ptr, lo_min, hi_min, is_week), CSR by row:
    # the instants, as minutes from the window start ([lo, hi)), whose local day or week a row has filled
    day0: int
    clocks: dict[str, ZoneClock]
    zone_of: list[str]
    _zone_cache: dict = field(default_factory=dict)

    def local_days(self, zone: str, offset: int) -> np.ndarray:
        """Local day of each session start at `offset` minutes into the loop, per column (cached)."""
        key = (zone, offset)
        days = self._zone_cache.get(key)
        if days is None:
            p = self.problem
            utc = p.window_start + (self.cols * p.step + offset) * MINUTE
            days = self._zone_cache[key] = self.clocks[zone].local_days(utc)
        return days

    def local_weeks(self, zone: str, offset: int) -> np.ndarray:
        """The local ISO week of each session start at `offset`, per column, as weeks from day0 (cached)."""
        key = (zone, offset, "weeks")
        weeks = self._zone_cache.get(key)
        if weeks is None:
            weeks = self._zone_cache[key] = (week_of(self.local_days(zone, offset)) - self.day0) // 7
        return weeks

    def n_weeks(self) -> int:
        """Weeks from day0 through the last day any session of the problem can start on."""
        return int((week_of(self.problem.window_end // DAY + 2) - self.day0) // 7 + 1)


def loop_rules(p: Problem) -> tuple[int, np.ndarray, np.ndarray]:
    """(K, notice_ok, candidate_ok): how many starts fit the window, and the two other loop rules over them."""
    span, step = p.loop_minutes * MINUTE, p.step * MINUTE
    length = p.window_end - p.window_start
    k = (length - span) // step + 1 if length >= span else 0
    first = max(0, -((p.window_start - p.now - p.notice * MINUTE) // step))
    notice = np.zeros(k, dtype=bool)
    notice[first:] = True
    if p.candidate_available is None:
        return k, notice, np.ones(k, dtype=bool)
    diff = np.zeros(k + 1, dtype=np.int64)
    for cs, ce in p.candidate_available:
        lo = max(0, -((p.window_start - cs) // step))
        hi = min(k, (ce - span - p.window_start) // step + 1)
        if lo < hi:
            diff[lo] += 1
            diff[hi] -= 1
    return k, notice, np.cumsum(diff[:k]) > 0


def build_tables(p: Problem) -> Tables:
    """Everything the placement needs from the resources, converted once."""
    ids = sorted({rid for s in p.sessions for r in s.roles for rid in r.pool})
    res = [p.resources[i] for i in ids]
    k, notice, cand = loop_rules(p)
    cols = np.flatnonzero(notice & cand).astype(np.int64)
    first_day, last_day = p.window_start // DAY - 9, p.window_end // DAY + 9
    zones = sorted({r.timezone for r in res})
    # Spans rounded out to 64-day blocks, so that problems with nearby windows share cached clocks.
    clocks = {z: zone_clock(z, first_day // 64 * 64, (last_day // 64 + 1) * 64) for z in zones}
    w0 = p.window_start
    busy = [r.busy for r in res]
    ptr = np.zeros(len(res) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(b) for b in busy])
    allb = np.concatenate(busy) if busy else np.zeros((0, 2), dtype=np.int64)
    lo = (allb[:, 0] - w0) // MINUTE
    hi = -((w0 - allb[:, 1]) // MINUTE)
    hours, pattern = _hours_table(p, res, clocks)
    day0 = int(week_of(first_day - 2))  # a Monday: days and weeks from it are never negative in the keys
    day_keys, week_keys = [], []
    for zone in zones:  # one conversion per zone for every `booked` start of its resources
        rows = [i for i, r in enumerate(res) if r.timezone == zone and r.booked.size]
        if not rows:
            continue
        b = np.concatenate([res[i].booked for i in rows])
        row = np.repeat(rows, [res[i].booked.size for i in rows])
        near = (b > p.window_start - 9 * DAY) & (b < p.window_end + 9 * DAY)
        days = clocks[zone].local_days(b[near])
        day_keys.append(row[near] * _KEY + days - day0)
        week_keys.append(row[near] * _KEY + week_of(days) - day0)
    cap_day = np.array([NO_CAP if r.max_per_day is None else r.max_per_day for r in res], dtype=np.int64)
    cap_week = np.array([NO_CAP if r.max_per_week is None else r.max_per_week for r in res], dtype=np.int64)
    booked_days, booked_weeks = np.sort(_cat(day_keys)), np.sort(_cat(week_keys))
    return Tables(
        problem=p, ids=ids, row={rid: i for i, rid in enumerate(ids)}, n_starts=k, cols=cols,
        is_room=np.array([r.is_room for r in res], dtype=bool),
        room_rows=frozenset(i for i, r in enumerate(res) if r.is_room),
        unknown=np.array([r.calendar_unknown for r in res], dtype=bool),
        buffer=np.array([r.buffer_minutes for r in res], dtype=np.int64),
        cap_day=cap_day, cap_week=cap_week, busy=(ptr, lo, hi), hours=hours, pattern=pattern,
        has_booked=np.array([r.booked.size > 0 for r in res], dtype=bool), booked_days=booked_days,
        booked_weeks=booked_weeks, day0=day0, clocks=clocks,
        caps=_cap_spans(p, booked_days, booked_weeks, cap_day, cap_week, [r.timezone for r in res], clocks, day0),
        zone_of=[r.timezone for r in res])


def _hours_table(p: Problem, res: list, clocks: dict) -> tuple[tuple, np.ndarray]:
    """Working-hours ranges as minutes from the window start, CSR by distinct (zone, weekly hours)
    pattern, and each row's pattern: people who share a pattern share this work and its masks.

    Every range of every pattern meets every day of the span in one matrix (ranges x days), and each
    zone's clock converts its patterns' readings in one call."""
    patterns: dict = {}
    for r in res:
        if r.working_hours is not None:
            patterns.setdefault((r.timezone, r.working_hours), len(patterns))
    pattern = np.array([-1 if r.working_hours is None else patterns[r.timezone, r.working_hours] for r in res],
                       dtype=np.int64)
    ranges = [(n, w, a, b) for (_, week), n in patterns.items() for w, day in enumerate(week) for a, b in day]
    if not ranges:
        return (np.zeros(len(patterns) + 1, dtype=np.int64), _cat([]), _cat([])), pattern
    owner, on, a, b = (np.array(x, dtype=np.int64) for x in zip(*ranges, strict=True))
    first, last = p.window_start // DAY - 2, p.window_end // DAY + 2
    days = np.arange(first, last + 1, dtype=np.int64)
    hit = on[:, None] == weekday(days)[None, :]  # (ranges, days): the range applies that day
    row = np.broadcast_to(np.arange(len(ranges))[:, None], hit.shape)[hit]  # ranges in order, days ascending
    midnight = np.broadcast_to(days[None, :] * DAY, hit.shape)[hit]
    local_s, local_e = midnight + a[row] * MINUTE, midnight + b[row] * MINUTE
    owner = owner[row]
    names = sorted({z for z, _ in patterns})
    zone_of = np.array([names.index(z) for z, _ in patterns], dtype=np.int64)[owner]
    s, e = np.empty_like(local_s), np.empty_like(local_e)
    for k, name in enumerate(names):
        here = zone_of == k
        s[here] = clocks[name].utc_of_local(local_s[here])
        e[here] = clocks[name].utc_of_local(local_e[here])
    s_min, e_min = -((p.window_start - s) // MINUTE), (e - p.window_start) // MINUTE
    keep = e_min > s_min
    ptr = np.zeros(len(patterns) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(owner[keep], minlength=len(patterns)))
    return (ptr, s_min[keep], e_min[keep]), pattern


def _cap_spans(p: Problem, booked_days: np.ndarray, booked_weeks: np.ndarray, cap_day: np.ndarray,
               cap_week: np.ndarray, zone_of: list[str], clocks: dict, day0: int) -> tuple:
    """The day and week caps as spans of instants a row may not start a session in (see Tables.caps).

    A row's day is full when its `booked` starts that local day reach its cap (a cap of 0: always full).
    The instants of local day D are those whose reading falls in [D, D + 1) days; between two offset
    changes of the zone the offset is constant, so that is one span per stretch between changes (two
    when a change at midnight makes a local hour occur twice), computed for every full day at once."""
    rows, lo, hi, week = [], [], [], []
    for is_week, (keys, cap, length) in enumerate(((booked_days, cap_day, 1), (booked_weeks, cap_week, 7))):
        full = _full(keys, cap)
        zero = np.flatnonzero(cap <= 0)
        rows.append(zero)
        lo.append(np.full(zero.size, -_FAR, dtype=np.int64))
        hi.append(np.full(zero.size, _FAR, dtype=np.int64))
        week.append(np.full(zero.size, is_week, dtype=bool))
        if not full.size:
            continue
        row = full // _KEY
        local_lo = (full % _KEY + day0) * DAY
        names = np.array([zone_of[r] for r in row.tolist()], dtype=object)
        for name in sorted(set(names.tolist())):
            mine = names == name
            clock = clocks[name]
            edges = np.concatenate(([np.iinfo(np.int64).min // 4], clock.transitions, [np.iinfo(np.int64).max // 4]))
            a = np.maximum(local_lo[mine][:, None] - clock.offsets[None, :], edges[None, :-1])
            b = np.minimum(local_lo[mine][:, None] + length * DAY - clock.offsets[None, :], edges[None, 1:])
            keep = a < b
            rows.append(np.broadcast_to(row[mine][:, None], keep.shape)[keep])
            lo.append(-((p.window_start - a[keep]) // MINUTE))  # first whole minute of the window grid in it
            hi.append(-((p.window_start - b[keep]) // MINUTE))
            week.append(np.full(int(keep.sum()), is_week, dtype=bool))
    row, lo, hi, week = _cat(rows), _cat(lo), _cat(hi), np.concatenate(week)
    order = np.argsort(row, kind="stable")
    ptr = np.zeros(len(cap_day) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(row, minlength=len(cap_day)))
    return ptr, lo[order], hi[order], week[order]


_FAR = 1 << 40  # minutes: farther from any window than any start


def _full(keys: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """The distinct keys (row * _KEY + day) that occur at least as often as their row's cap."""
    if not keys.size:
        return keys
    first = np.empty(keys.size, dtype=bool)
    first[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, keys.size))
    distinct = keys[starts]
    return distinct[counts >= cap[distinct // _KEY]]


def _cat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)


@dataclass
class SessionRows:
    """The pool members of one session and, per interval of theirs, the local row it belongs to."""

    session: Session
    members: np.ndarray  # table rows, sorted (so by id)
    role_rows: list[np.ndarray]  # per role: indices into members
    busy_row: np.ndarray
    busy_lo: np.ndarray
    busy_hi: np.ndarray
    busy_buf: np.ndarray
    patterns: np.ndarray  # the distinct working-hours patterns of the members
    member_pattern: np.ndarray  # per member: its position in `patterns`, or len(patterns) for none
    hours_row: np.ndarray  # per range: its position in `patterns`
    hours_s: np.ndarray
    hours_e: np.ndarray
    cap_row: np.ndarray  # per span of Tables.caps of the members: the member (local row) it belongs to
    cap_lo: np.ndarray
    cap_hi: np.ndarray
    cap_is_week: np.ndarray  # the span is a full week (else a full day)
    zones: list[str]  # the members' time zones
    zone: np.ndarray  # per member: its zone's position in `zones`
    capped: np.ndarray  # per member: has a day or week cap
    week_counts: np.ndarray | None  # (members, Tables.n_weeks()) `booked` per week from day0; None if none


def session_rows(t: Tables, s: Session) -> SessionRows:
    members = np.array(sorted({t.row[rid] for r in s.roles for rid in r.pool}), dtype=np.int64)
    local = {int(m): i for i, m in enumerate(members)}
    role_rows = [np.array([local[t.row[rid]] for rid in r.pool], dtype=np.int64) for r in s.roles]
    (bp, blo, bhi), (hp, hs, he) = t.busy, t.hours
    b_row, b_idx = _gather(bp, members)
    own = t.pattern[members]
    patterns = np.unique(own[own >= 0])
    h_row, h_idx = _gather(hp, patterns)
    member_pattern = np.where(own >= 0, np.searchsorted(patterns, own), len(patterns))
    names = [t.zone_of[m] for m in members.tolist()]
    zones = sorted(set(names))
    where = {z: i for i, z in enumerate(zones)}
    capped = (t.cap_day[members] < NO_CAP) | (t.cap_week[members] < NO_CAP)
    cp, clo, chi, cweek = t.caps
    c_row, c_idx = _gather(cp, members)
    return SessionRows(s, members, role_rows, b_row, blo[b_idx], bhi[b_idx], t.buffer[members][b_row],
                       patterns, member_pattern, h_row, hs[h_idx], he[h_idx], c_row, clo[c_idx], chi[c_idx],
                       cweek[c_idx], zones,
                       np.array([where[z] for z in names], dtype=np.int64), capped,
                       _count(t.booked_weeks, members, 7 * np.arange(t.n_weeks())[None, :])
                       if t.has_booked[members].any() else None)


def _gather(ptr: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For CSR offsets `ptr`, the (member position, item index) of every item of the given rows."""
    starts, counts = ptr[members], ptr[members + 1] - ptr[members]
    row = np.repeat(np.arange(len(members)), counts)
    first = np.repeat(starts - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    return row, first + np.arange(counts.sum())


@dataclass
class Slot:
    """One session at one offset into the loop: who can sit it at each candidate start."""

    rows: SessionRows
    offset: int
    avail: np.ndarray  # (members, cols) bool: every rule but distinctness and room multi-hosting
    load: WeekLoad | None  # `booked` in each member's local week of the session start (None: nobody has any)
    room_caps: dict[int, tuple]  # capped rooms, by member index: (days, day_booked, weeks, week_booked)
    coverable: np.ndarray  # (cols,) every required role has enough members available
    parts: dict | None = None  # the separate rules, for diagnostics

    def narrow(self, pos: np.ndarray) -> Slot:
        """The same slot over columns `pos` of its own."""
        load = None if self.load is None else WeekLoad(self.load.zone, self.load.week[:, pos], self.load.counts)
        caps = {m: tuple(x[pos] for x in cal) for m, cal in self.room_caps.items()}
        return Slot(self.rows, self.offset, self.avail[:, pos], load, caps, self.coverable[pos])


def _ranges_to_matrix(at: np.ndarray, n: int, row: np.ndarray, lo_k: np.ndarray, hi_k: np.ndarray,
                      inside: bool = True) -> np.ndarray:
    """(n, columns) bool: is each column's start inside some k-range [lo_k, hi_k) of each row (with
    `inside=False`: outside every one of them)? `at[k]` is the first column whose start is k or later (k
    clipped to 0..K).

    The ranges become cells of the flattened (n, columns + 1) matrix (the extra column keeps each row's
    ranges inside the row), are merged into disjoint runs (sorted by start, a run ends where the running
    maximum of the ends falls behind the next start), and the matrix is written run by run with
    `np.repeat`. Measured against a difference array summed with `cumsum` (and `np.add.at` to fill it): a
    quarter of the time on the large benchmark's matrices, since the work follows the number of runs
    rather than the number of cells, and no counter can wrap."""
    c = int(at[-1])
    last = len(at) - 1
    lo_k = np.clip(lo_k, 0, last)
    hi_k = np.clip(hi_k, lo_k, last)  # a range shorter than the session is empty, never negative
    width = c + 1
    size = n * width
    lo = at[lo_k] + row * width
    hi = at[hi_k] + row * width
    keep = hi > lo
    if not keep.all():
        lo, hi = lo[keep], hi[keep]
    if not lo.size:
        return np.full((n, c), not inside, dtype=bool)
    by_start = np.argsort(lo, kind="stable")
    lo, hi = lo[by_start], hi[by_start]
    reach = np.maximum.accumulate(hi)
    first = np.empty(lo.size, dtype=bool)
    first[0] = True
    np.greater(lo[1:], reach[:-1], out=first[1:])
    heads = np.flatnonzero(first)
    edges = np.empty(2 * heads.size + 2, dtype=np.int64)
    edges[0], edges[-1] = 0, size
    edges[1:-1:2] = lo[heads]
    edges[2:-1:2] = np.maximum.reduceat(hi, heads)
    runs = np.full(edges.size - 1, not inside, dtype=bool)
    runs[1::2] = inside
    return np.repeat(runs, np.diff(edges)).reshape(n, width)[:, :c]


def make_slot(t: Tables, sr: SessionRows, offset: int, keep_parts: bool = False,
              cols: np.ndarray | None = None) -> Slot:
    """Availability of a session's pool members when the session starts `offset` minutes into the loop,
    over the columns `cols` (positions in Tables.cols; all of them when None)."""
    n, d, step = len(sr.members), sr.session.duration, t.problem.step
    ks = t.cols if cols is None else t.cols[cols]
    at = np.searchsorted(ks, np.arange(t.n_starts + 1))  # column of each start k (the next one if absent)
    b = sr.busy_buf
    lo = -((offset + d + b - 1 - sr.busy_lo) // step)
    hi = (sr.busy_hi + b - 1 - offset) // step + 1
    # A start k is out when its session start minute k * step + offset falls in a full day or week.
    cap_lo, cap_hi = -((offset - sr.cap_lo) // step), -((offset - sr.cap_hi) // step)
    if keep_parts:  # each rule on its own, for diagnostics
        free = _ranges_to_matrix(at, n, sr.busy_row, lo, hi, inside=False)
        caps = tuple(_ranges_to_matrix(at, n, sr.cap_row[w], cap_lo[w], cap_hi[w], inside=False)
                     for w in (~sr.cap_is_week, sr.cap_is_week))
        clear = free & caps[0] & caps[1]
    else:
        if sr.cap_row.size:
            row, lo, hi = (np.concatenate(x) for x in ((sr.busy_row, sr.cap_row), (lo, cap_lo), (hi, cap_hi)))
        else:
            row = sr.busy_row
        clear = _ranges_to_matrix(at, n, row, lo, hi, inside=False)
    lo = -((offset - sr.hours_s) // step)
    hi = (sr.hours_e - d - offset) // step + 1
    by_pattern = _ranges_to_matrix(at, len(sr.patterns), sr.hours_row, lo, hi)
    hours = np.concatenate([by_pattern, np.ones((1, len(ks)), dtype=bool)])[sr.member_pattern]
    known = ~t.unknown[sr.members]
    avail = np.logical_and(clear, hours)
    if not known.all():
        avail &= known[:, None]
    load, room_caps = _bookings(t, sr, offset, cols)
    cover = np.ones(len(ks), dtype=bool)
    need, union = 0, set()
    for role, rr in zip(sr.session.roles, sr.role_rows, strict=True):
        if not role.optional:
            cover &= avail[rr].any(axis=0) if role.count == 1 else avail[rr].sum(axis=0) >= role.count
            need += role.count
            union.update(rr.tolist())
    if need > 1 and len(sr.session.roles) > 1:
        cover &= avail[sorted(union)].sum(axis=0) >= need
    parts = None
    if keep_parts:
        parts = {"hours": hours, "free": free, "known": known, "caps": caps}
    return Slot(sr, offset, avail, load, room_caps, cover, parts)


@dataclass
class WeekLoad:
    """`booked` per member in the local ISO week of the session start, kept compact: a count per distinct
    week of the member's zone, and per zone which of those weeks each column falls in."""

    zone: np.ndarray  # (members,) row of `week` for the member's zone
    week: np.ndarray  # (zones, cols) index into the zone's distinct weeks
    counts: np.ndarray  # (members, distinct weeks)
    _cache: dict = field(default_factory=dict)

    def at(self, rows: np.ndarray, col: int) -> np.ndarray:
        return self.counts[rows, self.week[self.zone[rows], col]]

    def segments(self, rows: np.ndarray, sub: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
        """(first, last + 1, positions of rows sorted by (week booked, id)) for each stretch of columns of
        `sub` over which that order does not change (it changes only where some zone's week does)."""
        starts, orders = self._stretches(rows)
        which = np.searchsorted(starts, sub, side="right") - 1
        cut = np.concatenate(([0], np.flatnonzero(which[1:] != which[:-1]) + 1, [len(sub)]))
        return [(int(a), int(b), orders[:, which[a]]) for a, b in zip(cut[:-1], cut[1:], strict=True)]

    def _stretches(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Over all columns: where each stretch starts, and the order in each (cached per role)."""
        cached = self._cache.get(id(rows))
        if cached is None or cached[0] is not rows:
            weeks = self.week[np.unique(self.zone[rows])]
            starts = np.concatenate(([0], np.flatnonzero((weeks[:, 1:] != weeks[:, :-1]).any(axis=0)) + 1))
            n = len(rows)
            keys = self.at(rows[:, None], starts[None, :]) * n + np.arange(n)[:, None]
            cached = self._cache[id(rows)] = (rows, starts, np.argsort(keys, axis=0, kind="stable"))
        return cached[1], cached[2]

    def order(self, rows: np.ndarray, sub: np.ndarray) -> np.ndarray | None:
        """(len(rows), len(sub)) positions of rows sorted by (week booked, id) per column of `sub`; None
        when that is the id order everywhere."""
        if not self.counts[rows].any():
            return None
        segments = self.segments(rows, sub)
        return np.repeat(np.stack([o for _, _, o in segments], axis=1), [b - a for a, b, _ in segments], axis=1)


def key_order(slot: Slot, rows: np.ndarray, sub: np.ndarray) -> np.ndarray | None:
    """The greedy walk's member order for a role (see WeekLoad.order)."""
    return None if slot.load is None else slot.load.order(rows, sub)


def _bookings(t: Tables, sr: SessionRows, offset: int, cols: np.ndarray | None) -> tuple:
    """The week load of the members (None when nobody has a booked interview) and the capped rooms'
    calendars: per column, the local day, `booked` that day, the local week and `booked` that week."""
    members = sr.members
    room_caps = {}
    for i in np.flatnonzero(sr.capped & t.is_room[members]).tolist():
        days = t.local_days(sr.zones[sr.zone[i]], offset)
        if cols is not None:
            days = days[cols]
        weeks = week_of(days)
        room = members[i:i + 1]
        room_caps[i] = (days, _count(t.booked_days, room, (days - t.day0)[None, :])[0], weeks,
                        _count(t.booked_weeks, room, (weeks - t.day0)[None, :])[0])
    if sr.week_counts is None:
        return None, room_caps
    week = np.stack([t.local_weeks(z, offset) if cols is None else t.local_weeks(z, offset)[cols] for z in sr.zones])
    return WeekLoad(sr.zone, week, sr.week_counts), room_caps


def _count(keys: np.ndarray, rows: np.ndarray, days: np.ndarray) -> np.ndarray:
    """(len(rows), days.shape[1]): how many keys equal row * _KEY + day."""
    q = rows[:, None] * _KEY + days
    return np.searchsorted(keys, q, side="right") - np.searchsorted(keys, q, side="left")
