"""Benchmark: a free/busy refresh of N calendars over D days against the provider fakes, through the real adapters.

`--provider google|microsoft|both` (default both). For each provider: wall time, requests the fake received
(free/busy and token calls) and blocks stored, per run; then, with both, the two side by side. Each run happens
inside a transaction that is rolled back, so the command leaves the database as it found it. Both fakes are
seeded with the same busy blocks; Microsoft answers at most 20 calendars and less than 62 days per getSchedule,
Google 50 calendars per freeBusy, so the request counts differ by design.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from django.core.management.base import BaseCommand
from django.db import transaction

from integrations.calendars.base import Window
from integrations.calendars.freebusy import freebusy_refresh
from integrations.fakes.google import GoogleFake
from integrations.models import Calendar, CalendarConnection
from scheduling.models import FreeBusyBlock

SA = "bench@loopwise-bench.iam.gserviceaccount.com"
ORGANISER = "interviews@bench.test"
TENANT, CLIENT_ID, CLIENT_SECRET = "bench-tenant", "bench-client", "bench-secret"


class Rollback(Exception):
    pass


@dataclass
class Run:
    wall: float
    requests: int
    blocks: int
    refreshed: int


class Command(BaseCommand):
    help = "Time a free/busy refresh of many calendars against the Google and Microsoft fakes."

    def add_arguments(self, parser):
        parser.add_argument("--calendars", type=int, default=500)
        parser.add_argument("--days", type=int, default=31)
        parser.add_argument("--runs", type=int, default=3)
        parser.add_argument("--provider", choices=["google", "microsoft", "both"], default="both")

    def handle(self, *args, calendars: int, days: int, runs: int, provider: str, **opts):
        start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
        window = Window(start, start + dt.timedelta(days=days))
        emails = [f"person{n:04d}@bench.test" for n in range(calendars)]
        busy = GoogleFake.demo_busy(emails, window.start, window.end, seed=7)
        self.stdout.write(f"free/busy refresh: {calendars} calendars x {days} days "
                          f"(~{len(busy[emails[0]]) if emails else 0} busy blocks on the first calendar)")
        results: dict[str, list[Run]] = {}
        for name in (["google", "microsoft"] if provider == "both" else [provider]):
            bench = self._google if name == "google" else self._microsoft
            results[name] = bench(emails, busy, window, runs)
            self.stdout.write(f"{name}:")
            for r in results[name]:
                self.stdout.write(f"  wall {r.wall * 1000:8.1f} ms  requests {r.requests:4d}  "
                                  f"calendars {r.refreshed:4d}  blocks stored {r.blocks}")
        self.stdout.write("")
        self.stdout.write(f"{'provider':<10} {'best ms':>9} {'median ms':>10} {'requests':>9} {'calendars':>10} "
                          f"{'blocks':>8}")
        for name, timings in results.items():
            walls = sorted(t.wall for t in timings)
            last = timings[-1]
            self.stdout.write(f"{name:<10} {walls[0] * 1000:9.1f} {walls[len(walls) // 2] * 1000:10.1f} "
                              f"{last.requests:9d} {last.refreshed:10d} {last.blocks:8d}")

    # ---- providers ------------------------------------------------------------------------------------------

    def _google(self, emails, busy, window, runs) -> list[Run]:
        fake = GoogleFake.start()
        try:
            fake.seed({"users": [{"email": ORGANISER}] + [{"email": e} for e in emails],
                       "service_accounts": [{"client_email": SA}], "busy": busy})

            def connection():
                return CalendarConnection.objects.create(
                    name="bench google", provider="google", auth_mode="service_account", base_url=fake.url,
                    token_url=fake.url + "/token", organiser_calendar=ORGANISER,
                    credentials={"service_account_info": fake.service_account_info(SA)})

            return [self._run(fake, connection, emails, window) for _ in range(runs)]
        finally:
            fake.stop()

    def _microsoft(self, emails, busy, window, runs) -> list[Run]:
        from integrations.fakes.microsoft import MicrosoftFake

        fake = MicrosoftFake.start()
        try:
            fake.seed({"tenant": TENANT,
                       "apps": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "app_only": True}],
                       "users": [{"email": ORGANISER}] + [{"email": e} for e in emails], "busy": busy})

            def connection():
                return CalendarConnection.objects.create(
                    name="bench microsoft", provider="microsoft", auth_mode="application", base_url=fake.url,
                    token_url=fake.login_url, organiser_calendar=ORGANISER,
                    credentials={"tenant": TENANT, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                 "ca_bundle": fake.ca_pem_path})

            return [self._run(fake, connection, emails, window) for _ in range(runs)]
        finally:
            fake.stop()

    def _run(self, fake, make_connection, emails, window) -> Run:
        fake.clear_faults()
        before = len(fake.requests())
        result = {}
        try:
            with transaction.atomic():
                conn = make_connection()
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
        return Run(result["wall"], len(fake.requests()) - before, result["blocks"], result["refreshed"])
