from django.core.management.base import BaseCommand

from scheduling.schedules import sync_schedules


class Command(BaseCommand):
    help = "Create, update or delete Loopwise's periodic tasks (django-q2 schedules) to match scheduling/schedules.py."

    def handle(self, *args, **options):
        for line in sync_schedules():
            self.stdout.write(line)
