"""Benchmark: N stage-change webhooks (2,000 by default) delivered by the Greenhouse fake as fast as it can, into
Loopwise served by gunicorn (2 workers) with one qcluster (2 workers) on PostgreSQL and Redis.

Self-contained and bounded: it creates a database of its own (`loopwise_bench`, dropped afterwards unless
--keep-db) and uses a Redis database index of its own (flushed before and after), starts the mail and
Greenhouse fakes in this process and gunicorn and qcluster as subprocesses, seeds one requisition whose "Onsite"
stage is mapped to a one-session plan (three interviewers on working hours, so that every request is solved and
its link emailed, as in production), and N applications in "Phone Screen". Then `--senders` threads move every
application to "Onsite" through the fake, which signs and POSTs each webhook and waits for the answer.

Then, to count duplicates under pressure, `--duplicates` of those deliveries are sent again concurrently, half as
Greenhouse's own redelivery (same bytes, same event id) and half with a new event id (what a Greenhouse retry
might carry): none may create anything.

Printed: webhooks per second as delivered; requests created per second (first webhook sent to last request row
created) and the time until every request was started (options solved, link emailed); the webhook response
time (p50/p95/p99) as gunicorn measured it and as the fake saw it (queueing in the listen backlog included);
duplicates created (must be 0), inbound events stored, and deliveries not answered 200.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import logging
import random
import re
import time
import uuid
from pathlib import Path

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from scheduling.benchtools import percentile
from scheduling.devstack import Stack, database_create, database_drop

ROOT = Path(settings.BASE_DIR)
DB_NAME = "loopwise_bench"
JOB, STAGES = 77, {"Application Review": 9901, "Phone Screen": 9902, "Onsite": 9903, "Offer": 9904}
CLIENT = {"client_id": "bench-client", "client_secret": "bench-client-secret"}
USER, SECRET = 4080001, "bench-webhook-secret"
FIRST_CANDIDATE, FIRST_APPLICATION = 6_000_001, 5_000_001
ACCESS_LINE = re.compile(r'"POST (\S+)" \d+ (\d+)ms$')


class Command(BaseCommand):
    help = "Time N Greenhouse stage-change webhooks through gunicorn and qcluster on PostgreSQL and Redis."

    def add_arguments(self, parser):
        parser.add_argument("--webhooks", type=int, default=2000)
        parser.add_argument("--senders", type=int, default=4, help="concurrent deliveries from the fake")
        parser.add_argument("--duplicates", type=int, default=200, help="deliveries sent again afterwards")
        parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the requests")
        parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15",
                            help="a Redis database this benchmark may flush")
        parser.add_argument("--keep-db", action="store_true", help=f"leave the {DB_NAME} database in place")
        parser.add_argument("--phase", default="", help="internal: run one step inside the benchmark's database")
        parser.add_argument("--fake-url", default="")

    # ---- the steps that run inside the benchmark's own database (a subprocess with its environment) ----------

    def _seed(self, fake_url: str) -> None:
        from integrations.models import AtsConnection
        from scheduling.models import (
            AtsStage,
            AvailabilityRule,
            Interviewer,
            InterviewerPool,
            InterviewPlan,
            PoolMembership,
            Requisition,
            Role,
            SessionTemplate,
            User,
        )

        coordinator = User.objects.create(username="bench-coordinator", email="coordinator@bench.test",
                                          is_staff=True)
        connection = AtsConnection.objects.create(
            name="Bench Greenhouse", provider="greenhouse", base_url=fake_url, fallback_email="ops@bench.test",
            credentials={**CLIENT, "on_behalf_of": str(USER), "webhook_secret": SECRET})
        requisition = Requisition.objects.create(title="Backend Engineer", ats_connection=connection,
                                                 external_id=str(JOB), coordinator=coordinator)
        stages = {name: AtsStage.objects.create(requisition=requisition, external_id=str(i), name=name, position=n)
                  for n, (name, i) in enumerate(STAGES.items())}
        plan = InterviewPlan.objects.create(name="Onsite loop", requisition=requisition, stage=stages["Onsite"],
                                            next_stage=stages["Offer"], min_notice_hours=24, window_days=14,
                                            step_minutes=30)
        pool = InterviewerPool.objects.create(name="Backend")
        for n, zone in enumerate(("Europe/London", "America/New_York", "Asia/Kolkata")):
            person = Interviewer.objects.create(name=f"Interviewer {n}", email=f"interviewer{n}@bench.test",
                                                timezone=zone, availability_source="working_hours")
            PoolMembership.objects.create(pool=pool, interviewer=person)
            AvailabilityRule.objects.bulk_create([AvailabilityRule(interviewer=person, weekday=d, start=dt.time(9),
                                                                   end=dt.time(17)) for d in range(5)])
        session = SessionTemplate.objects.create(plan=plan, position=0, name="Coding", duration_minutes=60)
        Role.objects.create(session=session, kind=Role.Kind.POOL, pool=pool)
        self.stdout.write(json.dumps({"webhook_key": connection.webhook_key}))

    # ---- the benchmark ------------------------------------------------------------------------------------

    def handle(self, *args, **opts):
        if opts["phase"] == "seed":
            return self._seed(opts["fake_url"])
        if opts["phase"]:
            raise CommandError(f"unknown phase {opts['phase']!r}")
        db = settings.DATABASES["default"]
        if db["ENGINE"] != "django.db.backends.postgresql":
            raise CommandError("the benchmark runs on PostgreSQL: set DATABASE_URL to a postgres:// URL")
        bench_url = (f"postgres://{db.get('USER') or 'postgres'}"
                     f"{':' + db['PASSWORD'] if db.get('PASSWORD') else ''}@{db.get('HOST') or '127.0.0.1'}:"
                     f"{db.get('PORT') or 5432}/{DB_NAME}")
        from integrations.fakes.greenhouse import GreenhouseFake
        from integrations.fakes.mail import MailFake

        database_create(bench_url)
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # the mail fake's SMTP server logs every message
        # The fakes run in this process (the senders call the Greenhouse fake directly); gunicorn and one qcluster
        # run as the stack's subprocesses (scheduling/devstack.py), on this benchmark's database and Redis index.
        fakes = [MailFake.start(), GreenhouseFake.start()]
        stack = Stack(database_url=bench_url, redis_url=opts["redis_url"], workers=1, web_workers=2, fakes=(),
                      keep_workdir=True,
                      env={"DEBUG": "false", "LOG_LEVEL": "WARNING", "LOOPWISE_MAX_SLEEP_SECONDS": "30",
                           "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(fakes[0].smtp_port)})
        try:
            self._run(opts, stack, *fakes)
        finally:
            stack.stop()
            for fake in fakes:
                fake.stop()
            if not opts["keep_db"]:
                database_drop(bench_url)

    def _run(self, opts: dict, stack: Stack, mail, fake) -> None:
        n = opts["webhooks"]
        bench_url = stack.database_url
        self.stdout.write(f"database {DB_NAME}, broker {opts['redis_url']}: migrating and seeding ...")
        stack.manage("migrate", "--no-input", "-v0")
        seeded = stack.manage("bench_webhooks", "--phase", "seed", "--fake-url", fake.url)
        key = json.loads(seeded.strip().splitlines()[-1])["webhook_key"]
        stack.start()
        fake.seed({
            "users": [{"id": USER, "first_name": "Bench", "last_name": "Recruiter"}], "clients": [CLIENT],
            "jobs": [{"id": JOB, "name": "Backend Engineer", "stages": [{"id": i, "name": s}
                                                                        for s, i in STAGES.items()]}],
            "candidates": [{"id": FIRST_CANDIDATE + i, "first_name": "Candidate", "last_name": str(i),
                            "email_addresses": [f"candidate{i}@bench.test"]} for i in range(n)],
            "applications": [{"id": FIRST_APPLICATION + i, "candidate_id": FIRST_CANDIDATE + i, "job_id": JOB,
                              "stage": "Phone Screen"} for i in range(n)],
            "webhook_url": f"{stack.url}/webhooks/ats/{key}/", "webhook_secret": SECRET,
            "settings": {"rate_limit": 1_000_000_000, "webhook_timeout": 30, "webhook_retry_delays": [1, 2, 5]},
        })
        logs = stack.workdir / "logs"
        access_log = logs / "access.log"

        self.stdout.write(f"sending {n} stage-change webhooks from {opts['senders']} threads ...")
        seen: list[float] = []

        def move(app_id: int) -> int | None:
            started = time.perf_counter()
            answer = fake.on_stage_change({"application": app_id, "stage": "Onsite"})
            seen.append(time.perf_counter() - started)
            return answer["delivery"]["status"] if answer["delivery"] else None

        t0 = time.time()
        with concurrent.futures.ThreadPoolExecutor(max_workers=opts["senders"]) as pool:
            statuses = list(pool.map(move, [FIRST_APPLICATION + i for i in range(n)]))
        sent_s = time.time() - t0

        created_done = started_done = None
        deadline = time.monotonic() + opts["timeout"]
        with psycopg.connect(bench_url.replace("postgres://", "postgresql://"), autocommit=True) as db:
            while time.monotonic() < deadline:
                total, started = db.execute("SELECT count(*), count(*) FILTER (WHERE state <> 'new') "
                                            "FROM scheduling_schedulingrequest").fetchone()
                if total >= n and created_done is None:
                    created_done = time.time() - t0
                if started >= n:
                    started_done = time.time() - t0
                    break
                time.sleep(0.25)
            last_created = db.execute("SELECT extract(epoch FROM max(created_at)) FROM "
                                      "scheduling_schedulingrequest").fetchone()[0]

            self.stdout.write(f"sending {opts['duplicates']} duplicates (redeliveries and new event ids) ...")
            self._duplicates(fake, opts["duplicates"], opts["senders"])
            time.sleep(5)
            counts = self._counts(db)

        server = self._server_times(access_log)
        bad = sum(1 for s in statuses if s != 200)
        created = counts["requests"]
        rate = created / (float(last_created) - t0) if last_created else 0.0
        self.stdout.write("")
        self.stdout.write(f"webhooks delivered:    {n} in {sent_s:.1f} s = {n / sent_s:.0f}/s "
                          f"({bad} not answered 200 on first try)")
        self.stdout.write(f"requests created:      {created} in {float(last_created or t0) - t0:.1f} s "
                          f"= {rate:.0f}/s (first webhook sent to last request created)")
        self.stdout.write(f"requests started:      {counts['started']} (options solved, link emailed) "
                          + (f"all by {started_done:.1f} s" if started_done else f"NOT all within "
                             f"{opts['timeout']:.0f} s") + f"; states {counts['states']}")
        p50, p95, p99 = (percentile(server, p) for p in (50, 95, 99))
        self.stdout.write(f"webhook response time: gunicorn p50 {p50:.0f} ms, p95 "
                          f"{p95:.0f} ms, p99 {p99:.0f} ms ({len(server)} answers); "
                          f"as the fake saw it (backlog included) p50 {percentile(seen, 50) * 1000:.0f} ms, p95 "
                          f"{percentile(seen, 95) * 1000:.0f} ms")
        self.stdout.write(f"duplicates created:    {counts['duplicates']} (requests beyond one per application "
                          f"and plan: must be 0); {created - n} requests beyond the {n} applications")
        self.stdout.write(f"inbound events:        {counts['events']} stored ({counts['event_states']}); "
                          f"links emailed: {len(mail.state()['messages'])}")
        self.stdout.write(f"logs: {logs}")
        if counts["duplicates"] or created != n:
            raise CommandError("duplicates were created, or requests are missing")

    def _duplicates(self, fake, count: int, senders: int) -> None:
        from integrations.fakes.greenhouse_wire import post_raw

        deliveries = [d for d in fake.state()["deliveries"] if d["redelivery_of"] is None]
        chosen = random.Random(6).sample(deliveries, min(count, len(deliveries)))

        def again(item: tuple[int, dict]) -> int | None:
            i, d = item
            if i % 2 == 0:  # Greenhouse's redelivery: the same bytes, signature and event id
                return fake.redeliver(delivery=d["n"])[0]["status"]
            headers = {"Content-Type": "application/json", "Signature": d["signature"],
                       "Greenhouse-Event-ID": str(uuid.uuid4()), "User-Agent": "Greenhouse-Webhooks"}
            return post_raw(d["url"], d["body"].encode("ascii"), headers, timeout=30)

        with concurrent.futures.ThreadPoolExecutor(max_workers=senders) as pool:
            list(pool.map(again, enumerate(chosen)))

    def _counts(self, db) -> dict:
        # Wait for the duplicates' processing to settle (bounded).
        for _ in range(120):
            pending = db.execute("SELECT count(*) FROM scheduling_inboundevent WHERE state IN "
                                 "('pending', 'running')").fetchone()[0]
            if not pending:
                break
            time.sleep(0.5)
        duplicates = db.execute("SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM "
                                "scheduling_schedulingrequest GROUP BY application_id, plan_id) AS g").fetchone()[0]
        states = dict(db.execute("SELECT state, count(*) FROM scheduling_schedulingrequest GROUP BY state"
                                 ).fetchall())
        event_states = dict(db.execute("SELECT state, count(*) FROM scheduling_inboundevent GROUP BY state"
                                       ).fetchall())
        return {"requests": sum(states.values()), "started": sum(v for k, v in states.items() if k != "new"),
                "states": states, "duplicates": int(duplicates), "events": sum(event_states.values()),
                "event_states": event_states}

    @staticmethod
    def _server_times(path: Path) -> list[float]:
        """Response times (ms) of the webhook POSTs in the stack's access log ('%(h)s "%(m)s %(U)s" %(s)s %(M)sms')."""
        times = []
        if path.exists():
            for line in path.read_text().splitlines():
                match = ACCESS_LINE.search(line)
                if match and match.group(1).startswith("/webhooks/ats/"):
                    times.append(float(match.group(2)))
        return times
