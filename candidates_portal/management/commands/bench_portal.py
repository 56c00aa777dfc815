"""Benchmark: the candidate portal through gunicorn on loopback (issue #5).

Self-contained and bounded: it creates a database of its own (`loopwise_bench_portal`, migrated, dropped
afterwards unless --keep-db), starts the google fake in this process (sixteen interviewers in London and New York
with a realistic share of busy time) and gunicorn (`--workers 4`) as a subprocess, and seeds, with the ORM and
the services, one requisition whose plan is the standard loop (four interviews of 45-60 minutes, each from a pool
of four, and a 45-minute lunch third; 14 days on a 15-minute step), then `--pages` + `--candidates` requests,
each solved (its option set stored) and given a link.

1. The page: for each of `--pages` requests, a browser session opens its link (`/s/<token>/` -> `/schedule/`) and
   then loads `/schedule/` `--loads` times, one after another; p50/p95 of those loads.
2. Booking: `--candidates` threads, one per request, each with its own `requests.Session` and client address
   (X-Forwarded-For, one trusted proxy), open their link, load the picker and the confirmation page of a
   different option each, then all POST their confirmation (with the CSRF token) at once; p50/p95 of the POSTs.
   Options of different requests share people, so some candidates lose and are shown fresh times.
Printed: the page's and the booking's p50/p95, bookings made and lost, and double-bookings (live participations of
one person that overlap, buffers included; rooms likewise): must be 0. No qcluster runs: the outbox items and the
option recomputes that bookings queue stay queued.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from psycopg.conninfo import make_conninfo

from scheduling.benchtools import free_port, percentile, wait_for_port

ROOT = Path(settings.BASE_DIR)
DB_NAME = "loopwise_bench_portal"
DOMAIN = "bench.test"
ORGANISER = f"interviews@{DOMAIN}"
SERVICE_ACCOUNT = "loopwise@bench-project.iam.gserviceaccount.com"
ZONES = ["Europe/London", "America/New_York"]
PEOPLE = [(f"person{n}@{DOMAIN}", ZONES[n % 2]) for n in range(16)]
_START = re.compile(r'name="start"[^>]*value="([^"]+)"')
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Command(BaseCommand):
    help = "Time the candidate portal's page and 20 concurrent bookings through gunicorn on PostgreSQL."

    def add_arguments(self, parser):
        parser.add_argument("--pages", type=int, default=10, help="requests whose page is timed")
        parser.add_argument("--loads", type=int, default=20, help="page loads per request (link limit: 30/min)")
        parser.add_argument("--candidates", type=int, default=20, help="concurrent bookings")
        parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
        parser.add_argument("--keep-db", action="store_true", help=f"leave the {DB_NAME} database in place")
        parser.add_argument("--phase", default="", help="internal: seed inside the benchmark's database")
        parser.add_argument("--fake-url", default="")
        parser.add_argument("--info-file", default="")

    # ---- seeding, inside the benchmark's database (a subprocess with its environment) -------------------------

    def _seed(self, opts: dict) -> None:
        from integrations.calendars.freebusy import freebusy_refresh
        from integrations.models import Calendar, CalendarConnection
        from scheduling.booking import request_solve
        from scheduling.links import link_issue
        from scheduling.models import (
            Application,
            AvailabilityRule,
            Candidate,
            Interviewer,
            InterviewerPool,
            InterviewPlan,
            OrganisationSettings,
            PoolMembership,
            Requisition,
            Role,
            SchedulingRequest,
            SessionTemplate,
            User,
        )
        from scheduling.services import request_move

        info = json.loads(Path(opts["info_file"]).read_text())
        org = OrganisationSettings.load()
        org.company_name, org.sender_email, org.reply_to_email = "Acme", f"jobs@{DOMAIN}", f"recruiting@{DOMAIN}"
        org.save()
        connection = CalendarConnection.objects.create(
            name="Bench Workspace", provider="google", auth_mode="service_account", base_url=opts["fake_url"],
            token_url=opts["fake_url"] + "/token", organiser_calendar=ORGANISER, account_email=f"admin@{DOMAIN}",
            credentials={"service_account_info": info})
        people = []
        for n, (email, zone) in enumerate(PEOPLE):
            calendar = Calendar.objects.create(connection=connection, external_id=email, kind="person")
            person = Interviewer.objects.create(name=f"Person {n}", email=email, title="Engineer", timezone=zone,
                                                calendar=calendar, max_per_day=4, max_per_week=12)
            AvailabilityRule.objects.bulk_create([AvailabilityRule(interviewer=person, weekday=d, start=dt.time(9),
                                                                   end=dt.time(17)) for d in range(5)])
            people.append(person)
        coordinator = User.objects.create(username="bench-coordinator", email=f"coordinator@{DOMAIN}",
                                          is_staff=True)
        requisition = Requisition.objects.create(title="Backend Engineer", coordinator=coordinator)
        plan = InterviewPlan.objects.create(name="Onsite loop", requisition=requisition, min_notice_hours=24,
                                            window_days=14, step_minutes=15, buffer_minutes=10)
        sessions = [("Coding", 60), ("System design", 60), ("Lunch", 45), ("Behavioural", 45), ("Hiring manager", 45)]
        for position, (name, minutes) in enumerate(sessions):
            template = SessionTemplate.objects.create(plan=plan, position=position, name=name,
                                                      duration_minutes=minutes, is_break=name == "Lunch")
            if template.is_break:
                continue
            pool = InterviewerPool.objects.create(name=name)
            k = position if position < 2 else position - 1
            for person in people[4 * k:4 * k + 4]:
                PoolMembership.objects.create(pool=pool, interviewer=person)
            Role.objects.create(session=template, kind=Role.Kind.POOL, pool=pool)
        freebusy_refresh(calendars=list(Calendar.objects.select_related("connection")))
        tokens, counts = [], []
        for i in range(opts["pages"] + opts["candidates"]):
            candidate = Candidate.objects.create(first_name="Candidate", last_name=str(i),
                                                 email=f"candidate{i}@mail.{DOMAIN}", timezone="Asia/Kolkata")
            application = Application.objects.create(candidate=candidate, requisition=requisition)
            request = SchedulingRequest.objects.create(application=application, plan=plan)
            counts.append(len(request_solve(request=request)["options"]))
            tokens.append(link_issue(request=request))
            request_move(request=request, to=SchedulingRequest.State.AWAITING_CANDIDATE, cause="benchmark")
        self.stdout.write(json.dumps({"tokens": tokens, "options": counts}))

    # ---- the benchmark ------------------------------------------------------------------------------------

    def handle(self, *args, **opts):
        if opts["phase"] == "seed":
            return self._seed(opts)
        if opts["phase"]:
            raise CommandError(f"unknown phase {opts['phase']!r}")
        db = settings.DATABASES["default"]
        if db["ENGINE"] != "django.db.backends.postgresql":
            raise CommandError("the benchmark runs on PostgreSQL: set DATABASE_URL to a postgres:// URL")
        user, host, port = db.get("USER") or "postgres", db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
        admin_dsn = make_conninfo(host=host, port=port, user=user, password=db.get("PASSWORD") or None,
                                  dbname="postgres")
        bench_url = f"postgres://{user}{':' + db['PASSWORD'] if db.get('PASSWORD') else ''}@{host}:{port}/{DB_NAME}"
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
        procs: list[subprocess.Popen] = []
        fakes: list = []
        try:
            self._run(opts, bench_url, procs, fakes)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            for fake in fakes:
                fake.stop()
            if not opts["keep_db"]:
                with psycopg.connect(admin_dsn, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')

    def _run(self, opts: dict, bench_url: str, procs: list, fakes: list) -> None:
        from integrations.fakes.google import GoogleFake

        py = sys.executable
        fake = GoogleFake.start()
        fakes.append(fake)
        today = dt.datetime.now(dt.UTC).date()
        emails = [e for e, _ in PEOPLE]
        fake.seed({"users": [{"email": ORGANISER, "name": "Interviews"}]
                   + [{"email": e, "name": e.split("@")[0], "timezone": z} for e, z in PEOPLE],
                   "service_accounts": [{"client_email": SERVICE_ACCOUNT}]})
        fake.seed({"busy": GoogleFake.demo_busy(emails, today, today + dt.timedelta(days=17), seed=5, fraction=0.2,
                                                timezone_by_email=dict(PEOPLE))})
        web_port = free_port()
        base = f"http://127.0.0.1:{web_port}"
        env = {**os.environ, "DATABASE_URL": bench_url, "DEBUG": "false", "LOOPWISE_ENV": "development",
               "LOG_LEVEL": "WARNING", "PUBLIC_BASE_URL": base, "PORTAL_TRUSTED_PROXIES": "1",
               "PYTHONUNBUFFERED": "1"}
        for name in ("REDIS_URL", "LOOPWISE_CLOCK_FILE"):
            env.pop(name, None)
        logs = Path(tempfile.mkdtemp(prefix="loopwise-bench-portal-"))
        info_file = logs / "service-account.json"
        info_file.write_text(json.dumps(fake.service_account_info(SERVICE_ACCOUNT)))

        self.stdout.write(f"database {DB_NAME}: migrating and seeding ...")
        t0 = time.monotonic()
        subprocess.run([py, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run([py, "manage.py", "createcachetable"], cwd=ROOT, env=env, check=True)
        seeded = subprocess.run(
            [py, "manage.py", "bench_portal", "--phase", "seed", "--fake-url", fake.url, "--info-file",
             str(info_file), "--pages", str(opts["pages"]), "--candidates", str(opts["candidates"])],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        info_file.unlink()
        data = json.loads(seeded.stdout.strip().splitlines()[-1])
        tokens, counts = data["tokens"], data["options"]
        self.stdout.write(f"seeded in {time.monotonic() - t0:.0f} s: {len(tokens)} requests, options stored per "
                          f"request {min(counts)}-{max(counts)}")
        if min(counts) < opts["candidates"]:
            raise CommandError("too few options to give every candidate a different one")

        gunicorn = Path(py).parent / "gunicorn"
        procs.append(subprocess.Popen(
            [str(gunicorn), "config.wsgi", "--bind", f"127.0.0.1:{web_port}", "--workers", str(opts["workers"]),
             "--error-logfile", str(logs / "gunicorn.log")], cwd=ROOT, env=env, start_new_session=True))
        wait_for_port(web_port, seconds=30, proc=procs[0])
        logging.getLogger("urllib3").setLevel(logging.WARNING)

        page = self._pages(base, tokens[:opts["pages"]], opts["loads"])
        outcome = self._bookings(base, tokens[opts["pages"]:])
        with psycopg.connect(bench_url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
            doubles = self._double_bookings(conn)
            interviews = conn.execute("SELECT count(*) FROM scheduling_scheduledinterview WHERE state = 'active'"
                                      ).fetchone()[0]

        self.stdout.write("")
        p50 = percentile(page, 50) * 1000
        self.stdout.write(f"portal page (/schedule/, {counts[0]} options stored): p50 {p50:.0f} ms, "
                          f"p95 {percentile(page, 95) * 1000:.0f} ms ({len(page)} loads, one at a time)")
        took = outcome["times"]
        self.stdout.write(f"booking under {len(took)} concurrent candidates (POST confirm): p50 "
                          f"{percentile(took, 50) * 1000:.0f} ms, p95 {percentile(took, 95) * 1000:.0f} ms, max "
                          f"{max(took) * 1000:.0f} ms")
        self.stdout.write(f"outcomes: {outcome['booked']} booked, {outcome['fresh']} shown fresh times, "
                          f"{outcome['other']} other ({outcome['statuses']}); live interviews in the database: "
                          f"{interviews}")
        self.stdout.write(f"double-bookings: {doubles} (must be 0)")
        self.stdout.write(f"gunicorn log: {logs / 'gunicorn.log'}")
        if doubles or outcome["other"]:
            raise CommandError("double-bookings, or bookings that ended neither booked nor with fresh times")

    @staticmethod
    def _session(ip: str) -> requests.Session:
        session = requests.Session()
        session.headers["X-Forwarded-For"] = ip
        return session

    def _pages(self, base: str, tokens: list[str], loads: int) -> list[float]:
        self.stdout.write(f"page: {len(tokens)} requests x {loads} loads of /schedule/ ...")
        times = []
        for n, token in enumerate(tokens):
            with self._session(f"10.1.0.{n + 1}") as s:
                opened = s.get(f"{base}/s/{token}/", timeout=30)
                if opened.status_code != 200 or not _START.search(opened.text):
                    raise CommandError(f"the link did not open the picker ({opened.status_code})")
                for _ in range(loads):
                    started = time.perf_counter()
                    r = s.get(f"{base}/schedule/", timeout=30)
                    times.append(time.perf_counter() - started)
                    if r.status_code != 200:
                        raise CommandError(f"/schedule/ answered {r.status_code}")
        return times

    def _bookings(self, base: str, tokens: list[str]) -> dict:
        self.stdout.write(f"booking: {len(tokens)} candidates confirm a different option each, at once ...")
        ready = threading.Barrier(len(tokens))

        def candidate(n: int) -> tuple[float, str]:
            with self._session(f"10.2.0.{n + 1}") as s:
                picker = s.get(f"{base}/s/{tokens[n]}/", timeout=30)
                starts = list(dict.fromkeys(_START.findall(picker.text)))
                # Spread the choices over the set: neighbours share people, far apart ones mostly do not.
                start = starts[(n * len(starts)) // len(tokens)] if starts else ""
                confirm = s.get(f"{base}/schedule/confirm", params={"start": start}, timeout=30)
                csrf = _CSRF.search(confirm.text)
                try:
                    ready.wait(timeout=60)
                except threading.BrokenBarrierError:
                    pass
                if csrf is None:
                    return 0.0, f"no confirmation form ({confirm.status_code})"
                started = time.perf_counter()
                r = s.post(f"{base}/schedule/confirm", data={"start": start, "csrfmiddlewaretoken": csrf.group(1)},
                           timeout=60, allow_redirects=False)
                took = time.perf_counter() - started
                if r.status_code in (302, 303) and r.headers.get("Location", "").endswith("/schedule/booked"):
                    return took, "booked"
                if r.status_code == 200 and "has just been taken" in r.text:
                    return took, "fresh"
                return took, f"status {r.status_code}"

        with concurrent.futures.ThreadPoolExecutor(max_workers=len(tokens)) as pool:
            results = list(pool.map(candidate, range(len(tokens))))
        kinds = [k for _, k in results]
        other = [k for k in kinds if k not in ("booked", "fresh")]
        return {"times": [t for t, k in results if k in ("booked", "fresh")] or [float("nan")],
                "booked": kinds.count("booked"), "fresh": kinds.count("fresh"), "other": len(other),
                "statuses": ", ".join(sorted(set(other))) or "none"}

    @staticmethod
    def _double_bookings(conn) -> int:
        people = conn.execute(
            "SELECT count(*) FROM scheduling_sessionparticipant a JOIN scheduling_sessionparticipant b "
            "ON a.interviewer_id = b.interviewer_id AND a.id < b.id AND a.active AND b.active "
            "AND a.busy_start < b.busy_end AND b.busy_start < a.busy_end").fetchone()[0]
        rooms = conn.execute(
            "SELECT count(*) FROM scheduling_interviewsession a JOIN scheduling_interviewsession b "
            "ON a.room_id = b.room_id AND a.id < b.id AND a.active AND b.active "
            "AND a.start < b.\"end\" AND b.start < a.\"end\"").fetchone()[0]
        return people + rooms
