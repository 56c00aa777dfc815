"""Filters for the operations dashboard: times relative to the shared clock, durations in hours or days, health
badges, and the admin page of an object."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone

from scheduling import clock
from scheduling.admin.common import EMPTY, health_badge
from scheduling.dashboard.words import admin_change

register = template.Library()


def _span(seconds: float) -> str:
    minutes = int(abs(seconds) // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} days"


@register.filter
def relative(value: dt.datetime | None) -> str:
    """'in 5 h', '3 days ago', against the shared clock (tests and the demo move it)."""
    if value is None:
        return EMPTY
    seconds = (value - clock.now()).total_seconds()
    return f"in {_span(seconds)}" if seconds >= 0 else f"{_span(seconds)} ago"


@register.filter
def local(value: dt.datetime | None) -> str:
    """'Thu 26 Nov 17:48 GMT' in the staff member's zone."""
    if value is None:
        return EMPTY
    return timezone.localtime(value).strftime("%a %d %b %H:%M %Z")


@register.filter
def hours(value: float | None) -> str:
    """A duration given in hours: '45 min', '5.2 h' or '3.1 days'."""
    if value is None:
        return EMPTY
    if value < 1:
        return f"{value * 60:.0f} min"
    if value < 48:
        return f"{value:.1f} h"
    return f"{value / 24:.1f} days"


@register.filter
def percent(value: float | None) -> str:
    return EMPTY if value is None else f"{value:.0f}%"


@register.filter
def badge(health: str) -> str:
    return health_badge(health)


@register.filter
def admin_url(obj) -> str:
    return admin_change(obj)
