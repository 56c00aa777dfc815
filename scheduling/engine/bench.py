"""Benchmark of solve() on seeded, realistic workloads: `python -m scheduling.engine.bench [--quick]`.

Workloads (each resource gets working hours in its zone, busy blocks covering about half of them, some
of those blocks listed as `booked` interviews, and day and week caps):

- standard fixed / any: 4 interviews of 45-60 min and a 45-min lunch third; each interview takes 1 of a
  pool of 20, an optional shadow from a pool of 5 and a room from 10; 120 resources in 3 zones; 14-day
  window, 15-min step, buffer 10, max_options 5000;
- large: 8 sessions (7 interviews and lunch), pools of 50, 500 resources, 31-day window, 5-min step;
- org-wide: 200 different standard problems back to back.

For each it also times the irreducible work: parsing every busy interval with `datetime.fromisoformat`
and building each resource's busy mask on a minute grid with a NumPy difference array and `cumsum`, and
prints solver / irreducible: the median over rounds of the two times of a round. The two are timed
alternately, round after round, so that a machine busy with other work slows both alike (the ratio of
the two p50s is printed beside it). Peak memory is tracemalloc's peak during one solve().
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

import numpy as np

from . import solve

ZONES = ("America/New_York", "Europe/London", "Asia/Kolkata")
# Offsets that hold in the benchmark windows (December: no daylight saving in these three zones).
ZONE_OFFSET = {"America/New_York": -5, "Europe/London": 0, "Asia/Kolkata": 5.5}
HOURS = ([["09:00", "17:30"]], [["08:00", "16:30"]], [["09:00", "12:00"], ["13:00", "17:30"]],
         [["10:00", "18:30"]])
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _person(rng: random.Random, zone: str, start: datetime, days: int) -> dict:
    """Working hours, busy blocks over about half of them, some of them booked interviews, and caps."""
    hours = rng.choice(HOURS)
    busy, booked = [], []
    for d in range(-3, days + 3):
        day = start + timedelta(days=d)
        if day.weekday() >= 5:
            continue
        for a, b in hours:
            lo = day.replace(hour=int(a[:2]), minute=int(a[3:])) - timedelta(hours=ZONE_OFFSET[zone])
            hi = day.replace(hour=int(b[:2]), minute=int(b[3:])) - timedelta(hours=ZONE_OFFSET[zone])
            t = lo
            while t < hi:
                length = timedelta(minutes=rng.choice((30, 45, 60, 90)))
                if rng.random() < 0.5:
                    busy.append([_iso(t), _iso(min(t + length, hi))])
                    if rng.random() < 0.15:
                        booked.append(_iso(t))
                t += length
    rng.shuffle(busy)
    return {"timezone": zone, "working_hours": {w: hours for w in WEEKDAYS}, "busy": busy, "booked": booked,
            "max_per_day": rng.choice((2, 3)), "max_per_week": rng.randint(6, 10)}


def _room(rng: random.Random, zone: str, start: datetime, days: int) -> dict:
    busy = []
    for d in range(days):
        for _ in range(3):
            t = start + timedelta(days=d, hours=rng.randint(8, 18), minutes=rng.choice((0, 15, 30, 45)))
            busy.append([_iso(t), _iso(t + timedelta(minutes=rng.choice((30, 60))))])
    return {"kind": "room", "timezone": zone, "working_hours": {w: [["07:00", "20:00"]] for w in WEEKDAYS},
            "busy": busy}


def make_problem(seed: int, *, size: str = "standard", order: str = "fixed") -> dict:
    """A seeded workload; size is "standard" or "large"."""
    rng = random.Random(seed)
    large = size == "large"
    days, step = (31, 5) if large else (14, 15)
    n_people, n_trainees, n_rooms = (430, 10, 60) if large else (100, 10, 10)
    pool, interviews = (50, 7) if large else (20, 4)
    start = datetime(2026, 11, 30, tzinfo=UTC) + timedelta(days=rng.randint(0, 6))
    resources = {}
    for i in range(n_people + n_trainees):
        rid = f"p{i:03d}" if i < n_people else f"t{i - n_people:02d}"
        resources[rid] = _person(rng, ZONES[i % 3], start, days)
    for i in range(n_rooms):
        resources[f"room-{i:02d}"] = _room(rng, ZONES[i % 3], start, days)
    people = [f"p{i:03d}" for i in range(n_people)]
    trainees = [f"t{i:02d}" for i in range(n_trainees)]
    rooms = [f"room-{i:02d}" for i in range(n_rooms)]
    sessions = []
    for k in range(interviews):
        sessions.append({"id": f"interview-{k + 1}", "duration_minutes": rng.choice((45, 60)), "roles": [
            {"pool": rng.sample(people, pool), "count": 1},
            {"pool": rng.sample(trainees, 5), "count": 1, "optional": True},
            {"pool": rng.sample(rooms, min(pool, n_rooms)) if large else rooms, "count": 1}]})
        if k == 1:
            sessions.append({"id": "lunch", "duration_minutes": 45, "roles": []})
    return {"now": _iso(start - timedelta(days=1)), "window": {"start": _iso(start),
                                                              "end": _iso(start + timedelta(days=days))},
            "step_minutes": step, "min_notice_minutes": 1440, "buffer_minutes": 10, "gap_minutes": 0,
            "order": order, "max_options": 5000, "resources": resources, "sessions": sessions}


def irreducible(problem: dict) -> None:
    """Parse every busy interval and build each resource's busy mask on a minute grid."""
    w0 = datetime.fromisoformat(problem["window"]["start"])
    w1 = datetime.fromisoformat(problem["window"]["end"])
    minute = timedelta(minutes=1)
    n = (w1 - w0) // minute
    for r in problem["resources"].values():
        lo = [(datetime.fromisoformat(a) - w0) // minute for a, _ in r["busy"]]
        hi = [-((w0 - datetime.fromisoformat(b)) // minute) for _, b in r["busy"]]
        lo = np.clip(lo, 0, n)
        hi = np.clip(hi, 0, n)
        diff = np.bincount(lo, minlength=n + 1) - np.bincount(hi, minlength=n + 1)
        np.cumsum(diff)[:n] > 0  # noqa: B015 - the mask is the work being timed


def _timed(fn, arg) -> float:
    t = time.perf_counter()
    fn(arg)
    return time.perf_counter() - t


def _peak(problem: dict) -> float:
    tracemalloc.start()
    try:
        solve(problem)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def run(name: str, problems: list[dict], repeat: int) -> None:
    """Prints p50/p95 of solve() and of the irreducible work over `repeat` rounds of `problems`."""
    solve_t, base_t = [], []
    found = len(solve(problems[0])["options"])
    for _ in range(repeat):
        for p in problems:
            solve_t.append(_timed(solve, p))
            base_t.append(_timed(irreducible, p))
    p50, p95 = statistics.median(solve_t), _p95(solve_t)
    b50 = statistics.median(base_t)
    # The ratio is the median of the ratios of the two runs of each round: run back to back, they see the
    # machine in the same state, where the two p50s may come from different stretches of a busy machine.
    ratio = statistics.median(a / b for a, b in zip(solve_t, base_t, strict=True))
    print(f"{name:<16} p50 {p50 * 1e3:8.1f} ms  p95 {p95 * 1e3:8.1f} ms  options {found:5d}  "
          f"irreducible p50 {b50 * 1e3:7.1f} ms  ratio {ratio:5.2f} (of p50s {p50 / b50:4.2f})  "
          f"peak {_peak(problems[0]):6.1f} MB")


def _p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--quick", action="store_true", help="fewer rounds, for a smoke run")
    quick = args.parse_args(argv).quick
    reps = 3 if quick else 31
    run("standard fixed", [make_problem(1)], reps)
    run("standard any", [make_problem(1, order="any")], reps)
    run("large", [make_problem(2, size="large")], max(2, reps // 3))
    org = [make_problem(1000 + i) for i in range(20 if quick else 200)]
    t = time.perf_counter()
    total_options = sum(len(solve(p)["options"]) for p in org)
    solver = time.perf_counter() - t
    t = time.perf_counter()
    for p in org:
        irreducible(p)
    base = time.perf_counter() - t
    print(f"{'org-wide':<16} {len(org)} problems in {solver:6.2f} s  options {total_options}  "
          f"irreducible {base:5.2f} s  ratio {solver / base:5.2f}")


if __name__ == "__main__":
    main()
