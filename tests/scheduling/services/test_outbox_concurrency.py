import threading

import pytest
from django.db import connection

from scheduling.models import AuditEvent, WorkState
from scheduling.work import outbox_deliver
from tests.factories import OutboxItemFactory
from tests.scheduling.services import support  # noqa: F401 - registers the test handlers


@pytest.mark.django_db(transaction=True)
def test_it_runs_the_handler_once_when_two_workers_claim_the_same_item():
    item = OutboxItemFactory(kind="test.slow_record")
    barrier = threading.Barrier(2)
    results: list[str] = []

    def deliver() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(outbox_deliver(item_id=item.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(r.split(":")[1].split()[0] for r in results) == ["done", "nothing"]
    assert AuditEvent.objects.filter(action="test.handled", object_id=str(item.pk)).count() == 1
    item.refresh_from_db()
    assert (item.state, item.attempts) == (WorkState.DONE, 1)
