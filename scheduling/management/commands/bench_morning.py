"""`manage.py bench_morning`: a large company's morning on this machine, through faults (issue 11, "Scale").

The whole of Loopwise runs as a user runs it (`scheduling.devstack.Stack`: gunicorn, qcluster processes on
PostgreSQL and Redis, the mail, Google and Greenhouse fakes as processes of their own), on a database of its own
(`<DATABASE_URL's name>_morning`, dropped afterwards unless --keep-db), or on a private PostgreSQL cluster
(--private-pg, `scheduling.faults.PrivatePostgres`). The world (`scheduling.morning.world`): 500 interviewers with
Google calendars about a third busy, 50 requisitions with a four-interview loop each, 2,000 candidates in
Greenhouse. Then:
1. stage changes: every candidate is moved to "Onsite" in the Greenhouse fake, from --senders threads; each move
   is a signed webhook to Loopwise, which stores it, and a worker syncs the candidate, creates the request, solves
   the loop against the calendars and emails the link. The phase ends when every request has been started.
2. bookings: --bookers of them (the first ones whose link arrived in the mail fake) book through the portal,
   --clients browsers at a time (`scheduling.morning.load`).
3. drain: until every outbox item (calendar events, ATS notes and moves, confirmations) and every webhook event is
   done.
A worker killed while it held rows leaves them `running` until `scheduling.work.STALE_AFTER` (10 min) has passed.
When a phase waits on nothing else (no progress for --recover-after seconds, the queue empty, every `running` row
claimed longer ago than django-q2's task timeout, so that no live worker holds it), the stack's clock is moved
11 minutes ahead and the sweep runs, as `scheduling.faults.settle` does for the fault tests; the report says so,
and the link times it affects are counted in real time.

Faults during the run (on by default; --no-faults turns them off), each at a random point of its phase
(`scheduling.morning.fault_plan`), with the fault tests' helpers (`scheduling.faults`): during the stage changes,
one qcluster is SIGKILLed with its workers and started again, and one webhook is replayed ten times; during the
bookings, the Google fake answers --fault-requests calls 503 then as many 429 (`outage`), one calendar write times
out after the fake applied it, and, with --private-pg only, PostgreSQL is restarted (never the shared server).

Printed: requests created per second; time from stage change to link sent (p50, p95); portal p95; bookings per
second; calendar and ATS writes per second; the counts that must be zero (`scheduling.faults.ledger`: stage changes
without a request, duplicate requests, events and ATS writes missing or twice, outbox items and webhooks not done,
double-booked people; and, from the interviewers' calendars, two interviews at once or one over busy time); what
each fault did; where the time went (CPU by part per phase from /proc, queued-to-done time per task function,
server-side times from gunicorn's access log). Everything is bounded by --timeout: when a phase runs out of time the
run stops there and the figures so far are printed under a line that says so. Exit status 1 when a must-be-zero
count is not zero.

--browser-matrix runs, instead of the morning, the full browser matrix of the acceptance scenario (issue 11; the suite
runs Chromium only for Greenhouse with Google): `pytest -m browser tests/e2e/test_acceptance_browser.py
tests/e2e/test_acceptance_api.py` with LOOPWISE_BROWSER_MATRIX=1, as a subprocess on DATABASE_URL's server, the
candidate booking in Chromium for every (calendar, ATS) pair. It prints one line per pair (passed, failed or
skipped; seconds, the stack's start-up counted in the first) and exits 1 when one failed.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import random
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import environ
import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from scheduling import faults
from scheduling.benchtools import percentile
from scheduling.devstack import Stack, StackError, database_create, database_drop
from scheduling.morning import world
from scheduling.morning.fault_plan import FaultPlan
from scheduling.morning.load import BookingRun, Moved, book_all, links_from_mail, move_all
from scheduling.morning.measure import (
    Figures,
    Sampler,
    TaskLog,
    access_times,
    cluster_processes,
    peak,
    postgres_backends,
    rate,
)

T = TypeVar("T")
FAKES = ("mail", "google", "greenhouse")
RESERVE = 90.0          # seconds of --timeout kept for reading the figures and stopping the stack
RECOVERY_JUMP = dt.timedelta(minutes=11)  # past scheduling.work.STALE_AFTER (10 min)
TASK_TIMEOUT = 130      # seconds: django-q2 ends any task after Q_CLUSTER["timeout"] (120 s)
S1, S2, S3 = "stage changes", "bookings", "drain"
LEDGER = {  # scheduling.faults.ledger's counts, as the report names them
    "requests_missing": "stage changes without a request",
    "requests_twice": "duplicate requests",
    "double_booked": "double-booked interviewers or rooms (database)",
    "events_twice": "events written twice",
    "events_missing": "events missing",
    "notes_twice": "ATS notes written twice",
    "notes_missing": "ATS notes missing",
    "moves_twice": "ATS stage moves written twice",
    "moves_missing": "ATS stage moves missing",
    "links_missing": "links that never reached the mail fake",
    "outbox_lost": "outbox items lost (not done after the run)",
    "inbound_lost": "webhook events not processed",
}


# Counts of work not done yet, which a run that timed out cannot judge.
UNFINISHED_WORK = ("requests_missing", "events_missing", "notes_missing", "moves_missing", "links_missing",
                   "outbox_lost", "inbound_lost")


MATRIX_TESTS = ("tests/e2e/test_acceptance_browser.py", "tests/e2e/test_acceptance_api.py")
WHOLE_FLOW = "test_one_recruiting_team_lives_the_whole_flow_in_the_browser"


def matrix_rows(junit_xml: str) -> list[tuple[str, str, float]]:
    """(provider pair, passed/failed/skipped, seconds) of each test in pytest's JUnit XML report of MATRIX_TESTS."""
    rows = []
    for case in ET.fromstring(junit_xml).iter("testcase"):
        name = case.get("name", "")
        if name == WHOLE_FLOW:
            pair = "google+greenhouse (whole flow)"
        else:
            pair = name.partition("[")[2].rstrip("]").removesuffix("-browser") or name
        outcome = ("failed" if case.find("failure") is not None or case.find("error") is not None
                   else "skipped" if case.find("skipped") is not None else "passed")
        rows.append((pair, outcome, float(case.get("time") or 0)))
    return rows


class Timeout(Exception):
    """The run's --timeout was reached in a phase."""


class Command(BaseCommand):
    help = "A large company's morning through Loopwise on this machine, with faults; prints figures."

    def add_arguments(self, parser):
        parser.add_argument("--interviewers", type=int, default=500, help=f"at least {world.PANEL}; one "
                                                                          f"requisition per {world.PANEL}")
        parser.add_argument("--candidates", type=int, default=2000, help="moved to a scheduling stage")
        parser.add_argument("--bookers", type=int, default=1000, help="candidates who book through the portal")
        parser.add_argument("--clients", type=int, default=40, help="browsers booking at the same time")
        parser.add_argument("--senders", type=int, default=8, help="threads moving candidates in Greenhouse")
        parser.add_argument("--attempts", type=int, default=3, help="picks per candidate when a time is taken")
        parser.add_argument("--workers", type=int, default=2, help="qcluster processes (2 task workers each)")
        parser.add_argument("--web-workers", type=int, default=3, help="gunicorn workers")
        parser.add_argument("--timeout", type=float, default=1200, help="seconds for the whole run")
        parser.add_argument("--no-faults", action="store_true", help="run without injecting faults")
        parser.add_argument("--fault-requests", type=int, default=5,
                            help="the provider fault: this many 5xx answers, then as many 429s")
        parser.add_argument("--private-pg", action="store_true",
                            help="run on a PostgreSQL cluster of its own (initdb + pg_ctl), restarted once")
        parser.add_argument("--database-url", default="",
                            help="the database to create and use (default: DATABASE_URL's server, "
                                 "<its name>_morning)")
        parser.add_argument("--ats-rate-limit", type=int, default=100_000,
                            help="Greenhouse calls per 30 s per client (Greenhouse's own: 75)")
        parser.add_argument("--recover-after", type=float, default=30,
                            help="seconds without progress before rows a killed worker held are rescued by "
                                 "moving the clock")
        parser.add_argument("--seed", type=int, default=11)
        parser.add_argument("--keep-db", action="store_true", help="leave the database in place")
        parser.add_argument("--keep-logs", action="store_true", help="keep the stack's logs (their folder is "
                                                                        "printed)")
        parser.add_argument("--browser-matrix", action="store_true",
                            help="instead of the morning: the acceptance scenario with the candidate in Chromium for "
                                 "every calendar and ATS pair (pytest, LOOPWISE_BROWSER_MATRIX=1), one line per "
                                 "pair; bounded by --timeout")

    # ---- set-up --------------------------------------------------------------------------------------------

    def handle(self, *args, **opts):
        if opts["browser_matrix"]:
            return self._browser_matrix(opts["timeout"])
        self._check(opts)
        logging.getLogger("urllib3").setLevel(logging.ERROR)
        self.opts, self.rng = opts, random.Random(opts["seed"])
        self.began = time.monotonic()
        self.deadline = self.began + opts["timeout"] - RESERVE
        self.shape = world.Shape(opts["interviewers"], opts["candidates"])
        self.timed_out = ""
        self.notes: list[str] = []
        self.jumps: list[tuple[float, float]] = []  # (real time, seconds the stack's clock is ahead from then on)
        self.phases: dict[str, tuple[float, float]] = {}
        self.main_thread: queue.Queue[Callable[[], None]] = queue.Queue()
        self.cluster: faults.PrivatePostgres | None = None
        self.zero: dict[str, int] = {}
        url = ""
        try:
            url = self._database()
            stack = Stack(database_url=url, workers=opts["workers"], web_workers=opts["web_workers"], fakes=FAKES,
                          keep_workdir=opts["keep_logs"],
                          env={"DEBUG": "false", "PORTAL_TRUSTED_PROXIES": "1", "LOOPWISE_MAX_SLEEP_SECONDS": "30",
                               "LOG_LEVEL": "WARNING"})
            self.say(f"database {urlsplit(url).path[1:]} on {urlsplit(url).netloc}; migrating ...")
            # Migrated before the stack starts: the stack waits for gunicorn's login page, which needs the tables.
            stack.migrate()
            TaskLog.install(stack.sql)
            with stack:
                self.stack = stack
                self._run()
        except StackError as e:
            raise CommandError(str(e)) from None
        finally:
            if url and not opts["keep_db"]:
                try:
                    database_drop(url)
                except Exception as e:  # noqa: BLE001 - a server that is gone has nothing left to drop
                    self.say(f"could not drop the database: {type(e).__name__}")
            if self.cluster is not None:
                self.cluster.stop()
        if any(self.zero.values()):
            raise CommandError("a count that must be zero is not: see above")
        if self.timed_out:
            raise CommandError(f"the run timed out: {self.timed_out}")

    def _browser_matrix(self, timeout: float) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env["LOOPWISE_BROWSER_MATRIX"] = "1"
        with tempfile.TemporaryDirectory(prefix="loopwise-matrix-") as folder:
            report = Path(folder) / "junit.xml"
            command = [sys.executable, "-m", "pytest", "-m", "browser", "-p", "no:randomly", "-q",
                       f"--junitxml={report}", *MATRIX_TESTS]
            self.say(f"the browser matrix: pytest {' '.join(command[3:])} (LOOPWISE_BROWSER_MATRIX=1) ...")
            try:
                done = subprocess.run(command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True,
                                      timeout=timeout, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                raise CommandError(f"the browser matrix did not finish in {timeout:.0f} s") from None
            rows = matrix_rows(report.read_text()) if report.exists() else []
        for pair, outcome, seconds in rows:
            self.say(f"  {pair:<40} {outcome:<8} {seconds:6.1f} s")
        if done.returncode != 0 or not rows:
            self.stdout.write(done.stdout[-6000:] + done.stderr[-2000:])
            raise CommandError(f"the browser matrix failed (pytest exit status {done.returncode})")

    def _check(self, opts: dict) -> None:
        for name, least in (("interviewers", world.PANEL), ("candidates", 1), ("bookers", 0), ("clients", 1),
                            ("senders", 1), ("attempts", 1), ("workers", 1), ("web_workers", 1),
                            ("fault_requests", 1), ("ats_rate_limit", 1), ("recover_after", 1)):
            if opts[name] < least:
                raise CommandError(f"--{name.replace('_', '-')} must be at least {least}")
        if opts["bookers"] > opts["candidates"]:
            raise CommandError("--bookers must not exceed --candidates")
        if opts["timeout"] < RESERVE + 30:
            raise CommandError(f"--timeout must be at least {RESERVE + 30:.0f} seconds")

    def _database(self) -> str:
        if self.opts["private_pg"]:
            self.say("starting a private PostgreSQL cluster (initdb, pg_ctl) ...")
            self.cluster = faults.PrivatePostgres().start()
            return database_create(self.cluster.url("loopwise_morning"))
        if self.opts["database_url"]:
            return database_create(self.opts["database_url"])
        db = settings.DATABASES["default"]
        if db["ENGINE"] != "django.db.backends.postgresql":
            raise CommandError("the benchmark runs on PostgreSQL: set DATABASE_URL to a postgres:// URL, or pass "
                               "--database-url or --private-pg")
        base = environ.Env.db_url_config(os.environ["DATABASE_URL"]) if os.environ.get("DATABASE_URL") else {}
        user, password = db.get("USER") or base.get("USER") or "postgres", db.get("PASSWORD") or ""
        host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
        name = f"{db['NAME']}_morning"
        if name.startswith("test_"):  # under pytest-django: beside the server's database, not the test copy
            name = name[len("test_"):]
        auth = f"{user}:{password}" if password else user
        return database_create(f"postgres://{auth}@{host}:{port}/{name}")

    def say(self, line: str = "") -> None:
        self.stdout.write(line)
        self.stdout.flush()

    # ---- the main thread ---------------------------------------------------------------------------------------

    def _serve(self) -> None:
        """Run what other threads asked of the main thread: starting a process (a qcluster) must happen here, since
        devstack's processes get SIGTERM when the thread that started them exits."""
        while True:
            try:
                action = self.main_thread.get_nowait()
            except queue.Empty:
                return
            action()

    def _supervise(self, work: Callable[[], T]) -> T:
        """Run `work` on a thread of its own while the main thread serves (see `_serve`); its result."""
        out: dict[str, object] = {}

        def run() -> None:
            try:
                out["value"] = work()
            except BaseException as e:  # noqa: BLE001 - raised again on the main thread
                out["error"] = e

        thread = threading.Thread(target=run, name="bench-load", daemon=True)
        thread.start()
        while thread.is_alive():
            self._serve()
            thread.join(0.2)
        self._serve()
        if "error" in out:
            raise out["error"]  # type: ignore[misc]
        return out["value"]  # type: ignore[return-value]

    def _join(self, thread: threading.Thread) -> None:
        deadline = time.monotonic() + 300
        while thread.is_alive() and time.monotonic() < deadline:
            self._serve()
            thread.join(0.2)
        self._serve()

    # ---- the run ---------------------------------------------------------------------------------------------

    def _run(self) -> None:
        stack, shape = self.stack, self.shape
        t0 = time.monotonic()
        key = stack.call("scheduling.morning.world.seed_database", interviewers=shape.interviewers,
                         candidates=shape.candidates, google_url=stack.fake_url("google"),
                         greenhouse_url=stack.fake_url("greenhouse"))["webhook_key"]
        world.seed_fakes(google=stack.fake("google"), greenhouse=stack.fake("greenhouse"), shape=shape,
                         webhook_url=f"{stack.url}/webhooks/ats/{key}/", seed=self.opts["seed"],
                         ats_rate_limit=self.opts["ats_rate_limit"])
        self.say(f"seeded in {time.monotonic() - t0:.0f} s: {shape.interviewers} interviewers, "
                 f"{shape.requisitions} requisitions, {shape.candidates} candidates; stack at {stack.url}, "
                 f"{self.opts['workers']} qcluster(s), {self.opts['web_workers']} gunicorn workers")
        self.sampler = Sampler(self._parts(), stack.queue_length)
        self.sampler.start()
        self.plan = self._faults()
        self.moved: list[Moved] = []
        self.offered: list[int] = []  # start times offered per request when the stage changes were done
        self.booking = BookingRun()
        try:
            self._stage_changes()
            self._bookings()
            self._drain()
        except Timeout as e:
            self.timed_out = str(e)
        finally:
            for _, thread in list(self.plan.threads):  # a fault still running (a worker restarting) ends first
                self._join(thread)
            self.sampler.stop()
        self._report()

    def _stage_changes(self) -> None:
        shape = self.shape
        apps = [shape.application_id(i) for i in range(shape.candidates)]
        self.say(f"{S1}: moving {len(apps)} candidates to '{world.MAPPED}' from {self.opts['senders']} threads ...")
        started = time.time()
        try:
            self.moved = self._supervise(lambda: move_all(
                self.stack.fake("greenhouse"), apps, world.MAPPED, senders=self.opts["senders"],
                deadline=self.deadline, on_progress=self._progress(S1)))
            self.plan.finish(S1, wait=self._join)
            self.say(f"{S1}: {len(self.moved)} webhooks sent in {time.time() - started:.0f} s; waiting for every "
                     "request to be started (solved, link emailed) ...")
            if len(self.moved) < len(apps):
                raise Timeout(f"{S1}: only {len(self.moved)} of {len(apps)} candidates were moved")
            want = {str(m.application) for m in self.moved}

            def started_all() -> tuple[bool, int]:
                done = {r[0] for r in self.stack.sql(
                    "SELECT a.external_id FROM scheduling_schedulingrequest r JOIN scheduling_application a "
                    "ON a.id = r.application_id WHERE r.state <> 'new'")}
                return want <= done, len(want & done)

            self._settle(S1, started_all, empty_queue=False)
            self.offered = [int(r[0]) for r in self.stack.sql(
                "SELECT coalesce(jsonb_array_length(options), 0) FROM scheduling_schedulingrequest")]
        finally:
            self.phases[S1] = (started, time.time())

    def _bookings(self) -> None:
        shape, opts = self.shape, self.opts
        if not opts["bookers"]:
            return
        emails = {shape.candidate_email(i): i for i in range(shape.candidates)}
        links = links_from_mail(self.stack.fake("mail").state()["messages"], set(emails))
        chosen = sorted(links, key=lambda e: emails[e])[:opts["bookers"]]
        if len(chosen) < opts["bookers"]:
            self.notes.append(f"only {len(chosen)} candidates had a link to book with; {opts['bookers']} wanted")
        self.say(f"{S2}: {len(chosen)} candidates book through the portal, {opts['clients']} browsers at a time ...")
        started = time.time()
        try:
            self.booking = self._supervise(lambda: book_all(
                self.stack.url, [links[e] for e in chosen], clients=opts["clients"], attempts=opts["attempts"],
                deadline=self.deadline, seed=opts["seed"], on_progress=self._progress(S2)))
            self.plan.finish(S2, wait=self._join)
        finally:
            self.phases[S2] = (started, time.time())
        if self.booking.outcomes.get("not_started"):
            raise Timeout(f"{S2}: {self.booking.outcomes['not_started']} candidates had not started booking")

    def _drain(self) -> None:
        self.say(f"{S3}: waiting for every outbox item and webhook event to be done ...")
        started = time.time()

        def drained() -> tuple[bool, int]:
            left = len(faults.unfinished(self.stack))
            return left == 0 and self.stack.queue_length() == 0, -left

        try:
            self._settle(S3, drained)
        finally:
            self.phases[S3] = (started, time.time())

    def _settle(self, what: str, check: Callable[[], tuple[bool, int]], *, empty_queue: bool = True) -> None:
        """Wait until `check()` says done (its second value changes as work is done), rescuing the rows a killed
        worker held when nothing else moves (see the module docstring). `empty_queue`: only when the queue is empty
        too (the drain, whose work may just be waiting in the queue); the stage changes' requests are not queued
        behind anything, so their wait does not need it."""
        last_value, last_change, last_say = None, time.monotonic(), 0.0
        while True:
            self._serve()
            done, value = check()
            if done:
                return
            now = time.monotonic()
            if value != last_value:
                last_value, last_change = value, now
            if now - last_say >= 15:
                last_say = now
                self.say(f"  {what}: {abs(value)} {'left' if value <= 0 else 'done'}, queue "
                         f"{self.stack.queue_length()}, {now - self.began:.0f} s into the run")
            if now > self.deadline:
                raise Timeout(f"{what}: not finished when the time ran out ({abs(value)} "
                              f"{'left' if value <= 0 else 'done'})")
            if now - last_change > self.opts["recover_after"] \
                    and (not empty_queue or self.stack.queue_length() == 0) and self._rescuable():
                self._recover(what)
                last_change = time.monotonic()
            time.sleep(1.0)

    def _rescuable(self) -> bool:
        """Rows wait, and none of the `running` ones can still be held by a live worker."""
        waiting, young = self.stack.sql(
            "SELECT count(*), count(*) FILTER (WHERE state = 'running' AND claimed_at > %s) FROM ("
            "SELECT state, claimed_at FROM scheduling_outboxitem WHERE state NOT IN ('done', 'dead') UNION ALL "
            "SELECT state, claimed_at FROM scheduling_inboundevent WHERE state NOT IN ('done', 'dead')) AS w",
            (self.stack.now() - dt.timedelta(seconds=TASK_TIMEOUT),))[0]
        return waiting > 0 and young == 0

    def _recover(self, what: str) -> None:
        left = faults.unfinished(self.stack)
        held = sum(1 for _, _, state, _ in left if state == "running")
        self.stack.set_clock(self.stack.now() + RECOVERY_JUMP)
        self.jumps.append((time.time(), (self.stack.now() - dt.datetime.now(dt.UTC)).total_seconds()))
        summary = self.stack.run_task("scheduling.tasks.sweep_work", timeout=120)
        self.notes.append(
            f"{what}: nothing moved for {self.opts['recover_after']:.0f} s; {held} row(s) still "
            f"'running' (held by the killed worker) and {len(left) - held} waiting for a retry or a lost queue "
            f"message: the stack's clock was moved {RECOVERY_JUMP.seconds // 60} min ahead (past the 10 min after "
            f"which the sweep rescues a lost worker's rows) and the sweep ran: {summary}")
        self.say(f"  {what}: recovery: {self.notes[-1]}")

    def _progress(self, phase: str) -> Callable[[int, int], None]:
        said: set[float] = set()

        def progress(done: int, total: int) -> None:
            self.plan.tick(phase, done, total)
            for mark in (0.25, 0.5, 0.75):
                if done / max(total, 1) >= mark and mark not in said:
                    said.add(mark)
                    self.say(f"  {phase}: {done}/{total}, {time.monotonic() - self.began:.0f} s into the run")

        return progress

    # ---- faults ------------------------------------------------------------------------------------------------

    def _faults(self) -> FaultPlan:
        plan = FaultPlan()
        if self.opts["no_faults"]:
            return plan
        stack, rng, n = self.stack, self.rng, self.opts["fault_requests"]
        google, greenhouse = stack.fake("google"), stack.fake("greenhouse")
        self.replayed: str | None = None
        self.timeout_set_at: dt.datetime | None = None

        def kill() -> str:
            i = rng.randrange(len(stack.workers))
            with psycopg.connect(stack.database_url, autocommit=True, connect_timeout=10) as db:  # not the main
                held = db.execute(  # thread's connection
                    "SELECT (SELECT count(*) FROM scheduling_outboxitem WHERE state = 'running') + "
                    "(SELECT count(*) FROM scheduling_inboundevent WHERE state = 'running')").fetchone()[0]
            stack.kill_worker(i)
            killed, back = time.monotonic(), threading.Event()
            self.main_thread.put(lambda: (stack.restart_worker(i), back.set()))
            back.wait(timeout=180)
            return (f"qcluster {i} SIGKILLed with its workers ({held} row(s) were running just before); a new one "
                    f"answered after {time.monotonic() - killed:.1f} s" if back.is_set() else
                    f"qcluster {i} SIGKILLed; it was not running again within 180 s")

        def replay() -> str:
            deliveries = [d for d in greenhouse.state()["deliveries"]
                          if d["redelivery_of"] is None and d["status"] == 200]
            if not deliveries:
                return "no delivery to replay yet"
            d = rng.choice(deliveries)
            statuses = faults.replay(greenhouse, delivery=d["n"], times=10)
            self.replayed = str(d["application_id"])
            return (f"delivery {d['n']} (application {d['application_id']}) sent again 10 times (same bytes and "
                    f"event id; 5 one after another, 5 at once); Loopwise answered "
                    f"{', '.join(sorted({str(s) for s in statuses}))}")

        def outage() -> str:
            faults.outage(google, target="/calendar/v3/", count=n)
            return f"the Google fake answers its next {n} calendar API calls 503, the {n} after them 429"

        def timeout() -> str:
            self.timeout_set_at = dt.datetime.now(dt.UTC)
            google.add_fault(kind="timeout", target=f"/calendar/v3/calendars/{world.ORGANISER}/events", count=1,
                             delay_ms=16_000)
            return ("the Google fake applies the next request on the organiser's events, then holds its answer "
                    "16 s (the adapter gives up after 15 s)")

        plan.add("kill a worker", S1, kill, rng=rng)
        plan.add("replay a webhook", S1, replay, rng=rng)
        plan.add("provider 5xx and 429", S2, outage, rng=rng)
        plan.add("calendar write times out", S2, timeout, rng=rng)
        if self.cluster is not None:
            cluster = self.cluster

            def restart() -> str:
                started = time.monotonic()
                cluster.restart()
                return f"the private cluster restarted (pg_ctl restart -m fast) in {time.monotonic() - started:.1f} s"

            plan.add("restart PostgreSQL", S2, restart, rng=rng)
        return plan

    # ---- measuring ---------------------------------------------------------------------------------------------

    def _parts(self) -> Callable[[], dict[str, tuple[set[int], set[int]]]]:
        stack, me = self.stack, os.getpid()
        postgres = (cluster_processes(self.cluster.data) if self.cluster is not None
                    else postgres_backends(stack.database_url))

        def parts() -> dict[str, tuple[set[int], set[int]]]:
            web = {stack.web.pgid} if stack.web is not None else set()
            workers = {w.pgid for w in stack.workers if w is not None}
            fakes = {fake_proc.pgid for fake_proc in getattr(stack, "_fake_procs", {}).values()}
            return {"gunicorn (web)": (web, set()), "qcluster (workers)": (workers, set()),
                    "provider fakes": (fakes, set()), "PostgreSQL": (set(), postgres()),
                    "load generator (this process)": (set(), {me})}

        return parts

    # ---- the report ------------------------------------------------------------------------------------------

    def _report(self) -> None:
        say, stack, shape = self.say, self.stack, self.shape
        f = Figures.read(sql=stack.sql, google=stack.fake("google"), greenhouse=stack.fake("greenhouse"),
                         mail=stack.fake("mail"), organiser=world.ORGANISER,
                         moved={str(m.application): m.sent for m in self.moved},
                         emails={shape.candidate_email(i) for i in range(shape.candidates)}, jumps=self.jumps)
        led = faults.ledger(stack, stage=world.MAPPED)
        say("")
        if self.timed_out:
            say(f"TIMED OUT after {time.monotonic() - self.began:.0f} s ({self.timed_out}): the figures below are "
                "PARTIAL, and the counts of work not done include work that had no time to finish.")
        say(f"requests created:        {f.created_rate[0]} in {f.created_rate[1]:.1f} s = {f.created_rate[2]:.1f}/s "
            "(first webhook sent to last request created)")
        p50, p95, worst = f.latency()
        say(f"stage change -> link:    p50 {p50:.1f} s, p95 {p95:.1f} s, max {worst:.1f} s over {len(f.link_latency)} "
            "links (from the webhook's send to the request's link_sent_at, set as the mail server takes the email)")
        if f.links_after_jump:
            say(f"                         {f.links_after_jump} of them waited for the killed worker's rows to be "
                "rescued: their time is real time, without the 10 minutes skipped by moving the clock")
        say(f"link emails:             {f.links_emailed} candidates have theirs in the mail fake; {f.links_twice} "
            "sent a second time (a worker killed after the send; SMTP is at least once)")
        if self.offered:
            say(f"options offered:         p50 {percentile(self.offered, 50):.0f} start times a request, min "
                f"{min(self.offered)}, max {max(self.offered)} ({sum(1 for n in self.offered if not n)} requests with "
                "none), when every link had gone out")
        say(f"request states:          {dict(sorted(f.request_states.items()))}")
        self._report_portal()
        n, span, per = rate(f.calendar_writes)
        say(f"calendar writes:         {n} in {span:.1f} s = {per:.1f}/s, peak {peak(f.calendar_writes):.1f}/s over "
            "10 s (Google event inserts, patches and deletes answered 2xx, first to last)")
        n, span, per = rate(f.ats_writes)
        say(f"ATS writes:              {n} in {span:.1f} s = {per:.1f}/s, peak {peak(f.ats_writes):.1f}/s over 10 s "
            f"(Greenhouse notes and stage moves answered 2xx, first to last); ATS reads: {f.ats_reads}")
        say(f"outbox:                  {f.outbox_states}; webhook events: {f.inbound_states}")
        say(f"ledger:                  {led.stage_changes} stage changes, {led.requests} requests, {led.bookings} "
            f"bookings, {led.events} live events (attendee copies included), {led.notes} notes, {led.moves} moves")
        say("")
        say("must be zero:")
        counts = {**{label: getattr(led, name) for name, label in LEDGER.items()}, **f.zero}
        details = {LEDGER[k]: v for k, v in led.details.items() if k in LEDGER}
        unfinished = {LEDGER[k] for k in UNFINISHED_WORK}
        for label, value in counts.items():
            if value and self.timed_out and label in unfinished:
                say(f"  {label + ':':<66}{value}   (not final: the run timed out before this work could finish)")
                continue
            self.zero[label] = value
            say(f"  {label + ':':<66}{value}" + ("" if value == 0 else f"   <-- NOT ZERO {details.get(label, [])[:5]}"))
        say("")
        self._report_faults()
        self._report_time()
        if self.opts["keep_logs"]:
            say(f"logs: {stack.workdir / 'logs'}")

    def _report_portal(self) -> None:
        run, say = self.booking, self.say
        hits = [h for h in run.hits if h.status]
        every = [h.seconds for h in hits]
        kinds: dict[str, list[float]] = {}
        for h in hits:
            kinds.setdefault(h.kind, []).append(h.seconds)
        say(f"portal (client side):    p50 {percentile(every, 50) * 1000:.0f} ms, p95 "
            f"{percentile(every, 95) * 1000:.0f} ms over {len(every)} requests; p95 by page: "
            + ", ".join(f"{k} {percentile(v, 95) * 1000:.0f} ms" for k, v in sorted(kinds.items())))
        bad: dict[int, int] = {}
        for h in run.hits:
            if h.status == 0 or h.status >= 500 or h.status == 429:
                bad[h.status] = bad.get(h.status, 0) + 1
        n = len(run.booked_at)
        took = (max(run.booked_at) - run.started) if run.booked_at else 0.0
        say(f"bookings:                {n} in {took:.1f} s = {n / took if took else 0:.1f}/s (first candidate "
            f"started to last booking); outcomes {dict(sorted(run.outcomes.items()))}; {run.retries} picks again "
            f"after a time was taken; answers 5xx/429/none: {bad or 'none'}")

    def _report_faults(self) -> None:
        say = self.say
        if self.opts["no_faults"]:
            say("faults: none (--no-faults)")
        else:
            say("faults:")
            t0 = time.time() - (time.monotonic() - self.began)
            for fault in self.plan.faults:
                when = (f"at {fault.at_fraction:.0%} of the {fault.phase}, {fault.fired_at - t0:.0f} s in"
                        if fault.fired_at else "not fired: the run ended first")
                say(f"  {fault.name} ({when}): {fault.outcome or 'no outcome'}")
            if self.cluster is None:
                say("  restart PostgreSQL: skipped: the stack runs on the machine's shared server (use --private-pg)")
            self._fault_effects()
        for note in self.notes:
            say(f"note: {note}")
        say("")

    def _fault_effects(self) -> None:
        stack, say = self.stack, self.say
        if self.replayed:
            rows = stack.sql("SELECT count(*) FROM scheduling_schedulingrequest r JOIN scheduling_application a "
                             "ON a.id = r.application_id WHERE a.external_id = %s", (self.replayed,))
            say(f"  -> the replayed application has {rows[0][0]} request(s)")
        if self.timeout_set_at is not None:
            path = f"/calendar/v3/calendars/{world.ORGANISER}/events"
            log = [e for e in stack.fake("google").requests() if e["path"].replace("%40", "@").startswith(path)
                   and e["time"] >= self.timeout_set_at.isoformat()[:23]]
            if log:
                first = log[0]
                event = first["path"].replace("%40", "@")[len(path):].strip("/")
                looked = [e for e in log[1:20] if e["method"] == "GET" and (not event or e["path"].endswith(event))]
                say(f"  -> the held request was {first['method']} {'events/' + event if event else 'events'} "
                    f"(applied, {first['status']}); {len(looked)} look-up(s) of events followed within the next "
                    "requests, as a retry checks whether the write had landed")

    def _report_time(self) -> None:
        say, sampler = self.say, self.sampler
        say("where the time went:")
        if self.phases:
            names = list(self.phases)
            cols = [sampler.between(*self.phases[p]) for p in names]
            say(f"  {'CPU seconds (% of one core)':<34}" + "".join(f"{p:>24}" for p in names))
            for part in sorted({k for c in cols for k in c[0]}) + ["rest of the machine (others)"]:
                cells = []
                for cpu, busy, wall in cols:
                    value = busy - sum(cpu.values()) if part.startswith("rest") else cpu.get(part, 0.0)
                    cells.append(f"{value:8.0f} s ({value / wall:5.0%})")
                say(f"  {part:<34}" + "".join(f"{c:>24}" for c in cells))
            say(f"  {'wall time':<34}" + "".join(f"{wall:>22.0f} s" for _, _, wall in cols))
            say(f"  {'longest task queue':<34}" + "".join(f"{sampler.max_queue(*self.phases[p]):>24}" for p in names))
        tasks = TaskLog.summary(self.stack.sql)
        if tasks:
            say("  tasks by function, from queued to done (the wait in the queue included):")
            for func, n, bad, p50, p95 in tasks[:10]:
                say(f"    {func:<52}{n:>6} tasks  p50 {p50:7.1f} s  p95 {p95:7.1f} s"
                    + (f"  ({bad} failed)" if bad else ""))
        try:
            cost = self.stack.call("scheduling.morning.measure.probe", timeout=300)
        except StackError as e:
            cost = {}
            say(f"  (the cost of a recompute could not be probed: {str(e)[:200]})")
        if cost:
            say(f"  one options recompute (the task each booking queues), timed on the final database: finding the "
                f"open requests that involve 4 booked people took {cost['find_s']:.2f} s ({cost['open_requests']} "
                f"open requests, {cost['stored_mb']:.1f} MB of stored options read, as stored), and "
                f"{cost['involved']} of them are re-solved at {cost['build_s'] + cost['solve_s']:.2f} s each "
                f"(building the problem {cost['build_s']:.2f} s, solving {cost['solve_s']:.2f} s)")
        access = access_times(self.stack.workdir / "logs" / "access.log")
        groups = {"webhooks (/webhooks/ats/)": [s for _, p, _, s in access if p.startswith("/webhooks/")],
                  "portal (/s/, /schedule/)": [s for _, p, _, s in access if p.startswith(("/s/", "/schedule"))]}
        for name, times in groups.items():
            if times:
                say(f"  gunicorn, {name}: p50 {percentile(times, 50) * 1000:.0f} ms, p95 "
                    f"{percentile(times, 95) * 1000:.0f} ms, {len(times)} answers (server side)")
