"""The free/busy cache: FreeBusyBlock rows per calendar, in UTC, refreshed from the providers.

A periodic task refreshes every calendar whose cache is older than `settings.FREEBUSY_MAX_AGE`
(or never read), over the horizon the active plans can offer; booking refreshes just the
chosen people, with a time budget. Per connection, one adapter call reads all its calendars
(the adapter batches to the provider's limit); each calendar's blocks are replaced in one
transaction, so a reader never sees half a refresh. Health follows each answer
(`integrations.calendars.health`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q

from integrations.calendars import health
from integrations.calendars.base import BusyBlock, Window, provider_for
from integrations.errors import ProviderError
from integrations.models import Calendar, CalendarConnection, Health
from scheduling import clock
from scheduling.models import FreeBusyBlock, Interviewer, InterviewPlan, Room
from scheduling.recompute import recompute_enqueue

log = logging.getLogger(__name__)


@dataclass
class RefreshReport:
    calendars: int = 0
    refreshed: int = 0
    failed: list[int] = field(default_factory=list)          # calendar ids that failed alone
    connections_failed: list[int] = field(default_factory=list)
    requests: int = 0
    skipped_for_budget: int = 0

    def __str__(self) -> str:
        return (f"{self.refreshed}/{self.calendars} calendars refreshed, {len(self.failed)} failed, "
                f"{len(self.connections_failed)} connections failed, {self.requests} requests")


def max_age() -> dt.timedelta:
    return dt.timedelta(minutes=getattr(settings, "FREEBUSY_MAX_AGE_MINUTES", 15))


def horizon(now: dt.datetime) -> Window:
    """From an hour ago to the farthest day any active plan offers (plus a day of margin)."""
    days = InterviewPlan.objects.filter(active=True).aggregate(m=Max("window_days"))["m"] or 14
    start = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    return Window(start, start + dt.timedelta(days=days + 2))


def is_fresh(calendar: Calendar, *, now: dt.datetime) -> bool:
    return calendar.busy_fetched_at is not None and now - calendar.busy_fetched_at < max_age()


def stale_calendars(now: dt.datetime) -> list[Calendar]:
    """Calendars in use (an active interviewer's or room's) whose cache is older than the limit."""
    in_use = Q(interviewer__active=True, interviewer__availability_source="calendar") | Q(room__active=True)
    return list(Calendar.objects.filter(in_use, connection__active=True).filter(
        Q(busy_fetched_at__isnull=True) | Q(busy_fetched_at__lt=now - max_age()))
        .select_related("connection").order_by("connection_id", "pk"))


def freebusy_refresh(*, calendars: list[Calendar] | None = None, window: Window | None = None,
                     budget_seconds: float | None = None) -> RefreshReport:
    """Refresh `calendars` (default: every stale one) over `window` (default: the plans' horizon)."""
    now = clock.now()
    calendars = stale_calendars(now) if calendars is None else calendars
    window = window or horizon(now)
    report = RefreshReport(calendars=len(calendars))
    by_connection: dict[int, list[Calendar]] = defaultdict(list)
    connections: dict[int, CalendarConnection] = {}
    for cal in calendars:
        by_connection[cal.connection_id].append(cal)
        connections[cal.connection_id] = cal.connection
    # Blocks that ended days ago are never read again.
    FreeBusyBlock.objects.filter(end__lt=now - dt.timedelta(days=2)).delete()
    started = time.monotonic()
    for conn_id, cals in sorted(by_connection.items()):
        if budget_seconds is not None and time.monotonic() - started > budget_seconds:
            report.skipped_for_budget += len(cals)
            continue
        _refresh_connection(connections[conn_id], cals, window, report)
    log.info("free/busy refresh: %s", report)
    return report


def _refresh_connection(connection: CalendarConnection, cals: list[Calendar], window: Window,
                        report: RefreshReport) -> None:
    try:
        result = provider_for(connection).free_busy([c.external_id for c in cals], window)
    except ProviderError as e:
        one = next((c for c in cals if e.scope == "calendar" and c.external_id == e.calendar_id), None)
        if one is not None:  # the provider refused the whole call because of one calendar
            health.mark_failure(one, error=e.message, permanent=e.permanent)
            report.failed.append(one.pk)
        else:
            report.connections_failed.append(connection.pk)
            health.mark_failure(connection, error=e.message, permanent=e.permanent and e.scope == "connection")
        return
    health.mark_success(connection)
    report.requests += result.requests_made
    fetched_at = clock.now()
    ok: list[Calendar] = []
    for cal in cals:
        error = result.errors.get(cal.external_id)
        if error is not None or cal.external_id not in result.busy:
            message = f"{error.reason}: {error.message}" if error else "the provider returned no answer for it"
            health.mark_failure(cal, error=message, permanent=error.permanent if error else False)
            report.failed.append(cal.pk)
        else:
            ok.append(cal)
    store_busy(ok, result.busy, window=window, fetched_at=fetched_at)
    for cal in ok:
        if cal.health not in (Health.OK, Health.UNKNOWN) or cal.consecutive_failures:
            health.mark_success(cal)  # a recovery: recorded and audited one by one
    Calendar.objects.filter(pk__in=[c.pk for c in ok]).update(health=Health.OK, last_success_at=fetched_at,
                                                              consecutive_failures=0)
    report.refreshed += len(ok)


def merge(blocks: list[BusyBlock], window: Window) -> list[tuple[dt.datetime, dt.datetime]]:
    """Blocks clipped to `window`, sorted, overlapping and touching ones joined."""
    merged: list[list[dt.datetime]] = []
    for b in sorted(blocks, key=lambda b: b.start):
        start, end = max(b.start, window.start), min(b.end, window.end)
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def _clip(blocks: list[tuple[dt.datetime, dt.datetime]], start: dt.datetime, end: dt.datetime
          ) -> list[tuple[dt.datetime, dt.datetime]]:
    return [(max(a, start), min(b, end)) for a, b in blocks if a < end and b > start]


def store_busy(calendars: list[Calendar], busy: dict[str, list[BusyBlock]], *, window: Window,
               fetched_at: dt.datetime) -> list[Calendar]:
    """Replace the cached blocks of `calendars` inside `window` by the provider's answer, in one transaction,
    with one delete, one insert and one update for the whole batch.

    A calendar whose blocks are the same as before keeps its rows, so a block's `fetched_at` is when that busy
    time was first seen (the options catch-all reads it); every calendar's `busy_fetched_at` moves on. Returns
    the calendars whose busy times changed where they had been read before (or that are read for the first
    time); after commit, the open requests that can draw their people and rooms are re-solved
    (`scheduling.recompute`). Time that only enters the horizon as it slides is not a change."""
    if not calendars:
        return []
    ids = [c.pk for c in calendars]
    old: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for cal_id, a, b in (FreeBusyBlock.objects.filter(calendar_id__in=ids, start__lt=window.end, end__gt=window.start)
                         .order_by("calendar_id", "start").values_list("calendar_id", "start", "end")):
        old[cal_id].append((a, b))
    rewrite: list[Calendar] = []
    changed: list[Calendar] = []
    for c in calendars:
        new = merge(busy[c.external_id], window)
        before = _clip(old[c.pk], window.start, window.end)
        if before != new:
            rewrite.append(c)
        known_end = min(window.end, c.busy_window_end) if c.busy_window_end else None
        if c.busy_fetched_at is None or known_end is None \
                or _clip(before, window.start, known_end) != _clip(new, window.start, known_end):
            changed.append(c)
    rows = [FreeBusyBlock(calendar_id=c.pk, start=a, end=b, fetched_at=fetched_at)
            for c in rewrite for a, b in merge(busy[c.external_id], window)]
    with transaction.atomic():
        if rewrite:
            FreeBusyBlock.objects.filter(calendar_id__in=[c.pk for c in rewrite], start__lt=window.end,
                                         end__gt=window.start).delete()
            FreeBusyBlock.objects.bulk_create(rows, batch_size=2000)
        Calendar.objects.filter(pk__in=ids).update(busy_fetched_at=fetched_at, busy_window_end=window.end)
        if changed:
            _recompute_for(changed)
    for c in calendars:
        c.busy_fetched_at, c.busy_window_end = fetched_at, window.end
    return changed


def _recompute_for(calendars: list[Calendar]) -> None:
    """Queue (after commit) a re-solve of the open requests of these calendars' people and rooms."""
    cal_ids = [c.pk for c in calendars]
    people = Interviewer.objects.filter(calendar_id__in=cal_ids).values_list("pk", flat=True)
    rooms = Room.objects.filter(calendar_id__in=cal_ids).values_list("pk", flat=True)
    recompute_enqueue(interviewer_ids=list(people), room_ids=list(rooms),
                      reason=f"busy times changed on {len(cal_ids)} calendar(s)")
