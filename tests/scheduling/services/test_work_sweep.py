import datetime as dt

import pytest
import time_machine

from scheduling.models import InboundEvent, Notice, OutboxItem, WorkState
from scheduling.work import work_sweep
from tests.factories import AtsConnectionFactory, OutboxItemFactory
from tests.scheduling.services import support  # noqa: F401 - registers the test handlers
from tests.scheduling.services.support import queued, run_queued

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2031, 3, 4, 9, 0, tzinfo=dt.UTC)


def test_it_rescues_an_item_a_lost_worker_left_running_and_it_gets_delivered():
    with time_machine.travel(T0, tick=False):
        item = OutboxItemFactory(kind="test.slow_record", state=WorkState.RUNNING, attempts=1,
                                 claimed_at=T0 - dt.timedelta(minutes=11), next_attempt_at=T0 - dt.timedelta(hours=1))
        recent = OutboxItemFactory(kind="test.slow_record", state=WorkState.RUNNING, attempts=1,
                                   claimed_at=T0 - dt.timedelta(minutes=5), next_attempt_at=T0)
        assert work_sweep() == "outbox: 1 queued, 1 rescued, 0 dead; inbound: 0 queued, 0 rescued, 0 dead"
        assert [(t["func"], t["args"]) for t in queued()] == [("scheduling.tasks.deliver_outbox_item", (item.pk,))]
        assert run_queued() == [f"outbox #{item.pk} test.slow_record: done (recorded)"]
    item.refresh_from_db()
    assert (item.state, item.attempts) == (WorkState.DONE, 2)
    recent.refresh_from_db()
    assert recent.state == WorkState.RUNNING


def test_it_buries_a_lost_item_with_no_attempts_left(mail_fake, settings):
    settings.ADMINS = [("Ops", "ops-team@example.com")]
    with time_machine.travel(T0, tick=False):
        item = OutboxItemFactory(kind="test.slow_record", state=WorkState.RUNNING, attempts=2, max_attempts=2,
                                 claimed_at=T0 - dt.timedelta(hours=1))
        assert work_sweep().startswith("outbox: 0 queued, 0 rescued, 1 dead")
    item.refresh_from_db()
    assert item.state == WorkState.DEAD and "worker stopped" in item.last_error
    assert Notice.objects.get().kind == "outbox.dead"
    assert queued() == []


def test_it_queues_due_retries_and_forgotten_pending_items_but_not_fresh_ones():
    with time_machine.travel(T0, tick=False):
        due_retry = OutboxItemFactory(state=WorkState.FAILED, attempts=1, next_attempt_at=T0)
        OutboxItemFactory(state=WorkState.FAILED, attempts=1, next_attempt_at=T0 + dt.timedelta(seconds=1))
        forgotten = OutboxItemFactory(state=WorkState.PENDING, next_attempt_at=T0 - dt.timedelta(minutes=2))
        OutboxItemFactory(state=WorkState.PENDING, next_attempt_at=T0 - dt.timedelta(seconds=10))
        OutboxItemFactory(state=WorkState.DONE, next_attempt_at=T0 - dt.timedelta(days=1))
        OutboxItemFactory(state=WorkState.DEAD, next_attempt_at=T0 - dt.timedelta(days=1))
        assert work_sweep().startswith("outbox: 2 queued, 0 rescued, 0 dead")
    assert sorted(t["args"][0] for t in queued()) == sorted([due_retry.pk, forgotten.pk])


def test_it_rescues_and_queues_inbound_events_the_same_way():
    connection = AtsConnectionFactory(provider="test-provider")
    with time_machine.travel(T0, tick=False):
        lost = InboundEvent.objects.create(connection=connection, event_key="lost", kind="candidate.moved",
                                           state=WorkState.RUNNING, attempts=1, received_at=T0 - dt.timedelta(hours=1),
                                           claimed_at=T0 - dt.timedelta(minutes=15))
        forgotten = InboundEvent.objects.create(connection=connection, event_key="forgotten", kind="x",
                                                received_at=T0 - dt.timedelta(minutes=5))
        InboundEvent.objects.create(connection=connection, event_key="fresh", kind="x", received_at=T0)
        assert work_sweep() == "outbox: 0 queued, 0 rescued, 0 dead; inbound: 2 queued, 1 rescued, 0 dead"
        assert sorted(run_queued()) == sorted([f"inbound #{lost.pk} candidate.moved: done (processed candidate.moved)",
                                               f"inbound #{forgotten.pk} x: done (processed x)"])
    lost.refresh_from_db()
    assert (lost.state, lost.attempts) == (WorkState.DONE, 2)
    assert OutboxItem.objects.count() == 0
