"""What the benchmark measures, while it runs and afterwards.

While it runs, `Sampler` (a thread) reads, every second, the CPU time of each part of the stack from /proc (the
gunicorn, qcluster and fake process groups, the PostgreSQL backends serving the benchmark's database, this
process, which is the load generator), the whole machine's CPU from /proc/stat (the rest is other people's work on
a shared machine), and the task queue's length. `TaskLog` keeps a copy of every django-q2 result row through a
trigger (django-q2 itself keeps only the last 250 successes), so that task durations can be summed per function.

Afterwards, `Figures` reads the database, the fakes' `/_fake/state` and `/_fake/requests` and the mail fake's
messages for the printed figures, and two counts that must be zero seen from the interviewers' calendars (nobody's
calendar holds two interviews at once, nor an interview over their own busy time); the other counts that must be
zero are `scheduling.faults.ledger`'s, shared with the fault tests.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from scheduling.benchtools import percentile

__all__ = ["Sampler", "TaskLog", "Figures", "access_times", "overlaps", "rate", "peak", "postgres_backends",
           "cluster_processes"]

TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------------------------
# CPU and queue, sampled


def _proc_table() -> dict[int, tuple[int, int, int]]:
    """{pid: (parent pid, process group, utime + stime in ticks)} of every process."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2:].split()
        # after the command: state, ppid, pgrp, session, tty, tpgid, flags, minflt, cminflt, majflt, cmajflt,
        # utime, stime
        out[int(entry.name)] = (int(fields[1]), int(fields[2]), int(fields[11]) + int(fields[12]))
    return out


def _machine() -> tuple[int, int]:
    """(busy ticks, all ticks) of the whole machine since boot."""
    with open("/proc/stat") as f:
        parts = [int(v) for v in f.readline().split()[1:9]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


@dataclass
class Sample:
    at: float                    # time.time()
    cpu: dict[str, float]        # cumulative CPU seconds per part since the sampler started
    machine_busy: float          # cumulative busy CPU seconds of the whole machine since then
    queue: int                   # task queue length (-1: unknown)


class Sampler(threading.Thread):
    """Samples CPU per part and the queue length every `interval` seconds until `stop()`.

    `parts()` returns {part name: (process group ids, extra pids)}, asked at each sample (a worker restarted
    has a new group; PostgreSQL backends come and go). A process seen at the first sample counts from there;
    one that appears later counts from its start (all of its life is inside the run)."""

    def __init__(self, parts: Callable[[], dict[str, tuple[set[int], set[int]]]], queue: Callable[[], int],
                 interval: float = 1.0):
        super().__init__(daemon=True, name="bench-sampler")
        self.parts_fn, self.queue_fn, self.interval = parts, queue, interval
        self.samples: list[Sample] = []
        self._halt = threading.Event()
        self._last: dict[int, int] = {}
        self._totals: dict[str, float] = defaultdict(float)
        self._machine0: int | None = None
        self._baseline = True

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)
        self.sample()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)

    def sample(self) -> None:
        try:
            parts = self.parts_fn()
        except Exception:  # noqa: BLE001 - a part that cannot be listed now (the database restarting) waits
            parts = {}
        table = _proc_table()
        for name, (groups, pids) in parts.items():
            for pid, (_ppid, pgrp, ticks) in table.items():
                if pgrp in groups or pid in pids:
                    before = self._last.get(pid, ticks if self._baseline else 0)
                    self._totals[name] += max(0, ticks - before) / TICKS
                    self._last[pid] = ticks
        self._baseline = False
        busy, _ = _machine()
        if self._machine0 is None:
            self._machine0 = busy
        try:
            queue = self.queue_fn()
        except Exception:  # noqa: BLE001
            queue = -1
        self.samples.append(Sample(time.time(), dict(self._totals), (busy - self._machine0) / TICKS, queue))

    def between(self, start: float, end: float) -> tuple[dict[str, float], float, float]:
        """(CPU seconds per part, the machine's busy CPU seconds, wall seconds) between two instants."""
        if not self.samples:
            return {}, 0.0, 0.0
        a = min(self.samples, key=lambda s: abs(s.at - start))
        b = min(self.samples, key=lambda s: abs(s.at - end))
        names = set(a.cpu) | set(b.cpu)
        return ({n: b.cpu.get(n, 0.0) - a.cpu.get(n, 0.0) for n in names}, b.machine_busy - a.machine_busy,
                max(b.at - a.at, 1e-9))

    def max_queue(self, start: float, end: float) -> int:
        return max((s.queue for s in self.samples if start <= s.at <= end), default=0)


def postgres_backends(database_url: str) -> Callable[[], set[int]]:
    """A function listing the pids of the server processes serving the database of `database_url` (its own
    connection, reopened after a restart)."""
    state: dict[str, psycopg.Connection | None] = {"conn": None}
    name = psycopg.conninfo.conninfo_to_dict(database_url).get("dbname")

    def pids() -> set[int]:
        conn = state["conn"]
        try:
            if conn is None or conn.closed:
                conn = state["conn"] = psycopg.connect(database_url, autocommit=True, connect_timeout=3)
            return {r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))}
        except psycopg.Error:
            state["conn"] = None
            return set()

    return pids


def cluster_processes(data_dir: Path) -> Callable[[], set[int]]:
    """A function listing a private cluster's postmaster (from `postmaster.pid`) and every process it forked."""

    def pids() -> set[int]:
        try:
            leader = int((data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return set()
        return {leader} | {pid for pid, (ppid, _, _) in _proc_table().items() if ppid == leader}

    return pids


# ---------------------------------------------------------------------------------------------------------------
# Task durations


class TaskLog:
    """A copy of every django-q2 task row (`django_q_task`) as it is written, in `bench_task_log`."""

    SETUP = """
    CREATE TABLE IF NOT EXISTS bench_task_log (id varchar(32) PRIMARY KEY, func text, grp text,
        started timestamptz, stopped timestamptz, success boolean);
    CREATE OR REPLACE FUNCTION bench_task_log_copy() RETURNS trigger AS $$
    BEGIN
        INSERT INTO bench_task_log VALUES (NEW.id, NEW.func, NEW."group", NEW.started, NEW.stopped, NEW.success)
        ON CONFLICT (id) DO UPDATE SET stopped = EXCLUDED.stopped, success = EXCLUDED.success;
        RETURN NEW;
    END $$ LANGUAGE plpgsql;
    DROP TRIGGER IF EXISTS bench_task_log_copy ON django_q_task;
    CREATE TRIGGER bench_task_log_copy AFTER INSERT OR UPDATE ON django_q_task
        FOR EACH ROW EXECUTE FUNCTION bench_task_log_copy();
    """

    @classmethod
    def install(cls, sql: Callable) -> None:
        sql(cls.SETUP)

    @staticmethod
    def summary(sql: Callable) -> list[tuple[str, int, int, float, float]]:
        """(function, tasks, failed, p50 seconds, p95 seconds), the most frequent first. django-q2 stamps `started`
        when the task is queued and `stopped` when its result is saved: the time includes the wait in the queue."""
        rows = sql("""
            SELECT func, count(*), count(*) FILTER (WHERE NOT success),
                   coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM stopped - started)), 0),
                   coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM stopped - started)), 0)
            FROM bench_task_log GROUP BY func ORDER BY 2 DESC""")
        return [(f, int(n), int(bad), float(p50), float(p95)) for f, n, bad, p50, p95 in rows]


# ---------------------------------------------------------------------------------------------------------------
# Helpers


_ACCESS = re.compile(r'^\S+ "(?P<method>[A-Z]+) (?P<path>\S+)" (?P<status>\d{3}) (?P<ms>\d+)ms$')


def access_times(path: Path) -> list[tuple[str, str, int, float]]:
    """(method, path, status, seconds) of each line of gunicorn's access log in devstack's format."""
    out = []
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return out
    for line in lines:
        m = _ACCESS.match(line.strip())
        if m:
            out.append((m["method"], m["path"], int(m["status"]), int(m["ms"]) / 1000))
    return out


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def overlaps(spans: Iterable[tuple[dt.datetime, dt.datetime]]) -> int:
    """How many spans start before the latest end of the spans before them (sorted by start)."""
    count, latest = 0, None
    for start, end in sorted(spans):
        if latest is not None and start < latest:
            count += 1
        latest = end if latest is None else max(latest, end)
    return count


def rate(times: list[float]) -> tuple[int, float, float]:
    """(count, seconds from first to last, per second) of a list of instants."""
    if not times:
        return 0, 0.0, 0.0
    span = max(times) - min(times)
    return len(times), span, (len(times) / span if span > 0 else float(len(times)))


def peak(times: list[float], window: float = 10.0) -> float:
    """The highest rate per second over any `window` seconds of a list of instants."""
    ordered, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(ordered):
        while t - ordered[lo] > window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best / window


def _event_span(event: dict) -> tuple[dt.datetime, dt.datetime] | None:
    try:
        return _when(event["start"]["dateTime"]), _when(event["end"]["dateTime"])
    except (KeyError, TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------------------------
# The figures


@dataclass
class Figures:
    """Everything read after the run for the report; `zero` holds the calendar-side counts that must be zero."""

    requests: int = 0
    request_states: dict[str, int] = field(default_factory=dict)
    created_rate: tuple[int, float, float] = (0, 0.0, 0.0)
    link_latency: list[float] = field(default_factory=list)
    links_after_jump: int = 0    # links sent after the clock was moved (their wait was compressed)
    links_emailed: int = 0       # candidates with a link in the mail fake
    links_twice: int = 0         # link emails beyond one per candidate (SMTP is at least once by nature)
    calendar_writes: list[float] = field(default_factory=list)
    ats_writes: list[float] = field(default_factory=list)
    ats_reads: int = 0
    outbox_states: dict[str, int] = field(default_factory=dict)
    inbound_states: dict[str, int] = field(default_factory=dict)
    zero: dict[str, int] = field(default_factory=dict)

    @classmethod
    def read(cls, *, sql: Callable, google, greenhouse, mail, organiser: str, moved: dict[str, float],
             emails: set[str], jumps: Iterable[tuple[float, float]] = ()) -> Figures:
        """`moved`: {application external id: webhook send time}; `emails`: the candidates' addresses;
        `jumps`: (real time, seconds the stack's clock was ahead of the real time from then on), one per move of
        the clock, so that times the stack stamped after a move are read as real times."""
        f = cls()
        f._requests(sql, moved, sorted(jumps))
        f._work(sql)
        f._mail(mail, emails)
        f._calendar(google.state(), google.requests(), organiser)
        f._ats(greenhouse.requests())
        return f

    def _requests(self, sql: Callable, moved: dict[str, float], jumps: list[tuple[float, float]]) -> None:
        rows = sql("SELECT a.external_id, r.state, extract(epoch FROM r.created_at), "
                   "extract(epoch FROM r.link_sent_at) FROM scheduling_schedulingrequest r "
                   "JOIN scheduling_application a ON a.id = r.application_id")
        self.requests = len(rows)
        for _, state, _, _ in rows:
            self.request_states[state] = self.request_states.get(state, 0) + 1
        created = [float(c) for _, _, c, _ in rows]  # auto_now_add: the real time, whatever the stack's clock
        if moved and created:
            span = max(created) - min(moved.values())
            self.created_rate = (len(created), span, len(created) / span if span > 0 else float(len(created)))
        for ext, _, _, link_sent in rows:
            if link_sent is not None and ext in moved:
                stamped, offset = float(link_sent), 0.0
                for real, ahead in jumps:
                    if stamped >= real + ahead:
                        offset = ahead
                self.link_latency.append(stamped - offset - moved[ext])
                self.links_after_jump += offset > 0

    def _work(self, sql: Callable) -> None:
        self.outbox_states = {s: int(n) for s, n in sql("SELECT state, count(*) FROM scheduling_outboxitem "
                                                        "GROUP BY state")}
        self.inbound_states = {s: int(n) for s, n in sql("SELECT state, count(*) FROM scheduling_inboundevent "
                                                         "GROUP BY state")}

    def _mail(self, mail, emails: set[str]) -> None:
        from scheduling.morning.load import links_from_mail

        per: dict[str, int] = defaultdict(int)
        for m in mail.state()["messages"]:
            if links_from_mail([m], emails):
                for to in m.get("to") or []:
                    per[to.lower()] += 1
        self.links_emailed = len(per)
        self.links_twice = sum(n - 1 for n in per.values() if n > 1)

    def _calendar(self, state: dict, log: list[dict], organiser: str) -> None:
        double, over_busy = 0, 0
        for cal_id, cal in (state.get("calendars") or {}).items():
            if cal_id == organiser:
                continue
            spans = [s for s in (_event_span(e) for e in cal.get("events") or [] if e.get("status") != "cancelled")
                     if s is not None]
            double += overlaps(spans) > 0
            busy = [(_when(a), _when(b)) for a, b in cal.get("busy") or []]
            over_busy += sum(1 for s in spans if any(a < s[1] and s[0] < b for a, b in busy))
        self.zero["interviewers with two interviews at once (their calendars)"] = double
        self.zero["interviews on an interviewer's own busy time (their calendars)"] = over_busy
        writes = [e for e in log if e.get("method") in ("POST", "PATCH", "PUT", "DELETE")
                  and "/events" in e.get("path", "") and (e.get("status") or 0) < 300]
        self.calendar_writes = [_when(e["time"]).timestamp() for e in writes]

    def _ats(self, log: list[dict]) -> None:
        writes = [e for e in log if e.get("method") == "POST" and (e.get("path") == "/v3/notes"
                                                                   or e.get("path", "").endswith("/move"))
                  and (e.get("status") or 0) < 300]
        self.ats_writes = [_when(e["time"]).timestamp() for e in writes]
        self.ats_reads = sum(1 for e in log if e.get("method") == "GET" and e.get("path", "").startswith("/v3/"))

    def latency(self) -> tuple[float, float, float]:
        """(p50, p95, max) seconds from a webhook's send time to its link email."""
        values = self.link_latency
        return percentile(values, 50), percentile(values, 95), max(values, default=float("nan"))


# ---------------------------------------------------------------------------------------------------------------
# What one recompute costs (inside the stack's environment: `Stack.call("scheduling.morning.measure.probe")`)


def probe(*, samples: int = 5) -> dict:
    """Time, on the database as the run left it, what the task queued after each booking does
    (`scheduling.tasks.recompute_options`): find the open requests involving the booked people
    (`requests_involving`, which reads every open request's stored options), then re-solve each of them
    (`problem_build` and `solve`, without storing the result). Returns seconds and sizes; {} without a booking."""
    from django.db import connection

    from scheduling import clock
    from scheduling.engine import solve
    from scheduling.models import SchedulingRequest, SessionParticipant
    from scheduling.problem_builder import problem_build
    from scheduling.recompute import OPEN_STATES, requests_involving

    booked = SessionParticipant.objects.filter(active=True).order_by("-id").values_list("interviewer_id", flat=True)
    people = list(booked[:4])
    if not people:
        return {}
    with connection.cursor() as cur:
        cur.execute("SELECT count(*), coalesce(sum(pg_column_size(options)), 0) FROM scheduling_schedulingrequest "
                    "WHERE state = ANY(%s)", ([str(s) for s in OPEN_STATES],))
        open_requests, stored_bytes = cur.fetchone()
    started = time.perf_counter()
    involved = requests_involving(interviewer_ids=people)
    find = time.perf_counter() - started
    build = run = 0.0
    chosen = list(SchedulingRequest.objects.filter(pk__in=involved[:samples]).select_related("plan"))
    for request in chosen:
        t0 = time.perf_counter()
        built = problem_build(plan=request.plan, now=clock.now(), max_options=5000)
        t1 = time.perf_counter()
        solve(built.problem)
        build, run = build + t1 - t0, run + time.perf_counter() - t1
    n = max(len(chosen), 1)
    return {"open_requests": int(open_requests), "stored_mb": int(stored_bytes) / 1e6, "find_s": find,
            "involved": len(involved), "build_s": build / n, "solve_s": run / n}
