"""`manage.py refresh_freebusy [--all]`: refresh the free/busy cache now (stale calendars, or every one)."""

from django.core.management.base import BaseCommand

from integrations.calendars.freebusy import freebusy_refresh
from integrations.models import Calendar


class Command(BaseCommand):
    help = "Refresh the free/busy cache from the calendar providers now."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Every active calendar, not only stale ones.")

    def handle(self, *args, all: bool, **opts):
        calendars = list(Calendar.objects.filter(connection__active=True).select_related("connection")) if all \
            else None
        self.stdout.write(str(freebusy_refresh(calendars=calendars)))
