"""A brute-force reading of the engine contract, for tests only.

Shares no code with scheduling.engine: it reads the raw problem dict with datetime.fromisoformat and
zoneinfo, checks busy time minute by minute, and enumerates every start, every ordering and every
assignment. Slow on purpose and only meant for small problems. It assumes a valid problem.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from itertools import combinations, permutations
from zoneinfo import ZoneInfo

ONE_MIN = timedelta(minutes=1)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def z(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


class Oracle:
    def __init__(self, problem: dict):
        self.p = problem
        self.w0 = instant(problem["window"]["start"])
        self.w1 = instant(problem["window"]["end"])
        self.now = instant(problem["now"])
        self.step = problem.get("step_minutes", 15)
        self.notice = problem.get("min_notice_minutes", 0)
        self.buffer = problem.get("buffer_minutes", 0)
        self.gap = problem.get("gap_minutes", 0)
        self.order = problem.get("order", "fixed")
        self.res = problem["resources"]
        self.sessions = problem["sessions"]
        self._sit: dict = {}
        self._busy_minutes = {rid: self._minutes(r.get("busy", [])) for rid, r in self.res.items()}

    # ---- rules for one resource in one session -------------------------------------------------
    def _minutes(self, busy: list) -> set[int]:
        """Every whole minute (of the window-start grid) that some busy interval overlaps."""
        out = set()
        for a, b in busy:
            s, e = instant(a), instant(b)
            m = (s - self.w0) // ONE_MIN
            while self.w0 + m * ONE_MIN < e:
                if self.w0 + (m + 1) * ONE_MIN > s:
                    out.add(m)
                m += 1
        return out

    def is_room(self, rid: str) -> bool:
        return self.res[rid].get("kind", "person") == "room"

    def can_sit(self, rid: str, a: datetime, b: datetime) -> bool:
        key = (rid, a, b)
        if key not in self._sit:
            self._sit[key] = self._can_sit(rid, a, b)
        return self._sit[key]

    def _can_sit(self, rid: str, a: datetime, b: datetime) -> bool:
        r = self.res[rid]
        if r.get("calendar_unknown"):
            return False
        buf = 0 if self.is_room(rid) else r.get("buffer_minutes", self.buffer)
        first = (a - self.w0) // ONE_MIN - buf
        last = (b - self.w0) // ONE_MIN + buf
        busy = self._busy_minutes[rid]
        if any(m in busy for m in range(first, last)):
            return False
        hours = r.get("working_hours")
        if hours is None:
            return True
        zone = ZoneInfo(r["timezone"])
        day = a.astimezone(zone).date()
        for lo, hi in hours.get(DAYS[day.weekday()], []):
            start = datetime.combine(day, time.fromisoformat(lo), zone)
            if hi == "24:00":
                end = datetime.combine(day + timedelta(days=1), time(0, 0), zone)
            else:
                end = datetime.combine(day, time.fromisoformat(hi), zone)
            if start <= a and b <= end:
                return True
        return False

    def week_booked(self, rid: str, a: datetime) -> int:
        zone = ZoneInfo(self.res[rid]["timezone"])
        week = a.astimezone(zone).isocalendar()[:2]
        return sum(instant(x).astimezone(zone).isocalendar()[:2] == week for x in self.res[rid].get("booked", []))

    def caps_ok(self, rid: str, starts: list[datetime]) -> bool:
        r = self.res[rid]
        zone = ZoneInfo(r["timezone"])
        days = [x.astimezone(zone).date() for x in starts + [instant(b) for b in r.get("booked", [])]]
        mine = [x.astimezone(zone).date() for x in starts]
        for d in mine:
            if "max_per_day" in r and days.count(d) > r["max_per_day"]:
                return False
            week = d.isocalendar()[:2]
            if "max_per_week" in r and sum(x.isocalendar()[:2] == week for x in days) > r["max_per_week"]:
                return False
        return True

    # ---- loops -----------------------------------------------------------------------------------
    def orders(self) -> list[tuple[int, ...]]:
        n = len(self.sessions)
        if self.order == "fixed":
            return [tuple(range(n))]
        places = [i for i, s in enumerate(self.sessions) if s["roles"]]
        out = []
        for perm in permutations(places):
            order = list(range(n))
            for place, idx in zip(places, perm, strict=True):
                order[place] = idx
            out.append(tuple(order))
        return out

    def times(self, t: datetime, order: tuple[int, ...]) -> list[tuple[datetime, datetime]]:
        out, at = [], t
        for idx in order:
            end = at + timedelta(minutes=self.sessions[idx]["duration_minutes"])
            out.append((at, end))
            at = end + timedelta(minutes=self.gap)
        return out

    def starts(self) -> list[datetime]:
        """Every grid start that keeps rules 2 and 3."""
        out, k = [], 0
        length = sum(s["duration_minutes"] for s in self.sessions) + self.gap * (len(self.sessions) - 1)
        while True:
            t = self.w0 + timedelta(minutes=k * self.step)
            end = t + timedelta(minutes=length)
            if end > self.w1:
                return out
            k += 1
            if t < self.now + timedelta(minutes=self.notice):
                continue
            cand = self.p.get("candidate", {}).get("available")
            if cand is not None and not any(instant(a) <= t and end <= instant(b) for a, b in cand):
                continue
            out.append(t)

    def seats(self, t: datetime, order: tuple[int, ...]) -> list[tuple]:
        """(run position, role index, count, optional, candidates in key order) in the greedy seat order."""
        times = self.times(t, order)
        out = []
        for optional in (False, True):
            for i, idx in enumerate(order):
                a, b = times[i]
                for j, role in enumerate(self.sessions[idx]["roles"]):
                    if role.get("optional", False) != optional:
                        continue
                    cands = [rid for rid in role["pool"] if self.can_sit(rid, a, b)]
                    cands.sort(key=lambda rid, a=a: (self.week_booked(rid, a), rid))
                    out.append((i, j, role.get("count", 1), optional, cands))
        return out

    def first_option(self, t: datetime, order: tuple[int, ...]) -> dict | None:
        """The lexicographically first valid assignment of the required seats, then optional seats filled
        greedily: the engine's documented choice."""
        seats = self.seats(t, order)
        times = self.times(t, order)
        required = [s for s in seats if not s[3]]
        chosen: dict = {}

        def consistent() -> bool:
            return self.assignment_ok(order, times, chosen)

        def dfs(k: int) -> bool:
            if k == len(required):
                return True
            i, j, count, _, cands = required[k]
            for combo in combinations(cands, count):
                chosen[i, j] = list(combo)
                if consistent() and dfs(k + 1):
                    return True
                del chosen[i, j]
            return False

        if not dfs(0):
            return None
        for i, j, count, _, cands in [s for s in seats if s[3]]:
            picked: list[str] = []
            for rid in cands:
                chosen[i, j] = picked + [rid]
                if consistent():
                    picked.append(rid)
                if len(picked) == count:
                    break
            chosen[i, j] = picked if len(picked) == count else []
        return self.as_option(order, times, chosen)

    def assignment_ok(self, order, times, chosen: dict) -> bool:
        """Rules 6 and 7 for a partial assignment (rules 4 and 5 are in the candidate lists)."""
        sits: dict[str, list[datetime]] = {}
        for (i, _), rids in chosen.items():
            for rid in rids:
                sits.setdefault(rid, []).append(times[i][0])
        for i in range(len(order)):
            here = [rid for (q, _), rids in chosen.items() if q == i for rid in rids]
            if len(here) != len(set(here)):
                return False
        for rid, starts in sits.items():
            if not self.is_room(rid) and len(starts) > 1:
                return False
            if not self.caps_ok(rid, starts):
                return False
        return True

    def as_option(self, order, times, chosen) -> dict:
        sessions = []
        for i, idx in enumerate(order):
            s = self.sessions[idx]
            roles = [sorted(chosen.get((i, j), [])) for j in range(len(s["roles"]))]
            sessions.append({"id": s["id"], "start": z(times[i][0]), "end": z(times[i][1]), "roles": roles})
        return {"start": sessions[0]["start"], "end": sessions[-1]["end"], "sessions": sessions}

    def solve(self) -> list[tuple[tuple[int, ...], dict]]:
        """For every start with an option: (the first ordering that has one, that ordering's first option)."""
        out = []
        for t in self.starts():
            for order in self.orders():
                option = self.first_option(t, order)
                if option is not None:
                    out.append((order, option))
                    break
        return out

    # ---- whole-option rule check -----------------------------------------------------------------
    def broken(self, option: dict) -> list[str]:
        """Names of the rules an option breaks (empty when it keeps all of rules 1-8)."""
        ids = [s["id"] for s in option["sessions"]]
        by_id = {s["id"]: k for k, s in enumerate(self.sessions)}
        if sorted(ids) != sorted(by_id) or tuple(by_id[i] for i in ids) not in self.orders():
            return ["order"]
        order = tuple(by_id[i] for i in ids)
        t = instant(option["start"])
        times = self.times(t, order)
        out = []
        if t not in self.starts() or (t - self.w0) % timedelta(minutes=self.step):
            out.append("start")
        for i, s in enumerate(option["sessions"]):
            if (instant(s["start"]), instant(s["end"])) != times[i]:
                out.append("timing")
        chosen = {}
        for i, s in enumerate(option["sessions"]):
            spec = self.sessions[order[i]]
            for j, (role, held) in enumerate(zip(spec["roles"], s["roles"], strict=True)):
                count = role.get("count", 1)
                if any(rid not in role["pool"] for rid in held):
                    out.append("pool")
                if len(held) != count and not (role.get("optional") and not held):
                    out.append("count")
                if any(not self.can_sit(rid, *times[i]) for rid in held if rid in self.res):
                    out.append("free")
                chosen[i, j] = held
        if not self.assignment_ok(order, times, chosen):
            out.append("distinct-or-caps")
        return out
