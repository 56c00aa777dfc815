"""`manage.py seed_demo_fakes --google URL`: load the demo organisation into running provider fakes."""

from django.core.management.base import BaseCommand

from scheduling.demo_fakes import seed_google


class Command(BaseCommand):
    help = "Seed running provider fakes with the demo organisation's calendars."

    def add_arguments(self, parser):
        parser.add_argument("--google", required=True, help="Base URL of the running google fake.")

    def handle(self, *args, google: str, **opts):
        n = seed_google(google.rstrip("/"))
        self.stdout.write(f"google fake: {n} calendars seeded with busy times")
