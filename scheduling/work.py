"""Outbound and inbound work that must not be lost: the outbox (our writes to calendars, ATSs, mail) and the
inbox of received webhooks.

Rows are the truth; queue messages are only a nudge. A row is queued when it is created (after commit, as a
django-q2 task carrying its id), claimed by a conditional UPDATE (one worker wins), handled, and its outcome
recorded on the row: done, failed with a backoff, or dead. `work_sweep` (every minute) re-queues what is due
and rescues rows left `running` by a killed worker, so a lost message or a dead worker delays work but never
loses it. A handler can therefore run twice for the same row (killed after its write, before `done`), so
handlers must be idempotent (the outbox key, an event's iCalUID, the ATS's own ids).

Handlers are looked up in explicit registries, kind (outbox) or ATS provider (inbound) -> dotted path of
`handler(row) -> str`, imported on first use (healthchecks' TRANSPORTS). Add an entry to the dict below, or
call `register_*_handler` at import time of a module every process loads (an AppConfig.ready). A handler raises
`PermanentError` when retrying cannot help; any other exception is retried.

Retries: after attempt n the next one waits base * 2**(n-1), capped, with "equal jitter" (half fixed, half
random) so that a provider outage does not end in a thundering herd. OutboxItem stores its `next_attempt_at`;
InboundEvent has no such column, so its backoff is counted (without jitter) from `claimed_at`, the start of
its last attempt.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import random
from collections.abc import Callable

from django.db import transaction
from django.db.models import F, Q
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string
from django_q.tasks import async_task

from scheduling import clock
from scheduling.errors import PermanentError
from scheduling.logging import redact
from scheduling.models import InboundEvent, OutboxItem, WorkState
from scheduling.notifications import notify, recipients_for

__all__ = ["OUTBOX_HANDLERS", "INBOUND_HANDLERS", "BACKOFF_BASE", "BACKOFF_CAP", "STALE_AFTER", "REQUEUE_GRACE",
           "INBOUND_MAX_ATTEMPTS", "register_outbox_handler", "register_inbound_handler", "retry_delay",
           "outbox_enqueue", "outbox_deliver", "inbound_record", "inbound_process", "work_sweep"]

logger = logging.getLogger(__name__)

# kind -> dotted path of `handler(item: OutboxItem) -> str`.
OUTBOX_HANDLERS: dict[str, str] = {
    "calendar.write_interview": "integrations.calendars.writer.write_interview",
    "calendar.cancel_interview": "integrations.calendars.writer.cancel_interview",
    "mail.interviewer_invite": "integrations.calendars.writer.send_interviewer_invite",
    "mail.candidate": "scheduling.candidate_mail.send_candidate_email",
    "mail.reminder": "scheduling.reminders.reminder_deliver",
    "ats.add_note": "integrations.ats.writeback.add_note",
    "ats.move_stage": "integrations.ats.writeback.move_stage",
    "webhook.deliver": "integrations.webhooks.delivery.webhook_deliver",  # issue #10: outbound webhooks
}
# AtsConnection.provider -> dotted path of `handler(event: InboundEvent) -> str`.
INBOUND_HANDLERS: dict[str, str] = {
    "greenhouse": "integrations.ats.sync.inbound_handle",
    "lever": "integrations.ats.sync.inbound_handle",
    "icims": "integrations.ats.sync.inbound_handle",  # issue 9: pushes stored gunzipped by the view
    "jobvite": "integrations.ats.sync.inbound_handle",  # issue 9: pushes are hints, re-read before acting
}

BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(hours=1)
# A row `running` for longer than this lost its worker. It must stay well above Q_CLUSTER["timeout"] (120 s),
# after which django-q2 kills a task anyway, or a slow but live handler would be started a second time.
STALE_AFTER = dt.timedelta(minutes=10)
# A pending row younger than this still has its first queue message in flight: the sweep leaves it alone.
REQUEUE_GRACE = dt.timedelta(minutes=1)
INBOUND_MAX_ATTEMPTS = 8
SWEEP_BATCH = 500
_ERROR_MAX = 2000
_ACTIVE = (WorkState.PENDING, WorkState.FAILED)


def register_outbox_handler(kind: str, dotted: str) -> None:
    OUTBOX_HANDLERS[kind] = dotted


def register_inbound_handler(provider: str, dotted: str) -> None:
    INBOUND_HANDLERS[provider] = dotted


def retry_delay(attempts: int, *, rand: Callable[[], float] = random.random) -> dt.timedelta:
    """How long to wait after `attempts` failed attempts (1 or more): between half and all of
    min(cap, base * 2**(attempts-1))."""
    raw = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(attempts - 1, 0))
    return raw * (0.5 + 0.5 * rand())


def _handler(registry: dict[str, str], name: str, what: str) -> Callable:
    dotted = registry.get(name)
    if dotted is None:
        raise PermanentError(f"no handler for {what} {name!r}", {what: name})
    return import_string(dotted)


def _describe(e: BaseException) -> str:
    return redact(f"{type(e).__name__}: {e}")[:_ERROR_MAX]


def _enqueue(func: str, obj_id: int, *, group: str) -> None:
    try:
        async_task(func, obj_id, group=group, task_name=f"{group} #{obj_id}")
    except Exception as e:  # noqa: BLE001 - a broker hiccup only delays the work: the sweep queues it again
        logger.warning("could not queue %s #%s (the sweep will): %s", group, obj_id, _describe(e))


def _admin_url(obj) -> str:
    try:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""


# ---------------------------------------------------------------------------------------------------------------
# Outbox


def outbox_enqueue(*, kind: str, key: str, payload: dict, target: str = "", max_attempts: int = 8) -> OutboxItem:
    """Record an external write to do, once per `key` (a second call with the same key returns the first item,
    whatever its state), and queue its delivery after commit. `payload` holds ids, never personal data."""
    now = clock.now()
    item, created = OutboxItem.objects.get_or_create(key=key, defaults={
        "kind": kind, "target": target, "payload": payload, "max_attempts": max_attempts,
        "next_attempt_at": now, "created_at": now})
    if created:
        transaction.on_commit(functools.partial(_enqueue, "scheduling.tasks.deliver_outbox_item", item.pk,
                                                group="outbox"))
    return item


def outbox_deliver(*, item_id: int) -> str:
    """Claim item `item_id` if it is due, run its handler, and record the outcome. Returns a short summary.

    Claiming is one conditional UPDATE (pending or failed, due, attempts left -> running, attempts + 1), so of
    two workers given the same id only one runs the handler. The outcome is written only if the claim is still
    ours (a sweep may have declared this worker lost)."""
    now = clock.now()
    claimed = OutboxItem.objects.filter(pk=item_id, state__in=_ACTIVE, next_attempt_at__lte=now,
                                        attempts__lt=F("max_attempts")).update(
        state=WorkState.RUNNING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return f"outbox #{item_id}: nothing to do (not due, taken, or finished)"
    item = OutboxItem.objects.get(pk=item_id)
    try:
        result = _handler(OUTBOX_HANDLERS, item.kind, "outbox kind")(item)
    except PermanentError as e:
        return _outbox_give_up(item, _describe(e))
    except Exception as e:  # noqa: BLE001 - whatever a handler raises is recorded on the row and retried
        if item.attempts >= item.max_attempts:
            return _outbox_give_up(item, _describe(e))
        next_at = clock.now() + retry_delay(item.attempts)
        _outbox_finish(item, state=WorkState.FAILED, last_error=_describe(e), next_attempt_at=next_at)
        return f"outbox #{item.pk} {item.kind}: failed (attempt {item.attempts}), retry at {next_at:%H:%M:%S} UTC"
    if not _outbox_finish(item, state=WorkState.DONE, last_error="", done_at=clock.now()):
        return f"outbox #{item.pk} {item.kind}: done, but the claim was lost meanwhile"
    return f"outbox #{item.pk} {item.kind}: done ({str(result)[:200]})"


def _outbox_finish(item: OutboxItem, **fields) -> bool:
    won = OutboxItem.objects.filter(pk=item.pk, state=WorkState.RUNNING, claimed_at=item.claimed_at).update(**fields)
    if not won:
        logger.warning("outbox #%s: claim lost before the outcome was recorded", item.pk)
    return bool(won)


def _outbox_give_up(item: OutboxItem, error: str) -> str:
    if _outbox_finish(item, state=WorkState.DEAD, last_error=error):
        _tell_dead_outbox(item, reason=error.split(":", 1)[0])
    return f"outbox #{item.pk} {item.kind}: dead after {item.attempts} attempt(s)"


def _tell_dead_outbox(item: OutboxItem, *, reason: str) -> None:
    # The error text itself stays on the row (shown in the admin): a provider may echo personal data in it.
    notify(kind="outbox.dead", obj=item, recipients=recipients_for(payload=item.payload, target=item.target),
           subject=f"Loopwise gave up on outbox item #{item.pk} ({item.kind})",
           body=(f"Outbox item #{item.pk} ({item.kind}{', ' + item.target if item.target else ''}) failed "
                 f"{item.attempts} time(s) ({reason}) and will not be retried. The admin page shows the last "
                 f"error; fix the cause, then queue it again."),
           url=_admin_url(item))


# ---------------------------------------------------------------------------------------------------------------
# Inbound


def inbound_record(*, connection, event_key: str, kind: str, raw_body: str) -> tuple[InboundEvent, bool]:
    """Store a received event once per (connection, event_key) and queue its processing after commit.

    Returns the event and whether it is new. A replay, or two deliveries racing, leave one row: get_or_create
    inserts in a savepoint and, on the unique constraint's IntegrityError, reads the winner's row."""
    event, created = InboundEvent.objects.get_or_create(connection=connection, event_key=event_key, defaults={
        "kind": kind, "raw_body": raw_body, "received_at": clock.now()})
    if created:
        transaction.on_commit(functools.partial(_enqueue, "scheduling.tasks.process_inbound_event", event.pk,
                                                group="inbound"))
    return event, created


def _inbound_due(now: dt.datetime) -> Q:
    """Failed events whose backoff, counted from the start of their last attempt, has passed."""
    due = Q()
    for n in range(1, INBOUND_MAX_ATTEMPTS):
        due |= Q(attempts=n, claimed_at__lte=now - retry_delay(n, rand=lambda: 1.0))
    return Q(state=WorkState.PENDING) | (Q(state=WorkState.FAILED) & due)


def inbound_process(*, event_id: int) -> str:
    """Claim event `event_id` if it is due, run its provider's handler, and record the outcome."""
    now = clock.now()
    claimed = InboundEvent.objects.filter(_inbound_due(now), pk=event_id,
                                          attempts__lt=INBOUND_MAX_ATTEMPTS).update(
        state=WorkState.RUNNING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return f"inbound #{event_id}: nothing to do (not due, taken, or finished)"
    event = InboundEvent.objects.select_related("connection").get(pk=event_id)
    try:
        result = _handler(INBOUND_HANDLERS, event.connection.provider, "provider")(event)
    except PermanentError as e:
        return _inbound_give_up(event, _describe(e))
    except Exception as e:  # noqa: BLE001 - whatever a handler raises is recorded on the row and retried
        if event.attempts >= INBOUND_MAX_ATTEMPTS:
            return _inbound_give_up(event, _describe(e))
        _inbound_finish(event, state=WorkState.FAILED, last_error=_describe(e))
        return f"inbound #{event.pk} {event.kind}: failed (attempt {event.attempts})"
    if not _inbound_finish(event, state=WorkState.DONE, last_error="", processed_at=clock.now()):
        return f"inbound #{event.pk} {event.kind}: done, but the claim was lost meanwhile"
    return f"inbound #{event.pk} {event.kind}: done ({str(result)[:200]})"


def _inbound_finish(event: InboundEvent, **fields) -> bool:
    won = InboundEvent.objects.filter(pk=event.pk, state=WorkState.RUNNING,
                                      claimed_at=event.claimed_at).update(**fields)
    if not won:
        logger.warning("inbound #%s: claim lost before the outcome was recorded", event.pk)
    return bool(won)


def _inbound_give_up(event: InboundEvent, error: str) -> str:
    _inbound_bury(event, error)
    return f"inbound #{event.pk} {event.kind}: dead after {event.attempts} attempt(s)"


def _inbound_bury(event: InboundEvent, error: str) -> bool:
    if not _inbound_finish(event, state=WorkState.DEAD, last_error=error):
        return False
    connection = event.connection
    notify(kind="inbound.dead", obj=event,
           recipients=[connection.fallback_email] if connection.fallback_email else recipients_for(payload={}),
           subject=f"Loopwise could not process event #{event.pk} from {connection.name}",
           body=(f"Inbound event #{event.pk} ({event.kind or 'event'}) from {connection} failed "
                 f"{event.attempts} time(s) ({error.split(':', 1)[0]}) and will not be retried. The admin "
                 f"page shows the last error."),
           url=_admin_url(event))
    return True


# ---------------------------------------------------------------------------------------------------------------
# Sweep


def work_sweep() -> str:
    """Rescue rows whose worker was lost, and queue every due row again. Returns a short summary."""
    now = clock.now()
    stale_before = now - STALE_AFTER
    lost = f"the worker stopped while running it (claimed before {stale_before:%Y-%m-%d %H:%M} UTC)"

    # Outbox: lost claims with attempts left are retried now; those without go dead (and someone is told).
    rescued = OutboxItem.objects.filter(state=WorkState.RUNNING, claimed_at__lt=stale_before,
                                        attempts__lt=F("max_attempts")).update(
        state=WorkState.FAILED, next_attempt_at=now, last_error=lost)
    dead = 0
    for item in OutboxItem.objects.filter(state=WorkState.RUNNING, claimed_at__lt=stale_before)[:SWEEP_BATCH]:
        if _outbox_finish(item, state=WorkState.DEAD, last_error=lost):
            _tell_dead_outbox(item, reason="worker lost")
            dead += 1
    due = (OutboxItem.objects
           .filter(Q(state=WorkState.FAILED, next_attempt_at__lte=now)
                   | Q(state=WorkState.PENDING, next_attempt_at__lte=now - REQUEUE_GRACE))
           .order_by("next_attempt_at", "id").values_list("pk", flat=True)[:SWEEP_BATCH])
    queued = 0
    for pk in due:
        _enqueue("scheduling.tasks.deliver_outbox_item", pk, group="outbox")
        queued += 1

    # Inbound: the same, with the attempt limit in code.
    in_rescued = InboundEvent.objects.filter(state=WorkState.RUNNING, claimed_at__lt=stale_before,
                                             attempts__lt=INBOUND_MAX_ATTEMPTS).update(
        state=WorkState.FAILED, last_error=lost)
    in_dead = 0
    for event in (InboundEvent.objects.select_related("connection")
                  .filter(state=WorkState.RUNNING, claimed_at__lt=stale_before)[:SWEEP_BATCH]):
        in_dead += _inbound_bury(event, lost)
    in_due = (InboundEvent.objects
              .filter(_inbound_due(now), attempts__lt=INBOUND_MAX_ATTEMPTS)
              .exclude(state=WorkState.PENDING, received_at__gt=now - REQUEUE_GRACE)
              .order_by("received_at", "id").values_list("pk", flat=True)[:SWEEP_BATCH])
    in_queued = 0
    for pk in in_due:
        _enqueue("scheduling.tasks.process_inbound_event", pk, group="inbound")
        in_queued += 1
    return (f"outbox: {queued} queued, {rescued} rescued, {dead} dead; "
            f"inbound: {in_queued} queued, {in_rescued} rescued, {in_dead} dead")
