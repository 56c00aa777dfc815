"""Nothing is lost when the worker is: a delivery stored by the view whose queued processing never ran (the message
lost, or the worker killed before it started), or whose worker died mid-way, is processed from its row by the
sweep, and still creates its one request."""

from __future__ import annotations

import datetime as dt

from django_q.models import OrmQ

from scheduling.models import InboundEvent, SchedulingRequest, WorkState
from scheduling.work import REQUEUE_GRACE, STALE_AFTER, work_sweep
from tests.integrations.ats_flow.conftest import later


def test_it_creates_the_request_when_the_queued_processing_never_ran(flow, post_webhook, run_queued, frozen):
    sent = flow.sent(flow.move("Onsite")["delivery"])
    assert post_webhook(flow, sent.body, sent.headers).status_code == 200
    assert OrmQ.objects.count() == 1
    OrmQ.objects.all().delete()  # the worker that took the message was killed before it ran anything

    later(frozen, seconds=REQUEUE_GRACE.total_seconds() + 5)
    summary = work_sweep()
    run_queued()

    assert "inbound: 1 queued" in summary
    [request] = flow.requests()
    assert request.state == SchedulingRequest.State.AWAITING_CANDIDATE
    assert InboundEvent.objects.get().state == WorkState.DONE


def test_it_creates_the_request_when_the_worker_died_while_processing(flow, post_webhook, run_queued, frozen):
    sent = flow.sent(flow.move("Onsite")["delivery"])
    post_webhook(flow, sent.body, sent.headers)
    OrmQ.objects.all().delete()
    event = InboundEvent.objects.get()
    # What inbound_process's claim does, then the worker dies before doing anything else.
    InboundEvent.objects.filter(pk=event.pk).update(state=WorkState.RUNNING, claimed_at=event.received_at,
                                                    attempts=1)

    later(frozen, seconds=(STALE_AFTER + dt.timedelta(minutes=1)).total_seconds())
    summary = work_sweep()
    run_queued()

    assert "inbound: 1 queued, 1 rescued" in summary
    assert len(flow.requests()) == 1
    event.refresh_from_db()
    assert event.state == WorkState.DONE and event.attempts == 2


def test_it_leaves_a_fresh_event_to_its_queued_message(flow, post_webhook):
    sent = flow.sent(flow.move("Onsite")["delivery"])
    post_webhook(flow, sent.body, sent.headers)

    assert "inbound: 0 queued" in work_sweep()
    assert flow.requests() == []
