"""Benchmark: a free/busy refresh of N calendars over D days against the Google fake, through the real adapter.

Prints wall time, requests the fake received (free/busy and token calls) and blocks stored. Runs inside a
transaction that is rolled back, so it leaves the database as it found it.
"""

from __future__ import annotations

import datetime as dt
import time

from django.core.management.base import BaseCommand
from django.db import transaction

from integrations.calendars.base import Window
from integrations.calendars.freebusy import freebusy_refresh
from integrations.fakes.google import GoogleFake
from integrations.models import Calendar, CalendarConnection
from scheduling.models import FreeBusyBlock

SA = "bench@loopwise-bench.iam.gserviceaccount.com"


class Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Time a free/busy refresh of many calendars against the Google fake."

    def add_arguments(self, parser):
        parser.add_argument("--calendars", type=int, default=500)
        parser.add_argument("--days", type=int, default=31)
        parser.add_argument("--runs", type=int, default=3)

    def handle(self, *args, calendars: int, days: int, runs: int, **opts):
        start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
        window = Window(start, start + dt.timedelta(days=days))
        emails = [f"person{n:04d}@bench.test" for n in range(calendars)]
        fake = GoogleFake.start()
        try:
            fake.seed({"users": [{"email": "interviews@bench.test"}] + [{"email": e} for e in emails],
                       "service_accounts": [{"client_email": SA}],
                       "busy": GoogleFake.demo_busy(emails, window.start, window.end, seed=7)})
            seeded = len(fake.state()["calendars"][emails[0]]["busy"])
            self.stdout.write(f"free/busy refresh: {calendars} calendars x {days} days "
                              f"(~{seeded} busy blocks on the first calendar)")
            timings = []
            for _ in range(runs):
                timings.append(self._run(fake, emails, window))
            for wall, reqs, blocks, refreshed in timings:
                self.stdout.write(f"  wall {wall * 1000:8.1f} ms  requests {reqs:4d}  calendars {refreshed:4d}  "
                                  f"blocks stored {blocks}")
            best = min(t[0] for t in timings)
            median = sorted(t[0] for t in timings)[len(timings) // 2]
            self.stdout.write(f"best {best * 1000:.1f} ms, median {median * 1000:.1f} ms")
        finally:
            fake.stop()

    def _run(self, fake, emails, window):
        fake.clear_faults()
        before = len(fake.requests())
        result = {}
        try:
            with transaction.atomic():
                conn = CalendarConnection.objects.create(
                    name="bench", provider="google", auth_mode="service_account", base_url=fake.url,
                    token_url=fake.url + "/token", organiser_calendar="interviews@bench.test",
                    credentials={"service_account_info": fake.service_account_info(SA)})
                cals = Calendar.objects.bulk_create(Calendar(connection=conn, external_id=e) for e in emails)
                for c in cals:
                    c.connection = conn
                t0 = time.perf_counter()
                report = freebusy_refresh(calendars=cals, window=window)
                result["wall"] = time.perf_counter() - t0
                result["blocks"] = FreeBusyBlock.objects.filter(calendar__connection=conn).count()
                result["refreshed"] = report.refreshed
                raise Rollback
        except Rollback:
            pass
        return result["wall"], len(fake.requests()) - before, result["blocks"], result["refreshed"]
