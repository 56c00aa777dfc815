"""`manage.py bench_dashboard [--requests N] [--history-days N] [--range-days N]`: time the operations dashboard.

Renders /dashboard/ N times through Django's test client as a staff user (the whole stack: middleware, session,
selectors, template), after one warm-up, and prints p50, p95 and the query count of one render. The numbers
cover the last `--range-days` days (365 by default, the whole demo history) rather than the page's default 30,
so that the aggregates read the whole history. `--history-days` first runs `load_demo` with that many days
(idempotent), so `bench_dashboard --history-days 30` then `--history-days 365` shows the query count stay put
while the history grows twelvefold.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.utils import timezone

from scheduling import clock
from scheduling.demo import demo_load
from scheduling.models import RequestTransition, ScheduledInterview, SchedulingRequest, User


class Command(BaseCommand):
    help = "Time the operations dashboard (p50, p95) and count its queries, optionally after loading demo history."

    def add_arguments(self, parser):
        parser.add_argument("--requests", type=int, default=50, metavar="N", help="renders to time (default 50)")
        parser.add_argument("--history-days", type=int, default=0, metavar="N",
                            help="first load the demo with N days of history (0: use the database as it is)")
        parser.add_argument("--range-days", type=int, default=365, metavar="N",
                            help="the dashboard's date range, ending today (default 365)")
        parser.add_argument("--user", default="", help="staff username to render as (default: the first staff)")

    def handle(self, *args, requests: int, history_days: int, range_days: int, user: str, **options):
        if requests < 1 or not 1 <= range_days <= 731:
            raise CommandError("--requests must be at least 1 and --range-days between 1 and 731")
        if history_days:
            demo_load(history_days=history_days, stdout=self.stdout)
        staff = User.objects.filter(is_staff=True, is_active=True)
        staff = staff.filter(username=user) if user else staff.order_by("pk")
        who = staff.first()
        if who is None:
            raise CommandError("no active staff user: run load_demo first, or pass --user")
        client = Client(HTTP_HOST=_host())
        client.force_login(who)
        today = timezone.localtime(clock.now()).date()
        params = {"from": (today - dt.timedelta(days=range_days - 1)).isoformat(), "to": today.isoformat()}
        secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))

        queries: list[str] = []
        # Django empties its query log when a request starts: count with a wrapper around execution instead.
        with connection.execute_wrapper(lambda execute, sql, *a: queries.append(sql) or execute(sql, *a)):
            first = client.get("/dashboard/", params, secure=secure)
        if first.status_code != 200:
            raise CommandError(f"/dashboard/ answered {first.status_code}")
        times = []
        for _ in range(requests):
            start = time.perf_counter()
            response = client.get("/dashboard/", params, secure=secure)
            times.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise CommandError(f"/dashboard/ answered {response.status_code}")
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)] if len(times) > 1 else times[0]
        self.stdout.write(
            f"history: {SchedulingRequest.objects.count()} requests, {RequestTransition.objects.count()} "
            f"transitions, {ScheduledInterview.objects.count()} interviews; range {params['from']} to {params['to']}\n"
            f"dashboard over {requests} renders: p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, "
            f"min {times[0]:.1f} ms, max {times[-1]:.1f} ms; {len(queries)} queries per render "
            f"({connection.vendor}), {len(first.content) // 1024} KiB of HTML")


def _host() -> str:
    hosts = [h for h in settings.ALLOWED_HOSTS if h not in ("*",) and not h.startswith(".")]
    return hosts[0] if hosts else "localhost"
