import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection as db_connection

from scheduling.models import AuditEvent, InboundEvent, Notice, WorkState
from scheduling.work import INBOUND_MAX_ATTEMPTS, inbound_process, inbound_record
from tests.factories import AtsConnectionFactory
from tests.scheduling.services import support  # noqa: F401 - registers the test handlers
from tests.scheduling.services.support import queued

T0 = dt.datetime(2031, 3, 4, 9, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_it_records_a_replayed_event_once_and_queues_it_once(django_capture_on_commit_callbacks):
    connection = AtsConnectionFactory(provider="test-provider")
    with django_capture_on_commit_callbacks(execute=True):
        first, created = inbound_record(connection=connection, event_key="evt-1", kind="stage", raw_body="{}")
        again, created_again = inbound_record(connection=connection, event_key="evt-1", kind="stage", raw_body="{}")
    assert (created, created_again) == (True, False) and again.pk == first.pk
    assert InboundEvent.objects.count() == 1
    assert [(t["func"], t["args"]) for t in queued()] == [("scheduling.tasks.process_inbound_event", (first.pk,))]


@pytest.mark.django_db
def test_it_keeps_keys_apart_per_connection():
    one, two = AtsConnectionFactory(), AtsConnectionFactory()
    inbound_record(connection=one, event_key="evt-1", kind="k", raw_body="")
    _, created = inbound_record(connection=two, event_key="evt-1", kind="k", raw_body="")
    assert created and InboundEvent.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_it_records_one_row_when_two_deliveries_race():
    connection = AtsConnectionFactory(provider="test-provider")
    barrier = threading.Barrier(2)
    created: list[bool] = []

    def receive() -> None:
        try:
            barrier.wait(timeout=10)
            created.append(inbound_record(connection=connection, event_key="evt-race", kind="k", raw_body="{}")[1])
        finally:
            db_connection.close()

    threads = [threading.Thread(target=receive) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(created) == [False, True]
    assert InboundEvent.objects.filter(event_key="evt-race").count() == 1


@pytest.mark.django_db
def test_it_processes_an_event_with_its_providers_handler():
    connection = AtsConnectionFactory(provider="test-provider")
    event, _ = inbound_record(connection=connection, event_key="e", kind="stage", raw_body="{}")
    assert inbound_process(event_id=event.pk) == f"inbound #{event.pk} stage: done (processed stage)"
    event.refresh_from_db()
    assert (event.state, event.attempts) == (WorkState.DONE, 1) and event.processed_at is not None
    assert AuditEvent.objects.filter(action="test.processed").count() == 1
    assert "nothing to do" in inbound_process(event_id=event.pk)


@pytest.mark.django_db
def test_it_retries_a_failed_event_after_its_backoff_and_gives_up_at_the_limit(mail_fake):
    connection = AtsConnectionFactory(provider="test-failing", fallback_email="ats-ops@example.com")
    with time_machine.travel(T0, tick=False) as clock:
        event, _ = inbound_record(connection=connection, event_key="e", kind="stage", raw_body="{}")
        assert "failed (attempt 1)" in inbound_process(event_id=event.pk)
        clock.shift(dt.timedelta(seconds=29))
        assert "nothing to do" in inbound_process(event_id=event.pk)
        clock.shift(dt.timedelta(seconds=1))
        assert "failed (attempt 2)" in inbound_process(event_id=event.pk)
        clock.shift(dt.timedelta(seconds=59))
        assert "nothing to do" in inbound_process(event_id=event.pk)
        for _ in range(INBOUND_MAX_ATTEMPTS - 2):
            clock.shift(dt.timedelta(hours=1))
            result = inbound_process(event_id=event.pk)
        assert result == f"inbound #{event.pk} stage: dead after {INBOUND_MAX_ATTEMPTS} attempt(s)"
        clock.shift(dt.timedelta(hours=1))
        assert "nothing to do" in inbound_process(event_id=event.pk)
    event.refresh_from_db()
    assert (event.state, event.attempts) == (WorkState.DEAD, INBOUND_MAX_ATTEMPTS)
    assert event.last_error == "ValueError: unexpected payload"
    notice = Notice.objects.get()
    assert (notice.kind, notice.recipient) == ("inbound.dead", "ats-ops@example.com")
    assert len(mail_fake.state()["messages"]) == 1


@pytest.mark.django_db
def test_it_sends_an_event_of_a_provider_without_handler_to_dead():
    connection = AtsConnectionFactory(provider="unregistered")
    event, _ = inbound_record(connection=connection, event_key="e", kind="stage", raw_body="{}")
    assert "dead after 1 attempt(s)" in inbound_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.state == WorkState.DEAD and "no handler for provider 'unregistered'" in event.last_error
