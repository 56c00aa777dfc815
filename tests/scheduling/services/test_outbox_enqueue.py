import pytest

from scheduling.models import OutboxItem, WorkState
from scheduling.work import outbox_enqueue
from tests.scheduling.services import support  # noqa: F401 - registers the test handlers
from tests.scheduling.services.support import queued, run_queued

pytestmark = pytest.mark.django_db


def test_it_queues_delivery_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        item = outbox_enqueue(kind="test.flaky", key="ats-note:42", payload={"request_id": 42}, target="ats:1")
        assert queued() == []
    for callback in callbacks:
        callback()
    [task] = queued()
    assert (task["func"], task["args"], task["group"]) == ("scheduling.tasks.deliver_outbox_item", (item.pk,),
                                                          "outbox")
    item.refresh_from_db()
    assert (item.kind, item.target, item.payload, item.state) == ("test.flaky", "ats:1", {"request_id": 42},
                                                                  WorkState.PENDING)


def test_it_records_and_queues_a_key_only_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = outbox_enqueue(kind="test.flaky", key="same", payload={"a": 1})
        again = outbox_enqueue(kind="test.other", key="same", payload={"a": 2})
    assert again.pk == first.pk and again.kind == "test.flaky" and again.payload == {"a": 1}
    assert OutboxItem.objects.count() == 1
    assert len(queued()) == 1


def test_what_it_queues_a_worker_delivers(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        item = outbox_enqueue(kind="test.slow_record", key="k", payload={})
    assert run_queued() == [f"outbox #{item.pk} test.slow_record: done (recorded)"]
    item.refresh_from_db()
    assert item.state == WorkState.DONE
