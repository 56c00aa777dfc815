"""`manage.py create_api_key NAME --scopes read,write`: create an API key and print it once."""

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from scheduling.api.auth import api_key_create


class Command(BaseCommand):
    help = "Create an API key for the integrator API and print it (once: only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who uses the key; the audit log names its writes api:<name>.")
        parser.add_argument("--scopes", default="read", help="Comma-separated: read, write (default: read).")

    def handle(self, *args, name: str, scopes: str, **options):
        try:
            key, raw = api_key_create(name=name, scopes=[x.strip() for x in scopes.split(",") if x.strip()])
        except ValueError as e:
            raise CommandError(str(e)) from None
        except IntegrityError:
            raise CommandError(f"a key named {name!r} exists already") from None
        self.stdout.write(raw)
        self.stderr.write(f"created key {key.name!r} (prefix {key.prefix}, scopes {','.join(key.scopes)}); "
                          "it will not be shown again")
