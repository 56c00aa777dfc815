"""The periodic tasks of operations: declared in SCHEDULES at their frequencies, and bounded in time: a run out
of budget stops, the next one goes on where it stopped, and small batches still cover everything."""

from __future__ import annotations

import datetime as dt

from scheduling import tasks
from scheduling.escalation import requests_expire
from scheduling.models import ReminderSend, ReminderStep, SchedulingLink, SchedulingRequest
from scheduling.reminders import reminders_run
from scheduling.schedules import SCHEDULES
from tests.scheduling.operations.support import sequence, started

S = SchedulingRequest.State


def test_it_declares_each_task_at_its_frequency():
    declared = {func: cron for _name, func, cron, _comment in SCHEDULES}
    assert declared["scheduling.tasks.send_reminders"] == "*/5 * * * *"
    assert declared["scheduling.tasks.escalate_expiring_links"] == "2-59/15 * * * *"
    assert declared["scheduling.tasks.expire_requests"] == "7-59/15 * * * *"
    assert declared["scheduling.tasks.record_training"] == "12-59/15 * * * *"
    assert tasks.PERIODIC_BUDGET < 120  # below Q_CLUSTER["timeout"], after which django-q2 kills a task


def test_it_goes_on_where_a_run_out_of_time_stopped(world, frozen):
    sequence((24, ReminderStep.Action.REMIND_CANDIDATE))
    requests = [started(world) for _ in range(3)]
    frozen.move_to(max(r.link_sent_at for r in requests) + dt.timedelta(hours=25))

    assert reminders_run(budget_seconds=0).startswith("reminders: 0 queued")
    assert not ReminderSend.objects.exists()
    reminders_run(batch=1)
    assert ReminderSend.objects.count() == 3

    latest = max(SchedulingLink.objects.values_list("expires_at", flat=True))
    frozen.move_to(latest + dt.timedelta(minutes=1))
    assert requests_expire(budget_seconds=0) == "requests: 0 moved to expired"
    assert requests_expire(batch=1) == "requests: 3 moved to expired"
    assert set(SchedulingRequest.objects.values_list("state", flat=True)) == {S.EXPIRED}
