"""Interviewers, pools, rooms and their availability: who and what can sit an interview."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminTimeWidget
from django.db.models import Count, Q
from django.utils.html import format_html

from integrations.models import Health
from scheduling.models import AvailabilityRule, BlackoutDate, Interviewer, InterviewerPool, PoolMembership, Room

from .common import (
    EMPTY,
    CompactInline,
    admin_link,
    health_badge,
    last_error_summary,
    local_dt_html,
    plain_related_widget,
    time_column,
)


class CalendarHealthFilter(admin.SimpleListFilter):
    """Filter people and rooms by the health of their calendar, or by having none."""

    title = "calendar health"
    parameter_name = "calendar_health"

    def lookups(self, request, model_admin):
        return [*Health.choices, ("none", "No calendar")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(calendar__isnull=True)
        if value in Health.values:
            return queryset.filter(calendar__health=value)
        return queryset


class CalendarHealthColumns:
    """Columns showing an interviewer's or a room's calendar, which must be select_related."""

    @admin.display(description="Calendar", ordering="calendar__health")
    def calendar_health(self, obj) -> str:
        if getattr(obj, "availability_source", None) == Interviewer.Source.WORKING_HOURS:
            return format_html('<span class="lw-muted">{}</span>', "Working hours only")
        if obj.calendar is None:
            return format_html('<span class="lw-muted">{}</span>', "No calendar")
        return health_badge(obj.calendar.health)

    @admin.display(description="Calendar health")
    def calendar_detail(self, obj) -> str:
        cal = obj.calendar
        if cal is None:
            return "No calendar connected: only working hours count."
        return format_html('{}<br>{}<br><span class="lw-muted">Busy times fetched: {}</span>',
                           health_badge(cal.health), last_error_summary(cal), local_dt_html(cal.busy_fetched_at))


# ---------------------------------------------------------------------------------------------
# Inlines


class AvailabilityRuleForm(forms.ModelForm):
    class Meta:
        model = AvailabilityRule
        fields = ("interviewer", "room", "weekday", "start", "end")
        widgets = {"start": AdminTimeWidget(format="%H:%M"), "end": AdminTimeWidget(format="%H:%M")}

    def clean(self):
        data = super().clean()
        # Inline forms carry their owner outside cleaned_data; only the stand-alone page has both fields.
        if "interviewer" in self.fields and "room" in self.fields:
            if bool(data.get("interviewer")) == bool(data.get("room")):
                raise forms.ValidationError("Choose either an interviewer or a room, not both and not neither.")
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start and (end.hour, end.minute) != (0, 0):
            self.add_error("end", "The end must come after the start (00:00 means midnight at the end of the day).")
        return data


class AvailabilityRuleInline(CompactInline):
    model = AvailabilityRule
    form = AvailabilityRuleForm
    fields = ("weekday", "start", "end")
    verbose_name = "time range"
    verbose_name_plural = "Working hours (weekly, in this interviewer's own time zone)"


class RoomAvailabilityRuleInline(AvailabilityRuleInline):
    fk_name = "room"
    verbose_name_plural = "Opening hours (weekly, in the room's own time zone)"


class BlackoutDateInline(CompactInline):
    model = BlackoutDate
    fields = ("date", "reason")
    verbose_name = "day off"
    verbose_name_plural = "Days off (no interviews on these local dates)"


class MembershipInline(CompactInline):
    model = PoolMembership
    readonly_fields = ("since_local",)

    since_local = time_column("since", "Member since")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("pool", "interviewer")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        return plain_related_widget(super().formfield_for_dbfield(db_field, request, **kwargs))


class InterviewerMembershipInline(MembershipInline):
    """On an interviewer: the pools they are in."""

    fields = ("pool", "training", "since_local")
    autocomplete_fields = ("pool",)
    verbose_name = "pool membership"
    verbose_name_plural = "Pools this interviewer is in"


class PoolMemberInline(MembershipInline):
    """On a pool: its members and where each stands in training."""

    fields = ("interviewer", "training", "since_local")
    autocomplete_fields = ("interviewer",)
    verbose_name = "member"
    verbose_name_plural = "Members"


# ---------------------------------------------------------------------------------------------
# Model admins


@admin.register(Interviewer)
class InterviewerAdmin(CalendarHealthColumns, admin.ModelAdmin):
    list_display = ("person", "timezone", "pool_count", "caps", "calendar_health", "active")
    list_filter = ("active", "availability_source", CalendarHealthFilter, "pools")
    search_fields = ("name", "email", "title")
    list_select_related = ("calendar",)
    autocomplete_fields = ("user", "calendar")
    readonly_fields = ("calendar_detail",)
    inlines = (InterviewerMembershipInline, AvailabilityRuleInline, BlackoutDateInline)
    actions = ("send_consent_link",)
    fieldsets = (
        ("Who", {"fields": ("name", "title", "email", "user", "active")}),
        ("Availability", {"fields": ("timezone", "availability_source", "calendar", "calendar_detail"),
                          "description": "Free times come from the calendar within the working hours below; "
                                         "without a calendar, from the working hours alone."}),
        ("Limits", {"fields": ("buffer_minutes", "max_per_day", "max_per_week")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_pool_count=Count("memberships", distinct=True))

    @admin.action(description="Email a link to connect their Google calendar")
    def send_consent_link(self, request, queryset):
        from integrations.calendars.consent import consent_link_send
        from scheduling.errors import LoopwiseError

        for person in queryset:
            try:
                consent_link_send(interviewer=person, provider="google", actor=request.user)
            except LoopwiseError as e:
                self.message_user(request, f"{person.name}: {e.message}", level=messages.ERROR)
            else:
                self.message_user(request, f"Consent link emailed to {person.email}.", level=messages.SUCCESS)

    @admin.display(description="Interviewer", ordering="name")
    def person(self, obj: Interviewer) -> str:
        return format_html('{}<br><span class="lw-muted">{}{}</span>', obj.name, f"{obj.title} · " if obj.title else "",
                           obj.email)

    @admin.display(description="Pools", ordering="_pool_count")
    def pool_count(self, obj: Interviewer) -> int:
        return obj._pool_count

    @admin.display(description="Per day / week")
    def caps(self, obj: Interviewer) -> str:
        day = obj.max_per_day if obj.max_per_day is not None else "any"
        week = obj.max_per_week if obj.max_per_week is not None else "any"
        return f"{day} / {week}"


@admin.register(InterviewerPool)
class InterviewerPoolAdmin(admin.ModelAdmin):
    list_display = ("name", "trained", "shadows", "reverse_shadows", "plans_using", "shadows_required",
                    "reverse_shadows_required")
    search_fields = ("name", "description")
    inlines = (PoolMemberInline,)
    fieldsets = (
        (None, {"fields": ("name", "description")}),
        ("Training", {"fields": ("shadows_required", "reverse_shadows_required"),
                      "description": "A trainee shadows, then leads with a trained member watching, then is "
                                     "trained."}),
    )

    def get_queryset(self, request):
        t = PoolMembership.Training
        return super().get_queryset(request).annotate(
            _trained=Count("memberships", filter=Q(memberships__training=t.TRAINED), distinct=True),
            _shadows=Count("memberships", filter=Q(memberships__training=t.SHADOW), distinct=True),
            _reverse=Count("memberships", filter=Q(memberships__training=t.REVERSE_SHADOW), distinct=True),
            _plans=Count("roles__session__plan", distinct=True),
        )

    @admin.display(description="Trained", ordering="_trained")
    def trained(self, obj) -> int:
        return obj._trained

    @admin.display(description="Shadowing", ordering="_shadows")
    def shadows(self, obj) -> int:
        return obj._shadows

    @admin.display(description="Reverse shadowing", ordering="_reverse")
    def reverse_shadows(self, obj) -> int:
        return obj._reverse

    @admin.display(description="Used by plans", ordering="_plans")
    def plans_using(self, obj) -> int:
        return obj._plans


@admin.register(PoolMembership)
class PoolMembershipAdmin(admin.ModelAdmin):
    list_display = ("interviewer", "pool", "training", "since_local")
    since_local = time_column("since", "Member since")
    list_filter = ("training", "pool")
    search_fields = ("interviewer__name", "interviewer__email", "pool__name")
    list_select_related = ("interviewer", "pool")
    autocomplete_fields = ("interviewer", "pool")
    fields = ("pool", "interviewer", "training", "since_local")
    readonly_fields = ("since_local",)


@admin.register(Room)
class RoomAdmin(CalendarHealthColumns, admin.ModelAdmin):
    list_display = ("name", "capacity", "timezone", "calendar_health", "active")
    list_filter = ("active", CalendarHealthFilter)
    search_fields = ("name", "calendar__external_id")
    list_select_related = ("calendar",)
    autocomplete_fields = ("calendar",)
    readonly_fields = ("calendar_detail",)
    inlines = (RoomAvailabilityRuleInline,)
    fieldsets = (
        (None, {"fields": ("name", "capacity", "active")}),
        ("Availability", {"fields": ("timezone", "calendar", "calendar_detail"),
                          "description": "The room's resource calendar; the opening hours below limit it further "
                                         "(none: open whenever its calendar is free)."}),
    )


@admin.register(AvailabilityRule)
class AvailabilityRuleAdmin(admin.ModelAdmin):
    form = AvailabilityRuleForm
    list_display = ("owner", "weekday", "start", "end")
    list_filter = ("weekday",)
    search_fields = ("interviewer__name", "room__name")
    list_select_related = ("interviewer", "room")
    autocomplete_fields = ("interviewer", "room")
    fieldsets = (
        ("Whose hours", {"fields": ("interviewer", "room"), "description": "One of the two."}),
        ("When (in the owner's own time zone)", {"fields": ("weekday", "start", "end")}),
    )

    @admin.display(description="Interviewer or room")
    def owner(self, obj: AvailabilityRule) -> str:
        return admin_link(obj.interviewer or obj.room)


@admin.register(BlackoutDate)
class BlackoutDateAdmin(admin.ModelAdmin):
    list_display = ("date", "interviewer_link", "reason")
    search_fields = ("interviewer__name", "reason")
    list_select_related = ("interviewer",)
    autocomplete_fields = ("interviewer",)
    fields = ("interviewer", "date", "reason")

    @admin.display(description="Interviewer", ordering="interviewer__name")
    def interviewer_link(self, obj: BlackoutDate) -> str:
        return admin_link(obj.interviewer) if obj.interviewer_id else EMPTY
