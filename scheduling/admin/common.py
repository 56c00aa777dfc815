"""Pieces every Loopwise admin page shares: local times with their zone, health badges, links,
read-only admins, and the honest answer of an action whose machinery is not built yet."""

from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.db import models
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.text import Truncator

from integrations.models import Health

__all__ = ["EMPTY", "local_dt", "local_dt_html", "time_column", "admin_url", "changelist_url", "admin_link",
           "health_badge", "last_error_summary", "state_badge", "not_yet", "ReadOnlyAdmin", "ReadOnlyInline",
           "SkipHistoryOnAddMixin", "CompactInline", "plain_related_widget", "HealthFieldsMixin", "HEALTH_READONLY"]

EMPTY = "—"


def local_dt(value: dt.datetime | None) -> str:
    """An instant in the staff user's zone (activated by the middleware), with the zone's name."""
    if value is None:
        return EMPTY
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")


def local_dt_html(value: dt.datetime | None) -> str:
    """`local_dt` for a table cell: it may wrap between the date and the time, nowhere else."""
    if value is None:
        return EMPTY
    local = timezone.localtime(value)
    return format_html('<span class="lw-nowrap">{}</span> <span class="lw-nowrap">{}</span>',
                       local.strftime("%Y-%m-%d"), local.strftime("%H:%M %Z"))


def time_column(field: str, description: str):
    """A column (or read-only field) showing a datetime field in the staff user's zone, sortable by it."""

    def column(self, obj) -> str:
        return local_dt_html(getattr(obj, field))

    column.__name__ = f"{field}_local"
    return admin.display(description=description, ordering=field)(column)


def admin_url(obj: models.Model, view: str = "change") -> str:
    opts = obj._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk])
    except NoReverseMatch:
        return ""


def changelist_url(model: type[models.Model], **filters) -> str:
    """The model's list page, filtered: `changelist_url(SchedulingRequest, state__exact="booked")`."""
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def admin_link(obj: models.Model | None, text: str | None = None) -> str:
    """A link to the object's change page, or its text alone when the model is not in the admin."""
    if obj is None:
        return EMPTY
    url = admin_url(obj)
    label = str(obj) if text is None else text
    return format_html('<a href="{}">{}</a>', url, label) if url else label


# Colour is never the only signal: each badge carries a symbol and the status in words.
_HEALTH_LOOK = {
    Health.OK: ("green", "✓"),
    Health.DEGRADED: ("amber", "!"),
    Health.RED: ("red", "✕"),
    Health.UNKNOWN: ("grey", "?"),
}


def health_badge(health: str) -> str:
    colour, symbol = _HEALTH_LOOK.get(health, ("grey", "?"))
    label = Health(health).label if health in Health.values else health
    return format_html('<span class="lw-badge lw-badge-{}"><span aria-hidden="true">{}</span> {}</span>',
                       colour, symbol, label)


def last_error_summary(obj, *, length: int = 90) -> str:
    """The last error, cut short, with when it happened and the run of failures since the last success."""
    if not obj.last_error:
        return EMPTY
    return format_html('<span class="lw-error" title="{}">{}</span><br><span class="lw-muted">{}{}</span>',
                       Truncator(obj.last_error).chars(400), Truncator(obj.last_error).chars(length),
                       local_dt_html(obj.last_error_at),
                       f" · {obj.consecutive_failures} failure(s) in a row" if obj.consecutive_failures else "")


_STATE_COLOURS = {
    "needs_attention": "red", "dead": "red", "failed": "amber", "expired": "amber", "pending_approval": "amber",
    "booked": "green", "done": "green", "completed": "green", "active": "green",
}


def state_badge(value: str, label: str) -> str:
    return format_html('<span class="lw-badge lw-badge-{}">{}</span>', _STATE_COLOURS.get(value, "grey"), label)


def not_yet(modeladmin: admin.ModelAdmin, request: HttpRequest, *, what: str, arrives_with: str) -> None:
    """The answer of an action whose machinery is built in a later part: say so, change nothing."""
    modeladmin.message_user(request, f"Not available yet: {what} arrives with {arrives_with}. Nothing was changed.",
                            level=messages.WARNING)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that the system writes (logs, queues, caches): staff look, they do not edit."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CompactInline(admin.TabularInline):
    """A tabular inline without the caption Django prints above each row (it repeats the row's own fields)."""

    extra = 0
    classes = ("lw-compact",)


def plain_related_widget(field):
    """Drop the add / change / delete / view icons around a related field: rows of them make tables too wide."""
    widget = getattr(field, "widget", None)
    if isinstance(widget, RelatedFieldWidgetWrapper):
        widget.can_add_related = widget.can_change_related = widget.can_delete_related = False
        widget.can_view_related = False
    return field


class ReadOnlyInline(admin.TabularInline):
    """History shown on a parent's page: nothing to add, change or delete. See `SkipHistoryOnAddMixin`."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SkipHistoryOnAddMixin:
    """For a ModelAdmin: leave the read-only inlines off the add page, where they could only be empty."""

    def get_inlines(self, request, obj):
        if obj is not None:
            return self.inlines
        return [inline for inline in self.inlines if not issubclass(inline, ReadOnlyInline)]


HEALTH_READONLY = ("health_status", "last_error", "last_error_when", "last_success_when", "consecutive_failures")


class HealthFieldsMixin:
    """Columns and read-only fields for a model with `HealthFields`; the health itself is written by the workers."""

    @admin.display(description="Health", ordering="health")
    def health_status(self, obj) -> str:
        return health_badge(obj.health)

    @admin.display(description="Health", ordering="health")
    def health_cell(self, obj) -> str:
        """For lists: the badge, and when it last worked."""
        if obj.last_success_at is None:
            return health_badge(obj.health)
        return format_html('{}<br><span class="lw-muted">last worked {}</span>', health_badge(obj.health),
                           local_dt_html(obj.last_success_at))

    @admin.display(description="Last error")
    def last_error_short(self, obj) -> str:
        return last_error_summary(obj)

    @admin.display(description="Last error at", ordering="last_error_at")
    def last_error_when(self, obj) -> str:
        return local_dt(obj.last_error_at)

    @admin.display(description="Last success", ordering="last_success_at")
    def last_success_when(self, obj) -> str:
        return local_dt(obj.last_success_at)

    @admin.display(description="Failures in a row", ordering="consecutive_failures")
    def failures(self, obj) -> int:
        return obj.consecutive_failures
