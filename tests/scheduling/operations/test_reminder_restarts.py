"""A worker killed at any point of a reminder's life never makes it go out twice: killed after claiming, the rerun
sends each once; killed after taking the outbox item, the sweep rescues it and it goes out once; killed (or
cut off from the mail server) while sending, it is not sent again."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import F

from scheduling import clock
from scheduling.models import OutboxItem, ReminderSend, ReminderStep, WorkState
from scheduling.reminders import reminder_claim, reminders_run
from scheduling.work import STALE_AFTER, work_sweep
from tests.scheduling.booking.support import deliver
from tests.scheduling.operations.support import candidate_mail, sequence, started

Action = ReminderStep.Action
Status = ReminderSend.Status


def _reminders(world, request) -> list[dict]:
    return [m for m in candidate_mail(world, request) if "reminder" in m["subject"]]


def _take(item: OutboxItem) -> None:
    """What `outbox_deliver` commits when a worker takes an item, before it runs the handler."""
    OutboxItem.objects.filter(pk=item.pk).update(state=WorkState.RUNNING, claimed_at=clock.now(),
                                                 attempts=F("attempts") + 1)


def test_it_sends_each_reminder_once_when_the_worker_died_after_claiming(world, frozen):
    seq = sequence((24, Action.REMIND_CANDIDATE))
    requests = [started(world) for _ in range(3)]
    frozen.move_to(max(r.link_sent_at for r in requests) + dt.timedelta(hours=24, minutes=1))

    # The worker claims its rows (ReminderSend and OutboxItem, committed), then is killed before it sends any.
    with pytest.raises(RuntimeError):
        for r in requests[:2]:
            reminder_claim(request_id=r.pk, step=seq.steps.get(), link_sent_at=r.link_sent_at)
        raise RuntimeError("worker killed")

    reminders_run()  # the next run claims only what is left
    reminders_run()
    deliver()
    reminders_run()
    deliver()

    assert [len(_reminders(world, r)) for r in requests] == [1, 1, 1]
    assert ReminderSend.objects.filter(status=Status.SENT).count() == 3
    assert OutboxItem.objects.filter(kind="mail.reminder", state=WorkState.DONE).count() == 3


def test_it_sends_once_when_the_worker_died_after_taking_the_outbox_item(world, frozen):
    sequence((24, Action.REMIND_CANDIDATE))
    request = started(world)
    frozen.move_to(request.link_sent_at + dt.timedelta(hours=24, minutes=1))
    reminders_run()
    item = OutboxItem.objects.get(kind="mail.reminder")
    _take(item)  # ... and the worker is killed before the handler runs

    deliver()
    assert _reminders(world, request) == []  # still "running": nobody else touches it

    frozen.shift(STALE_AFTER + dt.timedelta(minutes=1))
    work_sweep()  # the lost claim is rescued
    deliver()
    deliver()

    assert len(_reminders(world, request)) == 1
    assert ReminderSend.objects.get().status == Status.SENT


def test_it_does_not_send_again_when_the_worker_died_while_sending(world, frozen):
    sequence((24, Action.REMIND_CANDIDATE))
    request = started(world)
    frozen.move_to(request.link_sent_at + dt.timedelta(hours=24, minutes=1))
    reminders_run()
    item = OutboxItem.objects.get(kind="mail.reminder")
    # The worker took the item and committed "sending", then was killed: the email may or may not have left.
    _take(item)
    ReminderSend.objects.filter(status=Status.QUEUED).update(status=Status.SENDING, sending_at=clock.now())

    frozen.shift(STALE_AFTER + dt.timedelta(minutes=1))
    work_sweep()
    deliver()
    reminders_run()
    deliver()

    send = ReminderSend.objects.get()
    assert send.status == Status.UNCERTAIN and "not sent again" in send.note
    assert _reminders(world, request) == []
    assert OutboxItem.objects.get(pk=item.pk).state == WorkState.DONE


def test_it_does_not_send_again_when_the_mail_servers_answer_is_lost(world, frozen, settings):
    sequence((24, Action.REMIND_CANDIDATE))
    request = started(world)
    frozen.move_to(request.link_sent_at + dt.timedelta(hours=24, minutes=1))
    settings.EMAIL_TIMEOUT = 0.5
    # The server keeps the message but its answer never arrives in time: the worker cannot know it went out.
    world.mail.add_fault(kind="timeout", target=request.application.candidate.email, delay_ms=2000, count=1)

    reminders_run()
    deliver()

    item = OutboxItem.objects.get(kind="mail.reminder")
    assert item.state == WorkState.FAILED
    assert ReminderSend.objects.get().status == Status.SENDING
    assert len(_reminders(world, request)) == 1  # it did reach the candidate

    frozen.move_to(item.next_attempt_at + dt.timedelta(seconds=1))
    deliver()
    reminders_run()
    deliver()

    assert ReminderSend.objects.get().status == Status.UNCERTAIN
    assert len(_reminders(world, request)) == 1
