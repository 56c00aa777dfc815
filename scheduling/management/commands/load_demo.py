"""Load the Northwind Labs demo organisation: `manage.py load_demo [--history-days N]`. Running it again
changes nothing; with a larger N it adds only the days not loaded yet."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from scheduling.demo import demo_load

MAX_HISTORY_DAYS = 3 * 365


class Command(BaseCommand):
    help = "Load the Northwind Labs demo organisation, and optionally N days of past requests for the dashboard."

    def add_arguments(self, parser):
        parser.add_argument("--history-days", type=int, default=0, metavar="N",
                            help=f"Also add N days of past requests and interviews (0 to {MAX_HISTORY_DAYS}).")

    def handle(self, *args, history_days: int, **options):
        if not 0 <= history_days <= MAX_HISTORY_DAYS:
            raise CommandError(f"--history-days: give a number from 0 to {MAX_HISTORY_DAYS}, not {history_days}")
        demo_load(history_days=history_days, stdout=self.stdout)
