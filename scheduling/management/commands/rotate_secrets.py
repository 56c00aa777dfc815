from django.core.management.base import BaseCommand, CommandError

from scheduling.services import secrets_rotate


class Command(BaseCommand):
    help = ("Re-encrypt every stored secret under the first key of FIELD_ENCRYPTION_KEYS. Put the new key first, "
            "keep the old ones after it, run this, then drop the old keys.")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be rotated; write nothing.")

    def handle(self, *args, dry_run=False, **options):
        reports = secrets_rotate(dry_run=dry_run)
        verb = "would rotate" if dry_run else "rotated"
        for r in reports:
            self.stdout.write(f"{r.column}: {verb} {r.rotated}, unreadable {r.unreadable}")
        unreadable = sum(r.unreadable for r in reports)
        if unreadable:
            raise CommandError(f"{unreadable} secret(s) could not be decrypted with any key in "
                               "FIELD_ENCRYPTION_KEYS; they were left as they are")
