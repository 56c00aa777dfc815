"""`manage.py seed_demo_fakes --google URL [--greenhouse URL]`: load the demo organisation into running provider
fakes (after `load_demo`: the Greenhouse fake's webhook goes to the demo connection's own URL)."""

from django.core.management.base import BaseCommand

from scheduling.demo_fakes import demo_ats_connect, seed_google, seed_greenhouse


class Command(BaseCommand):
    help = "Seed running provider fakes with the demo organisation's calendars (and its Greenhouse account)."

    def add_arguments(self, parser):
        parser.add_argument("--google", required=True, help="Base URL of the running google fake.")
        parser.add_argument("--greenhouse", help="Base URL of the running greenhouse fake.")

    def handle(self, *args, google: str, greenhouse: str | None = None, **opts):
        n = seed_google(google.rstrip("/"))
        self.stdout.write(f"google fake: {n} calendars seeded with busy times")
        if greenhouse:
            connection, webhook_url, secret = demo_ats_connect(greenhouse.rstrip("/"))
            n = seed_greenhouse(greenhouse.rstrip("/"), webhook_url=webhook_url, webhook_secret=secret)
            self.stdout.write(f"greenhouse fake: {n} applications seeded; webhooks to {webhook_url}")
