"""Test handlers for the outbox and inbox registries (registered by dotted path, as real ones are), and a
helper that runs what was queued on django-q2's ORM broker the way a worker would."""

from __future__ import annotations

import time

from django.utils.module_loading import import_string
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from scheduling.audit import audit_log
from scheduling.errors import PermanentError
from scheduling.work import register_inbound_handler, register_outbox_handler


def flaky(item) -> str:
    """Fails on the first two attempts, succeeds on the third."""
    if item.attempts < 3:
        raise RuntimeError(f"provider unavailable (attempt {item.attempts}, Authorization: Bearer tok-abc123)")
    return "written"


def always_fails(item) -> str:
    raise RuntimeError("provider said no")


def revoked(item) -> str:
    raise PermanentError("the grant was revoked")


def slow_record(item) -> str:
    """Leaves one audit row per run, so a test can count runs; slow enough for a competitor to try meanwhile."""
    time.sleep(0.2)
    audit_log(action="test.handled", obj=item, actor_label="worker")
    return "recorded"


def inbound_record_run(event) -> str:
    audit_log(action="test.processed", obj=event, actor_label="worker")
    return f"processed {event.kind}"


def inbound_always_fails(event) -> str:
    raise ValueError("unexpected payload")


register_outbox_handler("test.flaky", "tests.scheduling.services.support.flaky")
register_outbox_handler("test.always_fails", "tests.scheduling.services.support.always_fails")
register_outbox_handler("test.revoked", "tests.scheduling.services.support.revoked")
register_outbox_handler("test.slow_record", "tests.scheduling.services.support.slow_record")
register_inbound_handler("test-provider", "tests.scheduling.services.support.inbound_record_run")
register_inbound_handler("test-failing", "tests.scheduling.services.support.inbound_always_fails")


def queued() -> list[dict]:
    """The task packages waiting on the ORM broker, oldest first."""
    return [SignedPackage.loads(m.payload) for m in OrmQ.objects.order_by("id")]


def run_queued() -> list[str]:
    """Take every queued task off the broker and run it, as a worker would; their results, in order."""
    results = []
    for message in OrmQ.objects.order_by("id"):
        task = SignedPackage.loads(message.payload)
        message.delete()
        results.append(import_string(task["func"])(*task["args"], **task.get("kwargs", {})))
    return results
