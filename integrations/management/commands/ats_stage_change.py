"""`manage.py ats_stage_change APPLICATION STAGE [--connection NAME]`: move an application to a stage in the local
Greenhouse fake, as a recruiter would in Greenhouse. The fake then sends its real, signed `candidate_stage_change`
webhook to Loopwise, and a scheduling request appears within seconds when the stage is mapped to a plan.

For the demo only: it talks to the fake's control surface (`/_fake/stage_change`) at the connection's base URL,
which a real Greenhouse does not have. APPLICATION is the application's Greenhouse id (e.g. 91200115 in the
demo), STAGE a stage name of its job ("Onsite") or a stage id."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from integrations.models import AtsConnection


class Command(BaseCommand):
    help = "Move an application to a stage in the Greenhouse fake, which sends Loopwise a signed webhook."

    def add_arguments(self, parser):
        parser.add_argument("application", help="the application's Greenhouse id, e.g. 91200115")
        parser.add_argument("stage", help="a stage name of its job (e.g. Onsite) or a stage id")
        parser.add_argument("--connection", help="the AtsConnection's name (default: the only Greenhouse one)")

    def handle(self, *args, application: str, stage: str, connection: str | None, **opts):
        conn = self._connection(connection)
        body = json.dumps({"application": application, "stage": stage}).encode()
        req = urllib.request.Request(conn.base_url.rstrip("/") + "/_fake/stage_change", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=30) as resp:
                answer = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raise CommandError(f"the Greenhouse fake refused: {e.code} {e.read().decode(errors='replace')}")
        except OSError as e:
            raise CommandError(f"the Greenhouse fake at {conn.base_url} does not answer ({e}); is `make run` up?")
        move, delivery = answer["move"], answer.get("delivery")
        self.stdout.write(f"Application {application} moved from {move['from_stage_name']!r} to "
                          f"{move['to_stage_name']!r} in the Greenhouse fake.")
        if delivery is None:
            self.stdout.write("No webhook was sent (the fake's webhook is disabled or has no URL); polling will "
                              "find the change within 5 minutes.")
        else:
            self.stdout.write(f"Webhook {delivery['event_id']} sent; Loopwise answered {delivery['status']}.")

    def _connection(self, name: str | None) -> AtsConnection:
        rows = AtsConnection.objects.filter(provider=AtsConnection.Provider.GREENHOUSE)
        if name:
            rows = rows.filter(name=name)
        try:
            found = list(rows.exclude(base_url="")[:2])
        except DatabaseError:
            raise CommandError("this database has no Loopwise tables: run the command with the DATABASE_URL that "
                               "`make run` printed (it uses PostgreSQL when one answers)") from None
        if len(found) != 1:
            raise CommandError("name the Greenhouse connection (--connection) whose base URL is the local fake"
                               if found else "no Greenhouse connection points at a local fake (its base URL is "
                                             "empty): run `make run`, which sets the demo's up")
        return found[0]
