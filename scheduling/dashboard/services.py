"""The dashboard's one write of its own: queue a failing or dead outbox item again."""

from __future__ import annotations

import functools
import logging

from django.db import transaction
from django_q.tasks import async_task

from scheduling import clock
from scheduling.audit import audit_log
from scheduling.errors import LoopwiseError
from scheduling.models import OutboxItem, WorkState

__all__ = ["outbox_retry"]

logger = logging.getLogger(__name__)


def _nudge(item_id: int) -> None:
    try:
        async_task("scheduling.tasks.deliver_outbox_item", item_id, group="outbox", task_name=f"outbox #{item_id}")
    except Exception as e:  # noqa: BLE001 - a broker hiccup only delays it: the sweep queues pending items too
        logger.warning("could not queue outbox #%s (the sweep will): %s", item_id, type(e).__name__)


def outbox_retry(*, item: OutboxItem, actor) -> OutboxItem:
    """Put a failed or dead item back to pending with its attempts reset, due now, and queue it after commit.
    The last error stays on the row until an attempt succeeds. Raises LoopwiseError when the item is not failed
    or dead (done, pending or running: nothing to retry)."""
    now = clock.now()
    with transaction.atomic():
        won = OutboxItem.objects.filter(pk=item.pk, state__in=[WorkState.FAILED, WorkState.DEAD]).update(
            state=WorkState.PENDING, attempts=0, next_attempt_at=now, claimed_at=None)
        if not won:
            item.refresh_from_db()
            raise LoopwiseError(f"outbox item #{item.pk} is {item.get_state_display().lower()}: nothing to retry",
                                {"outbox_id": item.pk, "state": item.state})
        audit_log(action="outbox.retried", obj=item, actor=actor,
                  summary=f"{item.kind}: was {item.state} after {item.attempts} attempt(s); queued again")
        transaction.on_commit(functools.partial(_nudge, item.pk))
    item.refresh_from_db()
    return item
