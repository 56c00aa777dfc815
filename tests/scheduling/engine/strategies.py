"""Hypothesis strategies for small, valid solver problems (few resources, short windows, DST dates)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import strategies as st

ZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "Asia/Tokyo"]
# Days around the 2026 transitions of New York, London and Sydney, and two ordinary ones.
DATES = ["2026-03-07", "2026-03-28", "2026-04-04", "2026-10-03", "2026-10-24", "2026-10-31", "2026-06-14",
         "2026-12-27"]
TIMES = ["00:00", "01:30", "02:00", "02:30", "03:00", "06:00", "08:00", "09:00", "12:00", "13:00", "17:00",
         "19:30", "22:00", "23:00"]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@st.composite
def working_hours(draw):
    out = {}
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        if draw(st.integers(0, 3)):
            a, b = sorted(draw(st.lists(st.sampled_from(TIMES + ["24:00"]), min_size=2, max_size=2, unique=True)))
            if a == "24:00":
                continue
            out[day] = [[a, b]]
            if draw(st.integers(0, 3)) == 0:
                c = draw(st.sampled_from(TIMES))
                if c < a:
                    out[day].append([c, a])  # touching ranges: never joined
    return out


@st.composite
def resource(draw, w0: datetime, hours: int, room: bool):
    def moment(lo_h=-6, hi_h=None):
        return w0 + timedelta(minutes=15 * draw(st.integers(lo_h * 4, (hi_h or hours + 6) * 4)))

    r = {"timezone": draw(st.sampled_from(ZONES))}
    if room:
        r["kind"] = "room"
    if draw(st.booleans()):
        r["working_hours"] = draw(working_hours())
    busy = []
    for _ in range(draw(st.integers(0, 4))):
        a = moment()
        busy.append([iso(a), iso(a + timedelta(minutes=15 * draw(st.integers(1, 12))))])
    r["busy"] = busy
    if draw(st.integers(0, 2)):
        r["booked"] = [iso(moment(-48, hours + 48)) for _ in range(draw(st.integers(1, 4)))]
    if not room and draw(st.integers(0, 3)) == 0:
        r["buffer_minutes"] = draw(st.sampled_from([0, 5, 20]))
    if draw(st.integers(0, 2)) == 0:
        r["max_per_day"] = draw(st.integers(0, 3))
    if draw(st.integers(0, 3)) == 0:
        r["max_per_week"] = draw(st.integers(1, 5))
    if draw(st.integers(0, 12)) == 0:
        r["calendar_unknown"] = True
    return r


@st.composite
def problems(draw, max_resources: int = 5, max_sessions: int = 3):
    day = draw(st.sampled_from(DATES))
    w0 = datetime.fromisoformat(day + "T00:00:00+00:00") + timedelta(hours=draw(st.integers(0, 23)))
    hours = draw(st.integers(6, 40))
    step = draw(st.sampled_from([15, 30, 60]))
    n_res = draw(st.integers(2, max_resources))
    ids = [f"r{i}" for i in range(n_res)]
    rooms = {rid for rid in ids if draw(st.integers(0, 4)) == 0}
    resources = {rid: draw(resource(w0, hours, rid in rooms)) for rid in ids}
    sessions = []
    for k in range(draw(st.integers(1, max_sessions))):
        roles = []
        if k == 0 or draw(st.integers(0, 3)):
            for _ in range(draw(st.integers(1, 3))):
                pool = draw(st.lists(st.sampled_from(ids), min_size=1 + (len(ids) > 2), max_size=3, unique=True))
                role = {"pool": pool}
                if draw(st.integers(0, 4)) == 0:
                    role["count"] = 2
                if draw(st.integers(0, 3)) == 0:
                    role["optional"] = True
                roles.append(role)
        sessions.append({"id": f"s{k}", "duration_minutes": draw(st.sampled_from([15, 30, 45, 60, 90])),
                         "roles": roles})
    problem = {
        "now": iso(w0 + timedelta(hours=draw(st.integers(-30, 6)))),
        "window": {"start": iso(w0), "end": iso(w0 + timedelta(hours=hours))},
        "step_minutes": step,
        "min_notice_minutes": draw(st.sampled_from([0, 60, 1440])),
        "buffer_minutes": draw(st.sampled_from([0, 10, 15])),
        "gap_minutes": draw(st.sampled_from([0, 0, 10, 15])),
        "order": draw(st.sampled_from(["fixed", "any"])),
        "max_options": draw(st.sampled_from([1, 3, 5000, 5000])),
        "resources": resources,
        "sessions": sessions,
    }
    if draw(st.integers(0, 3)) == 0:
        a = w0 + timedelta(hours=draw(st.integers(0, hours)))
        problem["candidate"] = {"timezone": "America/New_York",
                                "available": [[iso(a), iso(a + timedelta(hours=draw(st.integers(1, 12))))]]}
    return problem


def _open_calendars(problem: dict) -> dict:
    """The same problem with everyone working around the clock and no busy time, so that the choice
    among free pool members (load balancing, shadows, rooms) decides the result."""
    for r in problem["resources"].values():
        r.pop("working_hours", None)
        r["busy"] = r["busy"][:1]
    return problem


def open_problems(**kwargs):
    return problems(**kwargs).map(_open_calendars)


def _crowded(problem: dict) -> dict:
    """Order "any" with every session drawing one person from a small shared group: most starts need the
    exact search, the relaxed matching and Hall's condition to be decided."""
    people = [rid for rid, r in problem["resources"].items() if r.get("kind") != "room"] or ["r0"]
    problem["order"] = "any"
    problem["max_options"] = 5000
    problem["step_minutes"] = 30
    problem["min_notice_minutes"] = 0
    start = datetime.fromisoformat(problem["window"]["start"])
    problem["window"]["end"] = iso(start + timedelta(hours=48))
    problem.pop("candidate", None)
    for r in problem["resources"].values():
        r.pop("working_hours", None)
        r.pop("max_per_day", None)
        r.pop("calendar_unknown", None)
        r["kind"] = "person"
    for k, s in enumerate(problem["sessions"]):
        s["roles"] = [{"pool": sorted({people[k % len(people)], people[(k + 1) % len(people)]})}]
    return problem


def crowded_problems():
    return problems(max_resources=4, max_sessions=4).map(_crowded)
