"""Background tasks (django-q2): each loads by id or takes no argument, calls one service, and returns a short
summary that the django-q2 admin shows. Arguments are ids only: task arguments are pickled and stored."""

from __future__ import annotations

import datetime as dt

from scheduling.escalation import links_escalate, requests_expire
from scheduling.notifications import notice_send_digests
from scheduling.privacy import retention_sweep
from scheduling.recompute import options_recompute, options_recompute_for, options_recompute_stale
from scheduling.reminders import reminders_run
from scheduling.training import training_record
from scheduling.work import inbound_process, outbox_deliver, work_sweep

__all__ = ["deliver_outbox_item", "process_inbound_event", "sweep_work", "send_notice_digests", "run_retention",
           "send_reminders", "escalate_expiring_links", "expire_requests", "record_training", "recompute_options",
           "recompute_request_options", "recompute_stale_options"]

# Periodic tasks of issue #7 stop after this many seconds of work and go on at their next run: well below
# Q_CLUSTER["timeout"] (120 s), after which django-q2 would kill them.
PERIODIC_BUDGET = 60.0


def deliver_outbox_item(item_id: int) -> str:
    return outbox_deliver(item_id=item_id)


def process_inbound_event(event_id: int) -> str:
    return inbound_process(event_id=event_id)


def sweep_work() -> str:
    return work_sweep()


def send_notice_digests() -> str:
    return notice_send_digests()


def run_retention() -> str:
    return retention_sweep()


def send_reminders() -> str:
    return reminders_run(budget_seconds=PERIODIC_BUDGET)


def escalate_expiring_links() -> str:
    return links_escalate(budget_seconds=PERIODIC_BUDGET)


def expire_requests() -> str:
    return requests_expire(budget_seconds=PERIODIC_BUDGET)


def record_training() -> str:
    return training_record(budget_seconds=PERIODIC_BUDGET)


def recompute_options(interviewer_ids: list[int], room_ids: list[int], reason: str = "",
                      changed_at: str | None = None) -> str:
    """`changed_at`: ISO instant the change committed (queued before it existed: None, re-solve everything)."""
    done = options_recompute_for(interviewer_ids=interviewer_ids, room_ids=room_ids, reason=reason or "a change",
                                 changed_at=dt.datetime.fromisoformat(changed_at) if changed_at else None)
    return f"{done} option set(s) re-solved"


def recompute_request_options(request_ids: list[int], reason: str = "", changed_at: str | None = None) -> str:
    done = options_recompute(request_ids=request_ids, reason=reason or "a change",
                             changed_at=dt.datetime.fromisoformat(changed_at) if changed_at else None)
    return f"{done} of {len(request_ids)} option set(s) re-solved"


def recompute_stale_options() -> str:
    return options_recompute_stale()
