"""`manage.py bench_engine [--quick]`: the solver benchmark (scheduling/engine/bench.py), from manage.py."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from scheduling.engine import bench


class Command(BaseCommand):
    help = "Time solve() on seeded realistic workloads against the irreducible parsing work (see engine/bench.py)."

    def add_arguments(self, parser):
        parser.add_argument("--quick", action="store_true", help="fewer rounds, for a smoke run")

    def handle(self, *args, quick: bool, **options):
        bench.main(["--quick"] if quick else [])
