"""Scheduling requests and what hangs off them: transitions, links, proposed windows, booked interviews.

A request's state is never edited here: it moves only through the services, which log each
move. Links show when they were made, when they expire, whether they were revoked and how
often they were used, never their token hash.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from scheduling import clock
from scheduling.errors import LoopwiseError, NotBookable
from scheduling.models import (
    InterviewSession,
    ProposedWindow,
    RequestTransition,
    ScheduledInterview,
    SchedulingLink,
    SchedulingRequest,
    SessionParticipant,
)

from .common import (
    EMPTY,
    ReadOnlyAdmin,
    ReadOnlyInline,
    SkipHistoryOnAddMixin,
    admin_link,
    local_dt,
    state_badge,
    time_column,
)


def _state_label(value: str) -> str:
    try:
        return SchedulingRequest.State(value).label
    except ValueError:
        return value


def link_status(link: SchedulingLink) -> str:
    now = clock.now()
    if link.revoked_at is not None:
        return state_badge("cancelled", "Revoked")
    if link.is_expired(at=now):
        return state_badge("expired", "Expired")
    if link.use_count >= link.max_uses:
        return state_badge("expired", "Used up")
    return state_badge("active", "Active")


# ---------------------------------------------------------------------------------------------
# Inlines on a request (all read-only: the services write them)


class TransitionInline(ReadOnlyInline):
    model = RequestTransition
    fields = ("when", "move", "cause", "actor")
    readonly_fields = fields
    show_change_link = False
    classes = ("lw-compact",)
    verbose_name_plural = "History of states"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    when = time_column("at", "When")

    @admin.display(description="Move")
    def move(self, obj) -> str:
        return f"{_state_label(obj.old_state)} → {_state_label(obj.new_state)}"


class LinkInline(ReadOnlyInline):
    model = SchedulingLink
    fields = ("status", "created", "expires", "revoked", "uses", "last_used", "extended")
    readonly_fields = fields
    verbose_name_plural = "Scheduling links (their tokens are never shown)"

    @admin.display(description="Status")
    def status(self, obj) -> str:
        return link_status(obj)

    created = time_column("created_at", "Created")
    expires = time_column("expires_at", "Expires")
    revoked = time_column("revoked_at", "Revoked")
    last_used = time_column("last_used_at", "Last used")

    @admin.display(description="Uses", ordering="use_count")
    def uses(self, obj) -> str:
        return f"{obj.use_count} of {obj.max_uses}"


class InterviewInline(ReadOnlyInline):
    model = ScheduledInterview
    fields = ("revision", "state", "starts", "ends", "video_link")
    readonly_fields = fields
    verbose_name_plural = "Booked interviews (every revision)"

    starts = time_column("start", "Starts")
    ends = time_column("end", "Ends")


class ProposedWindowInline(ReadOnlyInline):
    model = ProposedWindow
    fields = ("starts", "ends", "note", "received")
    readonly_fields = fields
    show_change_link = False
    classes = ("lw-compact",)
    verbose_name_plural = "Times the candidate proposed"

    starts = time_column("start", "From")
    ends = time_column("end", "To")
    received = time_column("created_at", "Received")


# ---------------------------------------------------------------------------------------------
# Requests


class OpenFilter(admin.SimpleListFilter):
    title = "open or closed"
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", "Open"), ("no", "Closed (completed or cancelled)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(state__in=SchedulingRequest.OPEN_STATES)
        if self.value() == "no":
            return queryset.exclude(state__in=SchedulingRequest.OPEN_STATES)
        return queryset


class SchedulingRequestForm(forms.ModelForm):
    class Meta:
        model = SchedulingRequest
        fields = ("application", "plan", "coordinator", "candidate_timezone")

    def clean_candidate_timezone(self):
        value = self.cleaned_data["candidate_timezone"].strip()
        if value:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise forms.ValidationError(f"{value!r} is not an IANA time zone name (e.g. Asia/Kolkata).")
        return value

    def clean(self):
        data = super().clean()
        application, plan = data.get("application"), data.get("plan")
        if application and plan and plan.requisition_id != application.requisition_id:
            self.add_error("plan", f"This plan belongs to “{plan.requisition}”, but the application is for "
                                   f"“{application.requisition}”.")
        return data


@admin.register(SchedulingRequest)
class SchedulingRequestAdmin(SkipHistoryOnAddMixin, admin.ModelAdmin):
    form = SchedulingRequestForm
    # Booking time is on the request's page; in the list, the state and its "since" say it.
    list_display = ("request_id", "candidate", "requisition_and_plan", "state_label", "coordinator", "since",
                    "link_sent")
    list_display_links = ("request_id",)
    list_filter = ("state", OpenFilter, "application__requisition", "coordinator")
    search_fields = ("=id", "application__candidate__first_name", "application__candidate__last_name",
                     "application__candidate__email", "plan__name", "application__requisition__title")
    list_select_related = ("application__candidate", "application__requisition", "plan", "coordinator")
    autocomplete_fields = ("application", "plan", "coordinator")
    inlines = (TransitionInline, LinkInline, ProposedWindowInline, InterviewInline)
    actions = ("send_link", "regenerate_link", "approve_and_send", "cancel")
    list_per_page = 50

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return ((None, {"fields": ("application", "plan", "coordinator", "candidate_timezone"),
                            "description": "A new request starts as “New”. Use the action “Find times and "
                                           "send the link” to solve it and invite the candidate."}),)
        return (
            ("Request", {"fields": ("state_label", "candidate", "application", "plan", "coordinator",
                                    "candidate_timezone")}),
            ("Times", {"fields": ("created", "since", "link_sent", "booked")}),
            ("Options offered", {"fields": ("options_summary", "diagnostics_view", "book_link"),
                                 "description": "As last computed by the solver."}),
        )

    def get_readonly_fields(self, request, obj=None):
        always = ("state_label", "candidate", "created", "since", "link_sent", "booked", "options_summary",
                  "diagnostics_view", "book_link")
        # Application and plan are fixed once the request exists: a different plan is a new request.
        return (*always, "application", "plan") if obj is not None else always

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(
            "application__candidate", "application__requisition", "plan__requisition", "coordinator")

    @admin.display(description="Request", ordering="id")
    def request_id(self, obj) -> str:
        return f"#{obj.pk}"

    @admin.display(description="Candidate", ordering="application__candidate__last_name")
    def candidate(self, obj) -> str:
        return admin_link(obj.application.candidate, str(obj.application.candidate) or "(erased)")

    @admin.display(description="Requisition and plan", ordering="application__requisition__title")
    def requisition_and_plan(self, obj) -> str:
        return format_html('{}<br><span class="lw-muted">{}</span>', obj.application.requisition.title, obj.plan.name)

    @admin.display(description="State", ordering="state")
    def state_label(self, obj) -> str:
        return state_badge(obj.state, obj.get_state_display())

    since = time_column("state_changed_at", "In this state since")
    created = time_column("created_at", "Created")
    link_sent = time_column("link_sent_at", "Link sent")
    booked = time_column("booked_at", "Booked")

    @admin.display(description="Options")
    def options_summary(self, obj) -> str:
        if obj.options_computed_at is None:
            return "Not computed yet."
        n = len(obj.options) if isinstance(obj.options, list) else 0
        more = " (more exist; the list was cut short)" if obj.options_truncated else ""
        return f"{n} option(s){more}, computed {local_dt(obj.options_computed_at)}"

    @admin.display(description="Why times may be missing")
    def diagnostics_view(self, obj) -> str:
        items = obj.diagnostics if isinstance(obj.diagnostics, list) else [obj.diagnostics]
        if not items:
            return EMPTY
        texts = [(d.get("message") or str(d)) if isinstance(d, dict) else str(d) for d in items]
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((t,) for t in texts)))

    # Actions: each calls one service and reports per request; nothing fails silently.

    def _each(self, request, queryset, label: str, fn) -> None:
        done, failed = [], []
        for obj in queryset.select_related("plan", "application"):
            try:
                fn(obj)
                done.append(f"#{obj.pk}")
            except LoopwiseError as e:
                failed.append(f"#{obj.pk}: {e.message}")
        if done:
            self.message_user(request, f"{label}: {', '.join(done)}.", level=messages.SUCCESS)
        for text in failed:
            self.message_user(request, f"{label} failed for {text}", level=messages.ERROR)

    @admin.action(description="Find times and send the link (or ask for approval)")
    def send_link(self, request, queryset):
        from scheduling.booking import request_start

        self._each(request, queryset, "Started", lambda r: request_start(request=r, actor=request.user))

    @admin.action(description="Regenerate the link and resend it (the old link stops working)")
    def regenerate_link(self, request, queryset):
        from scheduling.booking import link_regenerate

        self._each(request, queryset, "New link sent", lambda r: link_regenerate(request=r, actor=request.user))

    @admin.action(description="Approve and send the link")
    def approve_and_send(self, request, queryset):
        from scheduling.booking import request_approve

        self._each(request, queryset, "Approved and sent", lambda r: request_approve(request=r, actor=request.user))

    @admin.action(description="Cancel (releases the interviewers and tells the candidate)")
    def cancel(self, request, queryset):
        from scheduling.booking import interview_cancel

        self._each(request, queryset, "Cancelled",
                   lambda r: interview_cancel(request=r, by="coordinator", actor=request.user))

    # Book for the candidate: a page of the stored options and the candidate's proposed windows.

    def get_urls(self):
        own = [path("<int:pk>/book/", self.admin_site.admin_view(self.book_view),
                    name="scheduling_schedulingrequest_book")]
        return own + super().get_urls()

    @admin.display(description="Book for the candidate")
    def book_link(self, obj) -> str:
        url = reverse("admin:scheduling_schedulingrequest_book", args=[obj.pk])
        return format_html('<a class="button" href="{}">Choose a time for the candidate</a>', url)

    def book_view(self, request, pk: int):
        from scheduling.booking import book_from_window, interview_book, interview_reschedule, option_for_start

        obj = SchedulingRequest.objects.select_related("plan__requisition", "application__candidate").get(pk=pk)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        if request.method == "POST":
            try:
                if request.POST.get("window"):
                    result = book_from_window(request=obj, window_id=int(request.POST["window"]), actor=request.user)
                else:
                    option = option_for_start(request=obj, start=request.POST.get("start", ""))
                    if option is None:
                        raise NotBookable("that time is no longer offered; the list below is current")
                    book = interview_reschedule if obj.state == SchedulingRequest.State.BOOKED else interview_book
                    result = book(request=obj, option=option, actor_label="coordinator", actor=request.user)
            except LoopwiseError as e:
                self.message_user(request, e.message, level=messages.ERROR)
            else:
                if result.interview is not None:
                    self.message_user(request, f"Booked for {local_dt(result.interview.start)}.", messages.SUCCESS)
                    return redirect(reverse("admin:scheduling_schedulingrequest_change", args=[obj.pk]))
                self.message_user(request, result.message or "That time is gone; here are the current times.",
                                  level=messages.WARNING)
            obj.refresh_from_db()
        options = obj.options if isinstance(obj.options, list) else []
        context = {**self.admin_site.each_context(request), "title": f"Book request #{obj.pk} for the candidate",
                   "obj": obj, "opts": self.model._meta,
                   "options": [{"start": o["start"], "label": local_dt(dt.datetime.fromisoformat(o["start"]))}
                               for o in options[:100]],
                   "more": max(0, len(options) - 100), "windows": obj.proposed_windows.all()}
        return TemplateResponse(request, "admin/scheduling/schedulingrequest/book.html", context)


@admin.register(RequestTransition)
class RequestTransitionAdmin(ReadOnlyAdmin):
    list_display = ("when", "request_link", "move", "cause", "actor")
    list_filter = ("new_state",)
    search_fields = ("=request__id", "cause")
    list_select_related = ("request", "actor")
    fields = ("request_link", "move", "cause", "actor", "when")
    readonly_fields = fields

    when = time_column("at", "When")

    @admin.display(description="Request", ordering="request")
    def request_link(self, obj) -> str:
        return admin_link(obj.request)

    @admin.display(description="Move")
    def move(self, obj) -> str:
        return f"{_state_label(obj.old_state)} → {_state_label(obj.new_state)}"


class LinkStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("expired", "Expired"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        now = clock.now()
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True, expires_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(SchedulingLink)
class SchedulingLinkAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "status", "created", "expires", "revoked", "uses", "last_used")
    list_filter = (LinkStatusFilter, "extended")
    search_fields = ("=request__id",)
    list_select_related = ("request",)
    # token_hash is deliberately absent from every list of fields.
    fields = ("request_link", "status", "created", "expires", "revoked", "uses", "last_used", "extended")
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Request")
    def request_link(self, obj) -> str:
        return admin_link(obj.request)

    status = LinkInline.status
    created = time_column("created_at", "Created")
    expires = time_column("expires_at", "Expires")
    revoked = time_column("revoked_at", "Revoked")
    last_used = time_column("last_used_at", "Last used")
    uses = LinkInline.uses


@admin.register(ProposedWindow)
class ProposedWindowAdmin(ReadOnlyAdmin):
    list_display = ("request_link", "starts", "ends", "received")
    search_fields = ("=request__id",)
    list_select_related = ("request",)
    fields = ("request_link", "starts", "ends", "note", "received")
    readonly_fields = fields

    starts = time_column("start", "From")
    ends = time_column("end", "To")
    received = time_column("created_at", "Received")

    @admin.display(description="Request")
    def request_link(self, obj) -> str:
        return admin_link(obj.request)


# ---------------------------------------------------------------------------------------------
# Booked interviews


def participants_text(session: InterviewSession) -> str:
    """Participants must be prefetched with their interviewer."""
    people = [p for p in session.participants.all() if p.active]
    return "; ".join(f"{p.interviewer.name} ({p.get_part_display()})" for p in people) or EMPTY


class InterviewSessionInline(ReadOnlyInline):
    model = InterviewSession
    fields = ("position", "name", "starts", "ends", "room", "who", "active")
    readonly_fields = fields
    verbose_name_plural = "Sessions"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("room").prefetch_related("participants__interviewer")

    starts = time_column("start", "Starts")
    ends = time_column("end", "Ends")

    @admin.display(description="Interviewers")
    def who(self, obj) -> str:
        return participants_text(obj)


@admin.register(ScheduledInterview)
class ScheduledInterviewAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "request_link", "revision", "state", "starts", "ends", "session_count")
    list_filter = ("state",)
    search_fields = ("=request__id", "conference_id")
    list_select_related = ("request",)
    fields = ("request_link", "revision", "state", "starts", "ends", "video_link", "conference_id", "created",
              "option_view")
    readonly_fields = fields
    inlines = (InterviewSessionInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_sessions=Count("sessions"))

    starts = time_column("start", "Starts")
    ends = time_column("end", "Ends")
    created = time_column("created_at", "Booked at")

    @admin.display(description="Request")
    def request_link(self, obj) -> str:
        return admin_link(obj.request)

    @admin.display(description="Sessions", ordering="_sessions")
    def session_count(self, obj) -> int:
        return obj._sessions

    @admin.display(description="Option booked (ids, as the solver offered it)")
    def option_view(self, obj) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.option, indent=2, sort_keys=True)) if obj.option else EMPTY


class SessionParticipantInline(ReadOnlyInline):
    model = SessionParticipant
    fields = ("interviewer", "part", "busy_from", "busy_to", "active")
    readonly_fields = fields
    verbose_name_plural = "Participants (busy times include their buffer)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("interviewer")

    busy_from = time_column("busy_start", "Busy from")
    busy_to = time_column("busy_end", "Busy to")


@admin.register(InterviewSession)
class InterviewSessionAdmin(ReadOnlyAdmin):
    list_display = ("name", "interview_link", "position", "starts", "ends", "room", "who", "active")
    list_filter = ("active",)
    search_fields = ("=interview__request__id", "name", "calendar_event_id", "ical_uid")
    list_select_related = ("interview", "room")
    fields = ("interview_link", "position", "name", "starts", "ends", "room", "active", "calendar_event_id",
              "ical_uid", "sequence")
    readonly_fields = fields
    inlines = (SessionParticipantInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("participants__interviewer")

    starts = time_column("start", "Starts")
    ends = time_column("end", "Ends")

    @admin.display(description="Interview")
    def interview_link(self, obj) -> str:
        return admin_link(obj.interview)

    @admin.display(description="Interviewers")
    def who(self, obj) -> str:
        return participants_text(obj)


@admin.register(SessionParticipant)
class SessionParticipantAdmin(ReadOnlyAdmin):
    list_display = ("interviewer", "part", "session_link", "busy_from", "busy_to", "active")
    list_filter = ("part", "active")
    search_fields = ("interviewer__name", "=session__interview__request__id")
    list_select_related = ("interviewer", "session")
    fields = ("session_link", "interviewer", "part", "busy_from", "busy_to", "active")
    readonly_fields = fields

    busy_from = time_column("busy_start", "Busy from")
    busy_to = time_column("busy_end", "Busy to")

    @admin.display(description="Session")
    def session_link(self, obj) -> str:
        return admin_link(obj.session)
