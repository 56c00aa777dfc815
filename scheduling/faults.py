"""Faults to stage against a running stack (scheduling/devstack.py), and the ledger that proves afterwards that
nothing was lost and nothing done twice: for the fault tests (tests/e2e/test_faults.py) and the scale benchmark
(issue 11), which inject the same faults during its run.

- `PrivatePostgres`: a PostgreSQL cluster of one's own, made with initdb and run with pg_ctl in a temporary
  directory on a free loopback port (trust auth, fsync off), so that it can be restarted mid-flow without touching
  the machine's shared server. As root (initdb and pg_ctl refuse root), the binaries run as the `postgres` user
  through runuser. `stop()` always removes the directory; it also runs at interpreter exit, and `start()` first
  removes the clusters of owners killed outright (SIGKILL leaves no chance to clean up).
- `random_worker_kill(stack, rng=..., within=...)`: a block during which one qcluster, chosen at random, is
  SIGKILLed (with every process it forked) at a random moment; it is started again when the block ends.
- `outage(fake, target=..., count=N)`: the fake's next N matching requests answer 5xx, the N after them 429.
- `replay(fake, delivery=n, times=10)`: the same webhook delivery (same bytes, signature, event id) sent again,
  some one after another and the rest at once.
- `settle(stack)`: once the workers are quiet (`quiesce`), time moves on (the stack's clock) and the sweep runs,
  through the queue, until no outbox item or stored webhook is unfinished (`unfinished`): what the periodic sweep
  does in production every minute, without waiting for it for real.
- `ledger(stack)`: the counts that must be zero, read from the fakes' `/_fake/state` and the database: stage changes
  without a request, requests twice, events missing or written twice (per calendar, per session), notes and stage
  moves missing or twice, outbox items and stored webhooks not done, double-booked people and rooms.

Choices:
- The ledger reads the Greenhouse fake (moves, notes) and either calendar fake (Google `calendars`, Microsoft
  `mailboxes`). What is expected comes from the database's live bookings, not from what the outbox queued, so that a
  write never queued counts as missing too. Events are matched on iCalUID per calendar: any live event beyond one
  per (calendar, session) counts as written twice, whatever id it was written under. A second request for one
  application counts as twice: the flows staged here never cancel and re-enter a stage.
- Candidate emails are at least once by nature (SMTP has no idempotency key: a worker killed between the send and
  recording it sends again), so the ledger counts link emails missing, not emails twice.
- Nothing here needs Django settings: like devstack, it runs in the test process or the benchmark's driver and
  talks to the stack over HTTP and SQL. Ids only in what it returns, never candidates' names or addresses.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import datetime as dt
import os
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from scheduling.devstack import FakeHandle, Stack, StackError, free_port

__all__ = ["PrivatePostgres", "WorkerKill", "random_worker_kill", "outage", "replay", "unfinished", "quiesce", "settle",
           "MUST_BE_ZERO", "Ledger", "ledger"]


# ---------------------------------------------------------------------------------------------------------------
# A PostgreSQL cluster of one's own


def _pg_bindir() -> Path:
    """The newest installed PostgreSQL's bin directory (Debian's layout, else pg_config's)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if found:
        return found[-1].parent
    try:
        done = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10)
    except OSError:
        done = None
    if done is not None and done.returncode == 0 and (Path(done.stdout.strip()) / "initdb").exists():
        return Path(done.stdout.strip())
    raise StackError("PostgreSQL's initdb was not found (/usr/lib/postgresql/*/bin, pg_config --bindir)")


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on 127.0.0.1 (see the module docstring)::

        with PrivatePostgres() as pg:
            url = database_create(pg.url("loopwise_faults"))
            ...
            pg.restart()          # pg_ctl restart -m fast: every connection is cut
        # stopped, its directory removed

    Raises StackError (with the end of the server's log) when it cannot be made or started."""

    def __init__(self, *, port: int | None = None, user: str = "postgres"):
        self.bindir = _pg_bindir()
        self.port = port or free_port()
        # initdb and pg_ctl refuse to run as root: then they run as the server's own user.
        self.run_as = user if os.geteuid() == 0 else None
        self.workdir = Path(tempfile.mkdtemp(prefix="loopwise-pg-"))
        self.data = self.workdir / "data"
        self.log = self.workdir / "server.log"
        self.restarts = 0
        self._started = False

    def __enter__(self) -> PrivatePostgres:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.workdir,
                              stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise StackError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stdout}\n{done.stderr}\n"
                             f"{self.tail()}")
        return done

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def start(self) -> PrivatePostgres:
        """initdb (once) and start the server; returns once it accepts connections. First removes the clusters that
        processes killed outright (no atexit) left behind: those whose owner process is gone."""
        if self._started:
            return self
        self._started = True
        atexit.register(self.stop)
        self.sweep_stale()
        try:
            (self.workdir / "owner").write_text(str(os.getpid()))
            if self.run_as:
                shutil.chown(self.workdir, user=self.run_as, group=self.run_as)
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync",
                      "--no-instructions")
            with open(self.data / "postgresql.conf", "a") as conf:
                # A test server: no durability (fsync off), loopback only, its socket in its own directory.
                conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                           f"unix_socket_directories = '{self.workdir}'\nfsync = off\nsynchronous_commit = off\n"
                           "full_page_writes = off\nmax_connections = 200\n")
            self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise StackError(f"the private PostgreSQL on port {self.port} does not answer\n{self.tail()}")
                time.sleep(0.1)

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every session is ended, the server comes back on the same port."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-m", "fast", "restart")
        self.restarts += 1
        self.wait_ready()

    def stop(self) -> None:
        """Stop the server (immediate: nothing here is worth keeping) and remove its directory. Safe to call twice."""
        if self._started:
            self._started = False
            atexit.unregister(self.stop)
            try:
                if (self.data / "postmaster.pid").exists():
                    self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "30", "-m", "immediate", "stop")
            except (StackError, OSError, subprocess.TimeoutExpired):
                _kill_postmaster(self.data)
        shutil.rmtree(self.workdir, ignore_errors=True)

    @staticmethod
    def sweep_stale() -> int:
        """Stop and remove every private cluster in the temporary directory whose owner process no longer runs (a
        test run killed with SIGKILL cannot clean up after itself). Returns how many were removed."""
        removed = 0
        for owner in Path(tempfile.gettempdir()).glob("loopwise-pg-*/owner"):
            try:
                os.kill(int(owner.read_text().strip()), 0)
                continue  # its owner runs: not ours to touch
            except ProcessLookupError:
                pass
            except (OSError, ValueError):
                continue
            _kill_postmaster(owner.parent / "data")
            shutil.rmtree(owner.parent, ignore_errors=True)
            removed += 1
        return removed


def _kill_postmaster(data: Path) -> None:
    """SIGKILL the postmaster of the cluster in `data` (its backends exit when they see it gone)."""
    try:
        os.kill(int((data / "postmaster.pid").read_text().split()[0]), 9)
    except (OSError, ValueError, IndexError):
        pass


# ---------------------------------------------------------------------------------------------------------------
# Killing a worker


@dataclass
class WorkerKill:
    """What `random_worker_kill` did: which qcluster, how long after the block started, and whether work was running
    (outbox or stored webhooks claimed) at that moment."""

    index: int | None = None
    after: float | None = None
    running: int | None = None


_RUNNING = ("SELECT (SELECT count(*) FROM scheduling_outboxitem WHERE state = 'running') + "
            "(SELECT count(*) FROM scheduling_inboundevent WHERE state = 'running')")


@contextlib.contextmanager
def random_worker_kill(stack: Stack, *, rng: random.Random, within: float, busy_wait: float = 5.0
                       ) -> Iterator[WorkerKill]:
    """SIGKILL one qcluster of `stack`, chosen by `rng`, at a moment drawn from [0, within) seconds after the block
    starts (from a background thread, while the block drives work); if no work is running then (no outbox item or
    stored webhook claimed), at the first moment some is, up to `busy_wait` seconds later. When the block ends, wait
    for the kill if it has not happened yet and start the worker again (from the calling thread: a worker started
    from another thread would be stopped when that thread exits, devstack's PR_SET_PDEATHSIG)."""
    kill = WorkerKill(index=rng.randrange(len(stack.workers)))
    delay = rng.uniform(0, within)
    began = time.monotonic()

    def run() -> None:
        time.sleep(delay)
        with psycopg.connect(stack.database_url, autocommit=True, connect_timeout=10) as db:
            deadline = time.monotonic() + busy_wait
            while not (running := db.execute(_RUNNING).fetchone()[0]) and time.monotonic() < deadline:
                time.sleep(0.02)
        kill.running = running
        stack.kill_worker(kill.index)
        kill.after = time.monotonic() - began

    killer = threading.Thread(target=run, name="random-worker-kill", daemon=True)
    killer.start()
    try:
        yield kill
    finally:
        killer.join(timeout=within + busy_wait + 30)
        stack.restart_worker(kill.index)


# ---------------------------------------------------------------------------------------------------------------
# Provider faults and replays


def outage(fake: FakeHandle, *, target: str, count: int, kinds: Sequence[str] = ("error", "throttle"),
           retry_after: float = 1.0) -> list[dict]:
    """The fake's next `count` requests matching `target` (a path prefix, or a subject the fake knows) answer with
    the first kind, the `count` after them with the next: by default 5xx, then 429 with Retry-After. Returns the
    faults as the fake recorded them."""
    added = []
    for kind in kinds:
        extra = {"retry_after": retry_after} if kind == "throttle" else {}
        added.append(fake.add_fault(kind=kind, target=target, count=count, **extra))
    return added


def replay(fake: FakeHandle, *, delivery: int, times: int = 10, at_once: int | None = None) -> list[int | None]:
    """Send webhook delivery number `delivery` again `times` times through the fake's `/_fake/redeliver` (the same
    bytes, signature and event id; the Greenhouse and Lever fakes): the first `times - at_once` one after another,
    the last `at_once` (default: half) released together from as many threads. Returns Loopwise's answers."""
    at_once = times // 2 if at_once is None else at_once
    statuses: list[int | None] = []

    def once() -> None:
        for d in fake.call("POST", "/_fake/redeliver", {"delivery": delivery})["deliveries"]:
            statuses.append(d["status"])

    for _ in range(times - at_once):
        once()
    gate = threading.Barrier(at_once) if at_once else None
    failures: list[BaseException] = []

    def together() -> None:
        try:
            gate.wait(timeout=30)
            once()
        except BaseException as e:  # noqa: BLE001 - reported to the caller below
            failures.append(e)

    threads = [threading.Thread(target=together, name=f"replay-{n}") for n in range(at_once)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if failures:
        raise StackError(f"a replay failed: {failures[0]!r}")
    return statuses


# ---------------------------------------------------------------------------------------------------------------
# Letting the system catch up


_UNFINISHED = ("SELECT 'outbox', id, state, attempts FROM scheduling_outboxitem WHERE state NOT IN ('done', 'dead') "
               "UNION ALL SELECT 'inbound', id, state, attempts FROM scheduling_inboundevent "
               "WHERE state NOT IN ('done', 'dead') ORDER BY 1, 2")


def unfinished(stack: Stack) -> list[tuple]:
    """(table, id, state, attempts) of the outbox items and stored webhooks neither done nor given up."""
    return stack.sql(_UNFINISHED)


def quiesce(stack: Stack, *, quiet: float = 1.5, timeout: float = 120) -> list[tuple]:
    """Wait until the queue is empty and the unfinished work has not changed for `quiet` seconds (work a killed
    worker left `running`, or a failed write waiting for its backoff, stays as it is); returns that work."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while True:
        snapshot = (stack.queue_length(), unfinished(stack))
        if snapshot != last:
            last, since = snapshot, time.monotonic()
        elif snapshot[0] == 0 and time.monotonic() - since >= quiet:
            return snapshot[1]
        if time.monotonic() > deadline:
            raise StackError(f"the stack did not settle within {timeout:g} s: queue {snapshot[0]}, "
                             f"unfinished {snapshot[1][:20]}")
        time.sleep(0.1)


def settle(stack: Stack, *, step: dt.timedelta = dt.timedelta(minutes=11), rounds: int = 8, quiet: float = 1.5,
           timeout: float = 120) -> int:
    """Let every piece of waiting work finish as production would, without waiting for it for real: wait until the
    workers are quiet (`quiesce`); while work is still unfinished (a failed write's backoff, a row a killed worker
    left `running`, a queue message lost with it), move the stack's clock on by `step` (the default passes the
    sweep's ten minutes of staleness) and run the sweep through the queue, as its schedule would. Returns the
    sweeps it took; raises StackError when work is still unfinished after `rounds`. Call it once no provider call
    is knowingly held (a `timeout` fault), or the sweep will take that row for lost and run it a second time."""
    for n in range(rounds + 1):
        left = quiesce(stack, quiet=quiet, timeout=timeout)
        if not left:
            return n
        if n == rounds:
            break
        stack.set_clock(stack.now() + step)
        stack.run_task("scheduling.tasks.sweep_work", timeout=timeout)
    rows = stack.sql("SELECT 'outbox', id, kind, state, attempts, left(last_error, 200) FROM scheduling_outboxitem "
                     "WHERE state NOT IN ('done', 'dead') UNION ALL SELECT 'inbound', id, kind, state, attempts, "
                     "left(last_error, 200) FROM scheduling_inboundevent WHERE state NOT IN ('done', 'dead') "
                     "ORDER BY 1, 2")
    raise StackError(f"work still unfinished after {rounds} sweeps: {rows[:20]}")


# ---------------------------------------------------------------------------------------------------------------
# The ledger


MUST_BE_ZERO = ("requests_missing", "requests_twice", "events_missing", "events_twice", "notes_missing",
                "notes_twice", "moves_missing", "moves_twice", "links_missing", "outbox_lost", "inbound_lost",
                "double_booked")
_MARKER = re.compile(r"\[loopwise:([^\]]+)\]")


@dataclass
class Ledger:
    """What the run left behind. The `MUST_BE_ZERO` counts are zero when nothing was lost and nothing done twice;
    `details` says where each non-zero count comes from (application external ids, calendar ids, outbox ids)."""

    stage_changes: int = 0    # applications moved into the mapped stage in the ATS
    requests: int = 0
    bookings: int = 0         # live (active) interviews
    events: int = 0           # live events on the calendar fake, attendee copies included
    notes: int = 0
    moves: int = 0            # write-back stage moves in the ATS
    requests_missing: int = 0
    requests_twice: int = 0
    events_missing: int = 0
    events_twice: int = 0
    notes_missing: int = 0
    notes_twice: int = 0
    moves_missing: int = 0
    moves_twice: int = 0
    links_missing: int = 0
    outbox_lost: int = 0
    inbound_lost: int = 0
    double_booked: int = 0
    details: dict[str, list] = field(default_factory=lambda: collections.defaultdict(list))

    def problems(self) -> dict[str, int]:
        """The must-be-zero counts that are not."""
        return {name: getattr(self, name) for name in MUST_BE_ZERO if getattr(self, name)}

    def __str__(self) -> str:
        counts = ", ".join(f"{k} {getattr(self, k)}" for k in ("stage_changes", "requests", "bookings", "events",
                                                                "notes", "moves"))
        problems = self.problems()
        return counts + ("; " + ", ".join(f"{k} {v}: {self.details.get(k, [])[:10]}" for k, v in problems.items())
                         if problems else "; nothing lost, nothing twice")


def _live_events(calendar_state: dict, provider: str) -> dict[str, list[str]]:
    """calendar id -> the iCalUIDs of its live events (one entry per event)."""
    out: dict[str, list[str]] = {}
    if provider == "microsoft":
        for cal, box in (calendar_state.get("mailboxes") or {}).items():
            out[cal] = [e.get("iCalUId") or "" for e in box.get("events", []) if not e.get("isCancelled")]
    else:
        for cal, c in (calendar_state.get("calendars") or {}).items():
            out[cal] = [e.get("iCalUID") or "" for e in c.get("events", []) if e.get("status") != "cancelled"]
    return out


def ledger(stack: Stack, *, calendar: str = "google", ats: str = "greenhouse", stage: str = "Onsite") -> Ledger:
    """Count what the run left behind (see `Ledger` and the module docstring). `stage` is the ATS stage mapped to a
    plan: each application moved into it must have exactly one scheduling request. The ATS must be Greenhouse."""
    if ats != "greenhouse":
        raise StackError(f"ledger: reads the Greenhouse fake only, not {ats!r}")
    led = Ledger()
    ats_state = stack.fake(ats).state()
    cal_state = stack.fake(calendar).state()

    # Every stage change has its request, once.
    moved = {str(m["application_id"]) for m in ats_state["moves"]
             if m["source"] == "stage_change" and m["to_stage_name"] == stage}
    led.stage_changes = len(moved)
    per_app = collections.Counter(str(ext) for (ext,) in stack.sql(
        "SELECT a.external_id FROM scheduling_schedulingrequest r JOIN scheduling_application a "
        "ON a.id = r.application_id WHERE a.ats_connection_id IS NOT NULL"))
    led.requests = sum(per_app.values())
    for app in sorted(moved - set(per_app)):
        led.requests_missing += 1
        led.details["requests_missing"].append(app)
    for app, n in sorted(per_app.items()):
        if n > 1:
            led.requests_twice += n - 1
            led.details["requests_twice"].append(app)

    # Every request that offered times reached its candidate (at least once).
    to_whom = stack.sql(
        "SELECT a.external_id, c.email FROM scheduling_schedulingrequest r JOIN scheduling_application a "
        "ON a.id = r.application_id JOIN scheduling_candidate c ON c.id = a.candidate_id "
        "WHERE r.link_sent_at IS NOT NULL OR r.state IN ('awaiting_candidate', 'booked')")
    mail = stack.fake("mail").state()["messages"] if "mail" in stack.fakes else []
    for app, email in to_whom:
        if not any(email in m["to"] and "/s/" in (m.get("text") or "") for m in mail):
            led.links_missing += 1
            led.details["links_missing"].append(str(app))

    # Every booking has its events: one per session on the organiser's calendar and on each participant's.
    sessions = stack.sql(
        "SELECT i.id, a.external_id, s.id, s.ical_uid, c.organiser_calendar FROM scheduling_scheduledinterview i "
        "JOIN scheduling_schedulingrequest r ON r.id = i.request_id "
        "JOIN scheduling_application a ON a.id = r.application_id "
        "JOIN scheduling_interviewsession s ON s.interview_id = i.id AND s.active "
        "LEFT JOIN scheduling_outboxitem o ON o.kind = 'calendar.write_interview' "
        "AND o.payload->>'interview_id' = i.id::text "
        "LEFT JOIN integrations_calendarconnection c ON c.id = (o.payload->>'connection_id')::bigint "
        "WHERE i.state = 'active' ORDER BY i.id, s.position")
    led.bookings = len({row[0] for row in sessions})
    ids = [row[2] for row in sessions]
    attendees: dict[int, set[str]] = collections.defaultdict(set)
    for session_id, cal in stack.sql(
            "SELECT p.session_id, cal.external_id FROM scheduling_sessionparticipant p "
            "JOIN scheduling_interviewer iv ON iv.id = p.interviewer_id "
            "JOIN integrations_calendar cal ON cal.id = iv.calendar_id WHERE p.active AND p.session_id = ANY(%s) "
            "UNION ALL SELECT s.id, cal.external_id FROM scheduling_interviewsession s "
            "JOIN scheduling_room rm ON rm.id = s.room_id JOIN integrations_calendar cal ON cal.id = rm.calendar_id "
            "WHERE s.id = ANY(%s)", (ids, ids)):
        attendees[session_id].add(cal)
    live = _live_events(cal_state, calendar)
    led.events = sum(len(v) for v in live.values())
    expected: dict[str, set[str]] = collections.defaultdict(set)  # calendar -> iCalUIDs
    for interview_id, app, session_id, uid, organiser in sessions:
        if not organiser:  # no calendar write was ever queued for this booking
            led.events_missing += 1
            led.details["events_missing"].append(f"application {app} interview {interview_id}: no calendar write")
            continue
        # The organiser's calendar must be there; an attendee whose calendar the fake does not hold gets no copy.
        for cal in sorted({organiser} | {c for c in attendees[session_id] if c in live}):
            if not uid:
                led.events_missing += 1
                led.details["events_missing"].append(f"application {app} interview {interview_id} session "
                                                     f"{session_id} on {cal}")
            else:
                expected[cal].add(uid)
    for cal, uids in sorted(expected.items()):
        seen = collections.Counter(live.get(cal, ()))
        for uid in sorted(uids):
            if not seen[uid]:
                led.events_missing += 1
                led.details["events_missing"].append(f"{uid} on {cal}")
    for cal, uids in sorted(live.items()):
        seen = collections.Counter(uids)
        for uid, n in sorted(seen.items()):
            extra = n - 1 if uid in expected.get(cal, ()) else n
            if extra > 0:
                led.events_twice += extra
                led.details["events_twice"].append(f"{uid or '(no iCalUID)'} on {cal} x{n}")

    # Every booking has its note and (a first booking with a next stage) its stage move, once.
    bookings = stack.sql(
        "SELECT i.id, i.revision, a.external_id, p.next_stage_id IS NOT NULL AND p.next_stage_id <> p.stage_id "
        "FROM scheduling_scheduledinterview i JOIN scheduling_schedulingrequest r ON r.id = i.request_id "
        "JOIN scheduling_application a ON a.id = r.application_id JOIN scheduling_interviewplan p ON p.id = r.plan_id "
        "WHERE i.state = 'active' AND a.ats_connection_id IS NOT NULL")
    notes = collections.Counter()
    for note in ats_state["notes"]:
        for key in _MARKER.findall(note.get("body") or ""):
            notes[(str(note.get("application_id")), key)] += 1
    led.notes = sum(notes.values())
    wanted_notes = {(str(app), f"ats.note:{iid}:{rev}:{'booked' if rev == 1 else 'rescheduled'}")
                    for iid, rev, app, _ in bookings}
    for key in sorted(wanted_notes):
        if not notes[key]:
            led.notes_missing += 1
            led.details["notes_missing"].append(key[0])
    for key, n in sorted(notes.items()):
        extra = n - 1 if key in wanted_notes else 0  # notes of cancelled or superseded bookings are not ours to judge
        if extra > 0:
            led.notes_twice += extra
            led.details["notes_twice"].append(f"{key[0]} x{n}")
    api_moves = collections.Counter(str(m["application_id"]) for m in ats_state["moves"] if m["source"] == "api")
    led.moves = sum(api_moves.values())
    for app in sorted({str(app) for _, _, app, moves in bookings if moves}):
        if not api_moves[app]:
            led.moves_missing += 1
            led.details["moves_missing"].append(app)
    for app, n in sorted(api_moves.items()):
        if n > 1:
            led.moves_twice += n - 1
            led.details["moves_twice"].append(f"{app} x{n}")

    # Nothing left behind in the outbox or the inbox, nobody in two places at once.
    for pk, kind, state in stack.sql("SELECT id, kind, state FROM scheduling_outboxitem WHERE state <> 'done' "
                                     "ORDER BY id"):
        led.outbox_lost += 1
        led.details["outbox_lost"].append(f"#{pk} {kind} {state}")
    for pk, state in stack.sql("SELECT id, state FROM scheduling_inboundevent WHERE state <> 'done' ORDER BY id"):
        led.inbound_lost += 1
        led.details["inbound_lost"].append(f"#{pk} {state}")
    led.double_booked = stack.sql(
        "SELECT (SELECT count(*) FROM scheduling_sessionparticipant a JOIN scheduling_sessionparticipant b "
        "ON a.interviewer_id = b.interviewer_id AND a.id < b.id AND a.active AND b.active "
        "AND a.busy_start < b.busy_end AND b.busy_start < a.busy_end) + "
        "(SELECT count(*) FROM scheduling_interviewsession a JOIN scheduling_interviewsession b "
        "ON a.room_id = b.room_id AND a.id < b.id AND a.active AND b.active "
        "AND a.start < b.\"end\" AND b.start < a.\"end\")")[0][0]
    led.details = dict(led.details)
    return led
