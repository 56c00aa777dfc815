"""Background tasks of the integrations: thin, by id, calling one service."""

from __future__ import annotations

from integrations.ats.polling import ats_poll_all
from integrations.calendars.freebusy import freebusy_refresh
from integrations.checks import connections_check
from integrations.models import Calendar


def refresh_free_busy() -> str:
    """Periodic: refresh every calendar whose cache is stale."""
    return str(freebusy_refresh())


def refresh_calendar(calendar_id: int) -> str:
    cal = Calendar.objects.select_related("connection").filter(pk=calendar_id).first()
    if cal is None:
        return f"calendar {calendar_id} is gone"
    return str(freebusy_refresh(calendars=[cal]))


def poll_ats() -> str:
    """Periodic: poll every active ATS connection for stage changes."""
    return ats_poll_all()


def check_connections() -> str:
    """Periodic: check every active calendar and ATS connection's credentials and read components."""
    return connections_check()
