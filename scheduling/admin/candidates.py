"""Candidates and their applications: the only pages that show candidate personal data.

The admin's own history (`LogEntry.object_repr`) would copy a candidate's name for every
add, change or deletion made here; these admins log "Candidate #12" instead, so erasure
leaves no name behind in the history.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count
from django.template.response import TemplateResponse
from django.utils.html import format_html

from scheduling.models import Application, Candidate, SchedulingRequest

from .common import EMPTY, ReadOnlyInline, SkipHistoryOnAddMixin, admin_link, changelist_url, local_dt, state_badge


class ErasedFilter(admin.SimpleListFilter):
    title = "personal data"
    parameter_name = "erased"

    def lookups(self, request, model_admin):
        return [("no", "Kept"), ("yes", "Erased")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(erased_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(erased_at__isnull=True)
        return queryset


class ApplicationInline(ReadOnlyInline):
    model = Application
    fields = ("requisition", "stage_name", "active", "created")
    readonly_fields = fields
    verbose_name_plural = "Applications"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("requisition", "stage")

    @admin.display(description="ATS stage")
    def stage_name(self, obj) -> str:
        return obj.stage.name if obj.stage else EMPTY

    @admin.display(description="Applied")
    def created(self, obj) -> str:
        return local_dt(obj.created_at)


class NoNamesInHistoryMixin:
    """Write the admin history with "<Model> #<id>", never `str(obj)`, which may name a candidate."""

    def _log(self, request, objs, flag, message="") -> list[LogEntry]:
        entries = [LogEntry(user_id=request.user.pk, content_type=ContentType.objects.get_for_model(obj),
                            object_id=str(obj.pk), object_repr=f"{obj._meta.verbose_name.capitalize()} #{obj.pk}",
                            action_flag=flag,
                            change_message=message if isinstance(message, str) else json.dumps(message))
                   for obj in objs]
        return LogEntry.objects.bulk_create(entries)

    def log_addition(self, request, obj, message):
        return self._log(request, [obj], ADDITION, message)[0]

    def log_change(self, request, obj, message):
        return self._log(request, [obj], CHANGE, message)[0]

    def log_deletions(self, request, queryset):
        return self._log(request, list(queryset), DELETION)


@admin.register(Candidate)
class CandidateAdmin(NoNamesInHistoryMixin, SkipHistoryOnAddMixin, admin.ModelAdmin):
    list_display = ("name", "email", "timezone", "application_count", "last_activity", "erased")
    list_filter = (ErasedFilter, "ats_connection")
    search_fields = ("first_name", "last_name", "email", "=external_id")
    list_select_related = ("ats_connection",)
    autocomplete_fields = ("ats_connection",)
    readonly_fields = ("created", "last_activity", "erased")
    inlines = (ApplicationInline,)
    actions = ("erase_personal_data",)
    fieldsets = (
        ("Person", {"fields": ("first_name", "last_name", "email", "phone", "timezone")}),
        ("From the ATS", {"fields": ("ats_connection", "external_id")}),
        ("Record", {"fields": ("created", "last_activity", "erased")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_applications=Count("applications"))

    @admin.display(description="Name", ordering="last_name")
    def name(self, obj: Candidate) -> str:
        return str(obj) or EMPTY

    @admin.display(description="Applications", ordering="_applications")
    def application_count(self, obj) -> int:
        return getattr(obj, "_applications", 0)

    @admin.display(description="Last activity", ordering="last_activity_at")
    def last_activity(self, obj) -> str:
        return local_dt(obj.last_activity_at)

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj) -> str:
        return local_dt(obj.created_at)

    @admin.display(description="Personal data", ordering="erased_at")
    def erased(self, obj) -> str:
        if obj.erased_at is None:
            return "Kept"
        return format_html('<span class="lw-badge lw-badge-grey">{}</span> {}', "Erased", local_dt(obj.erased_at))

    @admin.action(description="Erase personal data (irreversible; asks to confirm)", permissions=["change"])
    def erase_personal_data(self, request, queryset):
        candidates = list(queryset.order_by("pk"))
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Erase personal data?",
                "opts": self.model._meta,
                "candidates": candidates,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "media": self.media,
            }
            return TemplateResponse(request, "admin/scheduling/candidate/erase_confirmation.html", context)
        # Imported here: the privacy service is its own part, and the admin must load without it.
        try:
            from scheduling.privacy import candidate_erase
        except ImportError:
            self.message_user(request, "Erasure is not available: scheduling.privacy.candidate_erase is missing. "
                                       "Nothing was erased.", level=messages.ERROR)
            return None
        for candidate in candidates:
            candidate_erase(candidate=candidate, actor=request.user)
        self.message_user(request, f"Erased the personal data of {len(candidates)} candidate(s).",
                          level=messages.SUCCESS)
        return None


class SchedulingRequestInline(ReadOnlyInline):
    model = SchedulingRequest
    fields = ("plan", "state_label", "created")
    readonly_fields = fields
    verbose_name_plural = "Scheduling requests"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("plan__requisition")

    @admin.display(description="State")
    def state_label(self, obj) -> str:
        return state_badge(obj.state, obj.get_state_display())

    @admin.display(description="Created")
    def created(self, obj) -> str:
        return local_dt(obj.created_at)


@admin.register(Application)
class ApplicationAdmin(NoNamesInHistoryMixin, SkipHistoryOnAddMixin, admin.ModelAdmin):
    list_display = ("__str__", "candidate_link", "requisition", "stage_name", "stage_entered", "request_count",
                    "active")
    list_filter = ("active", "requisition")
    search_fields = ("=id", "candidate__first_name", "candidate__last_name", "candidate__email",
                     "requisition__title", "=external_id")
    list_select_related = ("candidate", "requisition", "stage")
    autocomplete_fields = ("candidate", "requisition", "stage", "ats_connection")
    readonly_fields = ("stage_entered", "created")
    inlines = (SchedulingRequestInline,)
    fieldsets = (
        (None, {"fields": ("candidate", "requisition", "active")}),
        ("In the ATS", {"fields": ("ats_connection", "external_id", "stage", "stage_entered", "created")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_requests=Count("requests"))

    @admin.display(description="Candidate", ordering="candidate__last_name")
    def candidate_link(self, obj) -> str:
        return admin_link(obj.candidate)

    @admin.display(description="ATS stage", ordering="stage__name")
    def stage_name(self, obj) -> str:
        return obj.stage.name if obj.stage else EMPTY

    @admin.display(description="In stage since", ordering="stage_entered_at")
    def stage_entered(self, obj) -> str:
        return local_dt(obj.stage_entered_at)

    @admin.display(description="Applied", ordering="created_at")
    def created(self, obj) -> str:
        return local_dt(obj.created_at)

    @admin.display(description="Requests", ordering="_requests")
    def request_count(self, obj) -> str:
        n = getattr(obj, "_requests", 0)
        return format_html('<a href="{}">{}</a>', changelist_url(SchedulingRequest, application__id__exact=obj.pk), n)
