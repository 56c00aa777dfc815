"""Operational rows: cached busy times, reminders, staff notices, the audit log, the outbox and inbox.

Everything here but reminders is written by the system, so these admins only show. Inbound
webhook bodies may hold candidate data: their length is shown, never their content.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.db.models import Count
from django.db.models.functions import Length
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from scheduling.models import (
    AuditEvent,
    FreeBusyBlock,
    InboundEvent,
    LinkEscalation,
    Notice,
    OutboxItem,
    ReminderSend,
    ReminderSequence,
    ReminderStep,
    TrainingSession,
)

from .common import EMPTY, CompactInline, ReadOnlyAdmin, admin_link, state_badge, time_column


@admin.register(FreeBusyBlock)
class FreeBusyBlockAdmin(ReadOnlyAdmin):
    list_display = ("calendar", "starts", "ends", "fetched")
    list_filter = ("calendar__connection",)
    search_fields = ("calendar__external_id",)
    list_select_related = ("calendar",)
    fields = ("calendar_link", "starts", "ends", "fetched")
    readonly_fields = fields

    starts = time_column("start", "Busy from")
    ends = time_column("end", "Busy to")
    fetched = time_column("fetched_at", "Fetched")

    @admin.display(description="Calendar")
    def calendar_link(self, obj) -> str:
        return admin_link(obj.calendar)


class ReminderStepInline(CompactInline):
    model = ReminderStep
    fields = ("position", "delay_hours", "action")
    verbose_name_plural = "Steps (hours counted from when the link was sent)"


@admin.register(ReminderSequence)
class ReminderSequenceAdmin(admin.ModelAdmin):
    list_display = ("name", "plan_or_global", "step_count", "active")
    list_filter = ("active",)
    search_fields = ("name", "plan__name")
    list_select_related = ("plan__requisition",)
    autocomplete_fields = ("plan",)
    fields = ("name", "plan", "active")
    inlines = (ReminderStepInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_steps=Count("steps"))

    @admin.display(description="Used by", ordering="plan__name")
    def plan_or_global(self, obj) -> str:
        return admin_link(obj.plan) if obj.plan_id else "Every plan without its own"

    @admin.display(description="Steps", ordering="_steps")
    def step_count(self, obj) -> int:
        return obj._steps


@admin.register(ReminderStep)
class ReminderStepAdmin(admin.ModelAdmin):
    list_display = ("__str__", "sequence", "position", "delay_hours", "action")
    list_filter = ("action",)
    search_fields = ("sequence__name",)
    list_select_related = ("sequence",)
    autocomplete_fields = ("sequence",)
    fields = ("sequence", "position", "delay_hours", "action")


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    list_display = ("subject", "kind", "recipient", "status_label", "created", "sent", "where_to_fix")
    list_filter = ("status", "kind")
    search_fields = ("subject", "recipient", "=object_id")
    fields = ("subject", "kind", "recipient", "status_label", "object_type", "object_id", "where_to_fix", "body",
              "created", "sent")
    readonly_fields = fields

    created = time_column("created_at", "Created")
    sent = time_column("sent_at", "Sent")

    @admin.display(description="Status", ordering="status")
    def status_label(self, obj) -> str:
        return state_badge({"failed": "dead", "sent": "done", "digested": "done"}.get(obj.status, ""),
                           obj.get_status_display())

    @admin.display(description="Where to fix it")
    def where_to_fix(self, obj) -> str:
        return format_html('<a href="{}">Open</a>', obj.url) if obj.url else EMPTY


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Append-only: no add, no change, no delete."""

    list_display = ("when", "who", "action", "object_ref", "summary")
    list_filter = ("action", "actor_label", "object_type")
    search_fields = ("=object_id", "action", "summary")
    list_select_related = ("actor",)
    fields = ("when", "who", "action", "object_ref", "summary")
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None):
        return False

    when = time_column("at", "When")

    @admin.display(description="Who", ordering="actor_label")
    def who(self, obj) -> str:
        return f"{obj.actor} ({obj.actor_label})" if obj.actor_id else obj.actor_label

    @admin.display(description="Object")
    def object_ref(self, obj) -> str:
        return f"{obj.object_type} #{obj.object_id}"


def _work_state(obj) -> str:
    return state_badge(obj.state, obj.get_state_display())


@admin.register(OutboxItem)
class OutboxItemAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "target", "state_label", "attempts_of", "next_attempt", "error_short", "created")
    list_filter = ("state", "kind")
    search_fields = ("kind", "target", "key")
    fields = ("kind", "target", "key", "state_label", "attempts_of", "next_attempt", "claimed", "last_error",
              "payload_view", "created", "done")
    readonly_fields = fields

    next_attempt = time_column("next_attempt_at", "Next attempt")
    claimed = time_column("claimed_at", "Claimed by a worker")
    created = time_column("created_at", "Created")
    done = time_column("done_at", "Done")

    @admin.display(description="State", ordering="state")
    def state_label(self, obj) -> str:
        return _work_state(obj)

    @admin.display(description="Attempts", ordering="attempts")
    def attempts_of(self, obj) -> str:
        return f"{obj.attempts} of {obj.max_attempts}"

    @admin.display(description="Last error")
    def error_short(self, obj) -> str:
        return Truncator(obj.last_error).chars(90) if obj.last_error else EMPTY

    @admin.display(description="Payload (ids only)")
    def payload_view(self, obj) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "connection", "state_label", "attempts", "received", "processed", "body_size",
                    "error_short")
    list_filter = ("state", "connection", "kind")
    search_fields = ("event_key", "kind")
    list_select_related = ("connection",)
    # raw_body is left out on purpose: it may hold candidate data. Its size tells whether it is kept.
    fields = ("connection", "event_key", "kind", "state_label", "attempts", "received", "claimed", "processed",
              "body_size", "last_error")
    readonly_fields = fields

    received = time_column("received_at", "Received")
    claimed = time_column("claimed_at", "Claimed by a worker")
    processed = time_column("processed_at", "Processed")

    def get_queryset(self, request):
        # The body is not loaded at all; its length is computed by the database.
        return super().get_queryset(request).defer("raw_body").annotate(_body_size=Length("raw_body"))

    @admin.display(description="State", ordering="state")
    def state_label(self, obj) -> str:
        return _work_state(obj)

    @admin.display(description="Body", ordering="_body_size")
    def body_size(self, obj) -> str:
        size = getattr(obj, "_body_size", None)
        if not size:
            return "Empty (erased after the retention period, or never had one)"
        return f"{size:,} characters (content hidden: may hold personal data)"

    @admin.display(description="Last error")
    def error_short(self, obj) -> str:
        return Truncator(obj.last_error).chars(90) if obj.last_error else EMPTY


# ---------------------------------------------------------------------------------------------------------------
# Operations (issue #7): written by the periodic tasks, shown here


@admin.register(ReminderSend)
class ReminderSendAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "request_link", "step", "status_label", "due", "sent", "note")
    list_filter = ("status", "action")
    search_fields = ("=request__id", "key")
    list_select_related = ("request", "step")
    fields = ("request_link", "step", "key", "action", "status_label", "due", "claimed", "sending", "sent", "note")
    readonly_fields = fields

    due = time_column("due_at", "Due")
    claimed = time_column("claimed_at", "Claimed")
    sending = time_column("sending_at", "Sending started")
    sent = time_column("sent_at", "Sent")

    @admin.display(description="Request", ordering="request")
    def request_link(self, obj) -> str:
        return admin_link(obj.request, f"Request #{obj.request_id}")

    @admin.display(description="Status", ordering="status")
    def status_label(self, obj) -> str:
        return state_badge({"sent": "done", "uncertain": "failed", "queued": "", "sending": "failed"}.get(
            obj.status, ""), obj.get_status_display())


@admin.register(LinkEscalation)
class LinkEscalationAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "request_link", "kind", "expiry", "created")
    list_filter = ("kind",)
    search_fields = ("=link__request__id",)
    list_select_related = ("link",)
    fields = ("request_link", "kind", "expiry", "created")
    readonly_fields = fields

    expiry = time_column("expires_at", "About the expiry at")
    created = time_column("created_at", "Raised")

    @admin.display(description="Request")
    def request_link(self, obj) -> str:
        return format_html('<a href="{}">Request #{}</a>',
                           admin_url_for("scheduling", "schedulingrequest", obj.link.request_id),
                           obj.link.request_id)


@admin.register(TrainingSession)
class TrainingSessionAdmin(ReadOnlyAdmin):
    list_display = ("interviewer", "kind", "pool", "session_link", "completed", "recorded")
    list_filter = ("kind", "membership__pool")
    search_fields = ("interviewer__name",)
    list_select_related = ("interviewer", "membership__pool", "membership__interviewer", "session")
    fields = ("interviewer", "kind", "pool", "session_link", "completed", "recorded")
    readonly_fields = fields

    completed = time_column("completed_at", "Took place (ended)")
    recorded = time_column("recorded_at", "Counted")

    @admin.display(description="Counts toward", ordering="membership__pool__name")
    def pool(self, obj) -> str:
        return admin_link(obj.membership) if obj.membership_id else "Nothing (no longer in training there)"

    @admin.display(description="Session")
    def session_link(self, obj) -> str:
        return format_html('<a href="{}">{}</a>', admin_url_for("scheduling", "scheduledinterview",
                                                                 obj.session.interview_id), obj.session)


def admin_url_for(app_label: str, model_name: str, pk) -> str:
    return reverse(f"admin:{app_label}_{model_name}_change", args=[pk])
