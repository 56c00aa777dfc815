"""Template tags for the admin's home page: what needs attention, counted."""

from __future__ import annotations

from django import template
from django.db.models import Count

from integrations.models import AtsConnection, Calendar, CalendarConnection, Health
from scheduling.models import SchedulingRequest

register = template.Library()

_FAILING = (Health.DEGRADED, Health.RED)


@register.simple_tag
def loopwise_attention() -> dict[str, int]:
    """Counts for the "Start here" panel: requests waiting on staff, and failing connections."""
    S = SchedulingRequest.State
    waiting = (SchedulingRequest.objects.filter(state__in=[S.NEEDS_ATTENTION, S.PENDING_APPROVAL])
               .values("state").annotate(n=Count("pk")).order_by())
    states = {row["state"]: row["n"] for row in waiting}
    return {
        "needs_attention": states.get(S.NEEDS_ATTENTION, 0),
        "pending_approval": states.get(S.PENDING_APPROVAL, 0),
        "ats_failing": AtsConnection.objects.filter(health__in=_FAILING).count(),
        "calendar_connections_failing": CalendarConnection.objects.filter(health__in=_FAILING).count(),
        "calendars_failing": Calendar.objects.filter(health__in=_FAILING).count(),
    }
