import datetime as dt

import pytest
import time_machine

from scheduling.models import Notice, OutboxItem, WorkState
from scheduling.work import BACKOFF_CAP, outbox_deliver, outbox_enqueue, retry_delay
from tests.factories import SchedulingRequestFactory, UserFactory
from tests.scheduling.services import support  # noqa: F401 - registers the test handlers

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2031, 3, 4, 9, 0, tzinfo=dt.UTC)


def test_it_retries_with_backoff_until_the_handler_succeeds():
    with time_machine.travel(T0, tick=False) as clock:
        item = outbox_enqueue(kind="test.flaky", key="flaky-1", payload={"request_id": 1})
        assert "failed (attempt 1)" in outbox_deliver(item_id=item.pk)
        item.refresh_from_db()
        assert item.state == WorkState.FAILED and item.attempts == 1
        assert T0 + dt.timedelta(seconds=15) <= item.next_attempt_at <= T0 + dt.timedelta(seconds=30)
        assert "[redacted]" in item.last_error and "tok-abc123" not in item.last_error

        # Not due yet: nothing happens.
        assert "nothing to do" in outbox_deliver(item_id=item.pk)
        item.refresh_from_db()
        assert item.attempts == 1

        second_try = item.next_attempt_at
        clock.move_to(second_try)
        assert "failed (attempt 2)" in outbox_deliver(item_id=item.pk)
        item.refresh_from_db()
        # The wait doubled: between half and all of 60 s.
        assert dt.timedelta(seconds=30) <= item.next_attempt_at - second_try <= dt.timedelta(seconds=60)

        clock.move_to(item.next_attempt_at)
        assert outbox_deliver(item_id=item.pk) == f"outbox #{item.pk} test.flaky: done (written)"
    item.refresh_from_db()
    assert (item.state, item.attempts, item.last_error) == (WorkState.DONE, 3, "")
    assert item.done_at is not None
    assert "nothing to do" in outbox_deliver(item_id=item.pk)


def test_its_backoff_doubles_up_to_a_cap_with_jitter():
    assert retry_delay(1, rand=lambda: 0.0) == dt.timedelta(seconds=15)
    assert retry_delay(1, rand=lambda: 1.0) == dt.timedelta(seconds=30)
    assert retry_delay(4, rand=lambda: 1.0) == dt.timedelta(seconds=240)
    assert retry_delay(30, rand=lambda: 1.0) == BACKOFF_CAP
    assert BACKOFF_CAP / 2 <= retry_delay(30) <= BACKOFF_CAP


def test_it_gives_up_after_max_attempts_and_tells_the_coordinator_once(mail_fake):
    request = SchedulingRequestFactory(coordinator=UserFactory(email="own@example.com"))
    with time_machine.travel(T0, tick=False) as clock:
        item = outbox_enqueue(kind="test.always_fails", key="k", payload={"request_id": request.pk}, max_attempts=3)
        for _ in range(3):
            outbox_deliver(item_id=item.pk)
            item.refresh_from_db()
            clock.move_to(item.next_attempt_at + dt.timedelta(seconds=1))
        assert "nothing to do" in outbox_deliver(item_id=item.pk)
    item.refresh_from_db()
    assert (item.state, item.attempts) == (WorkState.DEAD, 3)
    assert item.last_error == "RuntimeError: provider said no"
    [notice] = Notice.objects.all()
    assert (notice.kind, notice.object_id, notice.recipient) == ("outbox.dead", str(item.pk), "own@example.com")
    [message] = mail_fake.state()["messages"]
    assert message["subject"] == f"Loopwise gave up on outbox item #{item.pk} (test.always_fails)"
    assert "failed 3 time(s) (RuntimeError)" in message["text"]


def test_it_goes_dead_at_once_on_a_permanent_error(mail_fake, settings):
    settings.ADMINS = [("Ops", "ops-team@example.com")]
    item = outbox_enqueue(kind="test.revoked", key="k", payload={})
    assert outbox_deliver(item_id=item.pk) == f"outbox #{item.pk} test.revoked: dead after 1 attempt(s)"
    item.refresh_from_db()
    assert (item.state, item.attempts) == (WorkState.DEAD, 1)
    assert item.last_error == "PermanentError: the grant was revoked"
    assert [m["to"] for m in mail_fake.state()["messages"]] == [["ops-team@example.com"]]


def test_it_sends_an_unknown_kind_to_dead(mail_fake, settings):
    settings.ADMINS = [("Ops", "ops-team@example.com")]
    item = outbox_enqueue(kind="calendar.nonexistent", key="k", payload={})
    outbox_deliver(item_id=item.pk)
    item.refresh_from_db()
    assert item.state == WorkState.DEAD
    assert "no handler for outbox kind 'calendar.nonexistent'" in item.last_error
    assert Notice.objects.filter(kind="outbox.dead", object_id=str(item.pk)).count() == 1


def test_it_keeps_the_rows_check_that_attempts_never_pass_the_limit():
    item = outbox_enqueue(kind="test.flaky", key="k", payload={}, max_attempts=1)
    OutboxItem.objects.filter(pk=item.pk).update(state=WorkState.FAILED, attempts=1)
    assert "nothing to do" in outbox_deliver(item_id=item.pk)
