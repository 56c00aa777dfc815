"""Polling: the safety net under webhooks. `ats_poll_all` runs from the `ats-poll` schedule (every 5 minutes).

For each active connection, `ats_poll` asks the adapter for the applications changed since the stored watermark
minus `POLL_OVERLAP` (updates can share a timestamp; the first poll starts from the connection's creation, so
connecting an ATS never sweeps up its whole past), and hands each change that can matter to
`integrations.ats.sync.stage_change_handle`, the path webhooks take, so the same change seen by both creates
one request. Changes that cannot matter cost no call: an application Loopwise does not know in a stage no plan
maps, or one already known in the stage it is in now with its request made.

The watermark only moves forward (a conditional UPDATE), to the latest update seen, but never past a change
whose handling failed for a reason that may pass (throttling, an outage, credentials, a missing scope): the next
poll sees it again. A change that fails for itself only (the application was deleted meanwhile) is skipped.

Quiet webhooks: after handling, a connection whose applications entered a mapped stage as first seen by a poll
(audited "application.stage_entered" with actor "poll"), at least ATS_QUIET_WEBHOOK_MINUTES ago by the ATS's
clock, while no webhook at all arrived from a minute before that change onwards (the webhooks component's last
success), is flagged quiet (`health.mark_quiet`, which tells the coordinators once). That is what a
subscription removed on the ATS side looks like.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db.models import Q

from integrations.ats import health
from integrations.ats.base import component_names, provider_for
from integrations.ats.sync import STAGE_ENTERED, left_new, stage_change_handle
from integrations.errors import ProviderError
from integrations.models import AtsComponentHealth, AtsConnection
from scheduling import clock
from scheduling.models import Application, AtsStage, AuditEvent, SchedulingRequest

__all__ = ["POLL_OVERLAP", "QUIET_LOOKBACK", "quiet_after", "ats_poll", "ats_poll_all", "quiet_check"]

logger = logging.getLogger(__name__)

POLL_OVERLAP = dt.timedelta(minutes=2)
QUIET_LOOKBACK = dt.timedelta(days=1)  # how far back poll-found stage entries are judged


def quiet_after() -> dt.timedelta:
    return dt.timedelta(minutes=settings.ATS_QUIET_WEBHOOK_MINUTES)


def ats_poll_all() -> str:
    """Poll every active connection; one line per connection."""
    lines = [ats_poll(connection=c) for c in AtsConnection.objects.filter(active=True).order_by("pk")]
    return "; ".join(lines) or "no active ATS connection"


def ats_poll(*, connection: AtsConnection) -> str:
    """Poll `connection` once (see the module docstring). Returns a short summary; never raises ProviderError."""
    since = (connection.poll_watermark or connection.created_at or clock.now()) - POLL_OVERLAP
    with provider_for(connection) as ats:
        try:
            result = ats.poll_changes(since)
        except ProviderError as e:
            health.mark_error(connection=connection, error=e)
            return f"{connection.name}: poll failed ({e.reason or e.status}), watermark kept"
        health.mark_success(connection=connection, component="auth")
        health.mark_success(connection=connection, component="reads")
        mapped = set(AtsStage.objects.filter(requisition__ats_connection=connection, plans__active=True)
                     .exclude(external_id="").values_list("external_id", flat=True))
        known = {a.external_id: a for a in Application.objects.select_related("stage").filter(
            ats_connection=connection, external_id__in=[c.application_external_id for c in result.changes])}
        handled = skipped = failed = 0
        hold: dt.datetime | None = None
        for change in result.changes:
            local = known.get(change.application_external_id)
            if not _worth_a_look(change, local, mapped):
                continue
            try:
                stage_change_handle(connection=connection, application_external_id=change.application_external_id,
                                    source="poll", provider=ats)
                handled += 1
            except ProviderError as e:
                if e.permanent and e.scope == "request":
                    skipped += 1
                    continue
                health.mark_error(connection=connection, error=e)
                failed += 1
                hold = _earliest(hold, change.updated_at or since)
            except Exception as e:  # noqa: BLE001 - one change must not stop the others; it is polled again
                logger.warning("poll of ATS connection #%s: application %s failed: %s", connection.pk,
                               change.application_external_id, type(e).__name__)
                failed += 1
                hold = _earliest(hold, change.updated_at or since)
    watermark = result.new_watermark if hold is None else min(result.new_watermark, hold - dt.timedelta(seconds=1))
    AtsConnection.objects.filter(pk=connection.pk).filter(
        Q(poll_watermark__isnull=True) | Q(poll_watermark__lt=watermark)).update(poll_watermark=watermark)
    quiet = quiet_check(connection=connection)
    return (f"{connection.name}: {len(result.changes)} changed, {handled} handled, {skipped} skipped, "
            f"{failed} failed" + ("; webhooks quiet" if quiet else ""))


def _earliest(current: dt.datetime | None, moment: dt.datetime) -> dt.datetime:
    return moment if current is None or moment < current else current


def _worth_a_look(change, local: Application | None, mapped: set[str]) -> bool:
    """False for a change that cannot create a request nor move what Loopwise knows (no API call is made)."""
    local_stage = local.stage.external_id if local is not None and local.stage is not None else None
    if change.stage_external_id not in mapped:
        return local is not None and local_stage != change.stage_external_id
    if local is None or local_stage != change.stage_external_id:
        return True
    # Known, in this mapped stage already: only a stage visit without any request (or one left `new`) needs work.
    requests = SchedulingRequest.objects.filter(application=local, plan__stage=local.stage, plan__active=True)
    return not requests.exists() or any(left_new(r) for r in requests.filter(state=SchedulingRequest.State.NEW))


def quiet_check(*, connection: AtsConnection) -> bool:
    """Flag the connection's webhooks quiet when a poll found a mapped-stage entry no webhook delivered within
    ATS_QUIET_WEBHOOK_MINUTES (see the module docstring). True when flagged now."""
    now = clock.now()
    cutoff = now - quiet_after()
    row = AtsComponentHealth.objects.filter(connection=connection, component=component_names(connection)[0]).first()
    if row is not None and row.quiet_since is not None:
        return False  # flagged already; a delivery clears it
    alive_since = (row.last_success_at - health.SUCCESS_EVERY) if row and row.last_success_at else None
    found = (AuditEvent.objects.filter(action=STAGE_ENTERED, actor_label="poll", object_type="scheduling.application",
                                       at__gte=now - quiet_after() - QUIET_LOOKBACK)
             .values_list("object_id", flat=True))
    missed = (Application.objects.filter(ats_connection=connection, pk__in=[int(i) for i in found if i.isdigit()],
                                         stage__plans__active=True, stage_entered_at__lte=cutoff)
              .select_related("stage").order_by("stage_entered_at"))
    if alive_since is not None:
        missed = missed.filter(stage_entered_at__gt=alive_since)
    first = missed.first()
    if first is None:
        return False
    minutes = int((now - first.stage_entered_at).total_seconds() // 60)
    return health.mark_quiet(connection=connection,
                             detail=f"application #{first.pk} entered stage {first.stage.external_id} "
                                    f"({first.stage.name}) {minutes} minutes ago and no webhook has arrived since")
