"""Periodic health checks of every active connection, so a broken credential shows even when nothing else
happens to call it (a quiet night, no candidates at a stage).

Calendar connections: the adapter's `check()` (a token and one read); a failure is classified as the adapter
said, so a revoked grant turns the connection red while a passing outage only counts. ATS connections:
`check_components()` probes every read component (never writes) and each answer is recorded per component.
"""

from __future__ import annotations

import logging

from integrations.ats import health as ats_health
from integrations.ats.base import provider_for as ats_provider_for
from integrations.calendars import health as calendar_health
from integrations.calendars.base import provider_for as calendar_provider_for
from integrations.errors import ProviderError
from integrations.models import AtsConnection, CalendarConnection

log = logging.getLogger(__name__)


def connections_check() -> str:
    """Check every active calendar and ATS connection once; returns a one-line summary."""
    ok = failed = 0
    for conn in CalendarConnection.objects.filter(active=True).order_by("pk"):
        try:
            result = calendar_provider_for(conn).check()
        except ProviderError as e:
            result_ok, message, permanent = False, e.message, e.permanent and e.scope == "connection"
        else:
            result_ok, message, permanent = result.ok, result.message, True
        if result_ok:
            calendar_health.mark_success(conn)
            ok += 1
        else:
            calendar_health.mark_failure(conn, error=message, permanent=permanent)
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
