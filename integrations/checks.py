"""Periodic health checks of every active connection, so a broken credential shows even when nothing else
happens to call it (a quiet night, no candidates at a stage).

Calendar connections: the adapter's `check()` (a token and one read); a failure is classified as the adapter
said, so a revoked grant turns the connection red while a passing outage only counts. ATS connections:
`check_components()` probes every read component (never writes) and each answer is recorded per component.
The admin's "Test the connection" action on a calendar connection runs the same check on that one connection
(`calendar_connection_check`).
"""

from __future__ import annotations

import logging

from integrations.ats import health as ats_health
from integrations.ats.base import provider_for as ats_provider_for
from integrations.calendars import health as calendar_health
from integrations.calendars.base import ConnectionCheck
from integrations.calendars.base import provider_for as calendar_provider_for
from integrations.errors import ProviderError
from integrations.models import AtsConnection, CalendarConnection

log = logging.getLogger(__name__)


def calendar_connection_check(*, connection: CalendarConnection) -> ConnectionCheck:
    """Check one calendar connection's credentials (a token and one read, never a write) and record the answer on
    its health, as the hourly check does: a failure of its own credentials turns it red (and tells the
    coordinators), a passing outage only counts. Returns what the adapter found."""
    try:
        result = calendar_provider_for(connection).check()
    except ProviderError as e:
        result, permanent = ConnectionCheck(ok=False, message=e.message), e.permanent and e.scope == "connection"
    else:
        permanent = True
    if result.ok:
        calendar_health.mark_success(connection)
    else:
        calendar_health.mark_failure(connection, error=result.message, permanent=permanent)
    return result


def connections_check() -> str:
    """Check every active calendar and ATS connection once; returns a one-line summary."""
    ok = failed = 0
    for conn in CalendarConnection.objects.filter(active=True).order_by("pk"):
        if calendar_connection_check(connection=conn).ok:
            ok += 1
        else:
            failed += 1
    for conn in AtsConnection.objects.filter(active=True).order_by("pk"):
        try:
            with ats_provider_for(conn) as provider:
                results = provider.check_components()
        except ProviderError as e:
            ats_health.mark_error(connection=conn, error=e)
            failed += 1
            continue
        ats_health.record_checks(connection=conn, results=results)
        ok += all(r.ok is not False for r in results)
        failed += any(r.ok is False for r in results)
    summary = f"connections checked: {ok} healthy, {failed} failing"
    log.info(summary)
    return summary
