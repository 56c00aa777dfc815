"""Requisitions, their ATS stages, and interview plans with their sessions and roles.

A plan is edited on one page, sessions inline. Django's admin has no nested inlines, so the
roles of each session cannot be edited inside the plan's session rows. The choice made here:
each session row on the plan page shows a read-only summary of its roles ("2 from Backend
pool; Alex Chen (optional)") and an "Edit roles" link to that session's own page, where the
roles are inline. Saving that page returns to the plan. This keeps both pages plain Django
forms (no custom formset juggling two levels of prefixes), and a session with no roles yet is
flagged on the plan page, so nothing is hidden.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect
from django.utils.html import format_html

from integrations.ats.sync import stage_occupants
from integrations.errors import ProviderError
from scheduling.errors import LoopwiseError
from scheduling.models import AtsStage, InterviewPlan, Requisition, Role, SchedulingRequest, SessionTemplate

from .common import (
    EMPTY,
    CompactInline,
    ReadOnlyInline,
    SkipHistoryOnAddMixin,
    admin_link,
    admin_url,
    changelist_url,
    plain_related_widget,
)


def role_text(role: Role) -> str:
    """One role in words; pool, interviewer and rooms must be prefetched."""
    if role.kind == Role.Kind.POOL:
        text = f"{role.count} from {role.pool.name if role.pool else '?'}" + (" (trainees)" if role.trainees else "")
        text += " (a reverse shadow leads, a trained member watches)" if role.reverse_shadow_leads else ""
    elif role.kind == Role.Kind.INTERVIEWER:
        text = role.interviewer.name if role.interviewer else "?"
    else:
        rooms = [r.name for r in role.rooms.all()]
        text = "room: " + (" or ".join(rooms) if rooms else "any active room")
    return text + (" (optional)" if role.optional else "")


def roles_summary(session: SessionTemplate) -> str:
    if session.pk is None:
        return EMPTY
    roles = list(session.roles.all())
    if session.is_break:
        return "Break: no interviewers" + (f" ({len(roles)} role(s) ignored)" if roles else "")
    if not roles:
        return format_html('<span class="lw-badge lw-badge-amber">{}</span>', "No roles yet")
    return "; ".join(role_text(r) for r in roles)


def _role_prefetch(prefix: str = "") -> tuple[str, ...]:
    return (f"{prefix}roles__pool", f"{prefix}roles__interviewer", f"{prefix}roles__rooms")


def _open_requests_subquery(**outer) -> Subquery:
    return Subquery(SchedulingRequest.objects.filter(state__in=SchedulingRequest.OPEN_STATES, **outer)
                    .order_by().values(*outer).annotate(n=Count("pk")).values("n")[:1],
                    output_field=IntegerField())


# ---------------------------------------------------------------------------------------------
# Requisitions and stages


class AtsStageInline(CompactInline):
    model = AtsStage
    fields = ("position", "name", "external_id")
    verbose_name_plural = "Pipeline stages (as in the ATS)"


class InterviewPlanInline(ReadOnlyInline):
    model = InterviewPlan
    fk_name = "requisition"
    fields = ("name", "stage", "active")
    readonly_fields = fields
    verbose_name_plural = "Interview plans (open one to edit it)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("requisition", "stage__requisition")


@admin.register(Requisition)
class RequisitionAdmin(SkipHistoryOnAddMixin, admin.ModelAdmin):
    list_display = ("title", "department", "location", "recruiter", "coordinator", "ats_connection", "plan_count",
                    "open_requests", "open")
    list_filter = ("open", "ats_connection", "department")
    search_fields = ("title", "external_id", "department", "location")
    list_select_related = ("recruiter", "coordinator", "ats_connection")
    autocomplete_fields = ("recruiter", "coordinator", "ats_connection")
    inlines = (AtsStageInline, InterviewPlanInline)
    fieldsets = (
        (None, {"fields": ("title", "department", "location", "open")}),
        ("People", {"fields": ("recruiter", "coordinator")}),
        ("From the ATS", {"fields": ("ats_connection", "external_id")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _plans=Count("plans", distinct=True),
            _open=Coalesce(_open_requests_subquery(application__requisition=OuterRef("pk")), 0),
        )

    @admin.display(description="Plans", ordering="_plans")
    def plan_count(self, obj) -> int:
        return obj._plans

    @admin.display(description="Open requests", ordering="_open")
    def open_requests(self, obj) -> str:
        url = changelist_url(SchedulingRequest, application__requisition__id__exact=obj.pk)
        return format_html('<a href="{}">{}</a>', url, obj._open)


@admin.register(AtsStage)
class AtsStageAdmin(admin.ModelAdmin):
    list_display = ("name", "requisition", "position", "external_id")
    search_fields = ("name", "requisition__title", "external_id")
    list_select_related = ("requisition",)
    autocomplete_fields = ("requisition",)
    fields = ("requisition", "position", "name", "external_id")


# ---------------------------------------------------------------------------------------------
# Plans, sessions, roles


class SessionTemplateInline(CompactInline):
    model = SessionTemplate
    fields = ("position", "name", "duration_minutes", "is_break", "roles", "edit_roles")
    readonly_fields = ("roles", "edit_roles")
    verbose_name = "session"
    verbose_name_plural = "Sessions (in order; roles are edited on each session's own page)"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(*_role_prefetch())

    @admin.display(description="Who sits it")
    def roles(self, obj: SessionTemplate) -> str:
        return roles_summary(obj)

    @admin.display(description="Roles")
    def edit_roles(self, obj: SessionTemplate) -> str:
        if obj.pk is None:
            return "Save the plan first, then edit roles."
        n = len(obj.roles.all())
        if obj.is_break and not n:
            return EMPTY
        return format_html('<a href="{}">Edit roles ({})</a>', admin_url(obj), n)


class InterviewPlanForm(forms.ModelForm):
    class Meta:
        model = InterviewPlan
        fields = ("name", "requisition", "stage", "next_stage", "active", "order", "gap_minutes", "buffer_minutes",
                  "step_minutes", "min_notice_hours", "window_days", "link_expiry_hours", "requires_approval",
                  "reschedule_cutoff_hours", "show_interviewer_names", "allow_reverse_shadow")

    def clean(self):
        data = super().clean()
        requisition = data.get("requisition")
        for name in ("stage", "next_stage"):
            stage = data.get(name)
            if requisition and stage and stage.requisition_id != requisition.pk:
                self.add_error(name, f"“{stage.name}” is a stage of another requisition ({stage.requisition}).")
        return data


@admin.register(InterviewPlan)
class InterviewPlanAdmin(admin.ModelAdmin):
    form = InterviewPlanForm
    list_display = ("name", "requisition", "stage_name", "session_count", "total_minutes", "requires_approval",
                    "open_requests", "active")
    list_filter = ("active", "requires_approval", "order", "requisition")
    search_fields = ("name", "requisition__title", "stage__name")
    list_select_related = ("requisition", "stage")
    autocomplete_fields = ("requisition", "stage", "next_stage")
    inlines = (SessionTemplateInline,)
    save_on_top = True
    actions = ("who_is_in_stage",)
    fieldsets = (
        ("Plan", {"fields": ("name", "requisition", "stage", "next_stage", "active"),
                  "description": "Candidates whose application enters the stage in the ATS get this plan (when "
                                 "it is active). Try a mapping first with the list's action \u201cWho is in this "
                                 "stage now?\u201d."}),
        ("Timing", {"fields": ("order", "gap_minutes", "buffer_minutes", "step_minutes"),
                    "description": "How sessions are placed in a day."}),
        ("The candidate's link", {"fields": ("min_notice_hours", "window_days", "link_expiry_hours",
                                             "requires_approval", "reschedule_cutoff_hours",
                                             "show_interviewer_names")}),
        ("Training", {"fields": ("allow_reverse_shadow",)}),
    )

    def get_queryset(self, request):
        sessions = SessionTemplate.objects.filter(plan=OuterRef("pk")).order_by().values("plan")
        return super().get_queryset(request).annotate(
            _sessions=Coalesce(Subquery(sessions.annotate(n=Count("pk")).values("n")[:1],
                                        output_field=IntegerField()), 0),
            _minutes=Coalesce(Subquery(sessions.annotate(n=Sum("duration_minutes")).values("n")[:1],
                                       output_field=IntegerField()), 0),
            _open=Coalesce(_open_requests_subquery(plan=OuterRef("pk")), 0),
        )

    @admin.action(description="Who is in this stage now? (asks the ATS; changes nothing)")
    def who_is_in_stage(self, request, queryset):
        for plan in queryset.select_related("stage", "requisition__ats_connection"):
            try:
                occupants, total = stage_occupants(plan=plan)
            except (LoopwiseError, ProviderError) as e:
                self.message_user(request, f"{plan}: {getattr(e, 'message', e)}", level=messages.ERROR)
                continue
            where = f"{plan} ({plan.stage.name}{'' if plan.active else ', plan not active yet'})"
            if not total:
                self.message_user(request, f"{where}: nobody is in this stage in the ATS now.", level=messages.INFO)
                continue
            shown = [f"#{o.application_external_id}"
                     + (f" {o.application.candidate}" if o.application is not None else " (not in Loopwise yet)")
                     for o in occupants]
            more = f" and {total - len(shown)} more" if total > len(shown) else ""
            self.message_user(request, f"{where}: {total} application(s) in this stage in the ATS now: "
                                       f"{', '.join(shown)}{more}.", level=messages.INFO)

    @admin.display(description="Stage", ordering="stage__name")
    def stage_name(self, obj) -> str:
        return obj.stage.name if obj.stage else EMPTY

    @admin.display(description="Sessions", ordering="_sessions")
    def session_count(self, obj) -> int:
        return obj._sessions

    @admin.display(description="Length", ordering="_minutes")
    def total_minutes(self, obj) -> str:
        hours, minutes = divmod(obj._minutes, 60)
        return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"

    @admin.display(description="Open requests", ordering="_open")
    def open_requests(self, obj) -> str:
        return format_html('<a href="{}">{}</a>', changelist_url(SchedulingRequest, plan__id__exact=obj.pk), obj._open)


class RoleForm(forms.ModelForm):
    class Meta:
        model = Role
        fields = ("kind", "pool", "interviewer", "rooms", "count", "optional", "trainees", "reverse_shadow_leads")

    def clean(self):
        data = super().clean()
        kind, pool, person = data.get("kind"), data.get("pool"), data.get("interviewer")
        if kind == Role.Kind.POOL:
            if not pool:
                self.add_error("pool", "Choose the pool this role draws from.")
            if person:
                self.add_error("interviewer", "A pool role has no fixed interviewer; clear this or change the kind.")
        elif kind == Role.Kind.INTERVIEWER:
            if not person:
                self.add_error("interviewer", "Choose the interviewer who sits this session.")
            if pool:
                self.add_error("pool", "A fixed-interviewer role has no pool; clear this or change the kind.")
        elif kind == Role.Kind.ROOM and (pool or person):
            self.add_error("kind", "A room role has neither a pool nor an interviewer; clear them.")
        if kind != Role.Kind.ROOM and data.get("rooms"):
            self.add_error("rooms", "Rooms apply to room roles only.")
        if kind != Role.Kind.POOL and data.get("trainees"):
            self.add_error("trainees", "Only a pool role can draw trainees.")
        if data.get("reverse_shadow_leads") and (kind != Role.Kind.POOL or data.get("trainees")):
            self.add_error("reverse_shadow_leads", "Only a pool role of trained members can be led by a reverse "
                                                   "shadow; untick “trainees” or this.")
        return data


class RoleInline(CompactInline):
    model = Role
    form = RoleForm
    fields = ("kind", "pool", "interviewer", "rooms", "count", "optional", "trainees", "reverse_shadow_leads")
    autocomplete_fields = ("pool", "interviewer", "rooms")
    verbose_name_plural = "Roles: who sits this session"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("pool", "interviewer")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        return plain_related_widget(super().formfield_for_dbfield(db_field, request, **kwargs))


@admin.register(SessionTemplate)
class SessionTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "plan_link", "position", "duration_minutes", "is_break", "roles")
    list_filter = ("is_break",)
    search_fields = ("name", "plan__name", "plan__requisition__title")
    list_select_related = ("plan__requisition",)
    autocomplete_fields = ("plan",)
    inlines = (RoleInline,)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            where = "Saving returns to the plan."
        else:
            where = format_html("A session of {}. Saving returns to the plan.", admin_link(obj.plan))
        return ((None, {"fields": ("plan", "position", "name", "duration_minutes", "is_break"),
                        "description": where}),)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(*_role_prefetch())

    @admin.display(description="Plan", ordering="plan__name")
    def plan_link(self, obj) -> str:
        return admin_link(obj.plan)

    @admin.display(description="Who sits it")
    def roles(self, obj) -> str:
        return roles_summary(obj)

    def _back_to_plan(self, request, obj, response):
        if any(k in request.POST for k in ("_continue", "_addanother", "_saveasnew", "_popup")):
            return response
        return HttpResponseRedirect(admin_url(obj.plan))

    def response_change(self, request, obj):
        return self._back_to_plan(request, obj, super().response_change(request, obj))

    def response_add(self, request, obj, post_url_continue=None):
        return self._back_to_plan(request, obj, super().response_add(request, obj, post_url_continue))


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    form = RoleForm
    list_display = ("role", "session_link", "plan_link", "kind", "optional")
    list_filter = ("kind", "optional", "trainees")
    search_fields = ("session__name", "session__plan__name", "pool__name", "interviewer__name")
    list_select_related = ("session__plan__requisition", "pool", "interviewer")
    autocomplete_fields = ("session", "pool", "interviewer", "rooms")
    fieldsets = (
        (None, {"fields": ("session",)}),
        ("Who", {"fields": ("kind", "pool", "interviewer", "rooms", "count", "optional", "trainees",
                            "reverse_shadow_leads")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("rooms")

    @admin.display(description="Role")
    def role(self, obj) -> str:
        return role_text(obj)

    @admin.display(description="Session", ordering="session__name")
    def session_link(self, obj) -> str:
        return admin_link(obj.session)

    @admin.display(description="Plan")
    def plan_link(self, obj) -> str:
        return admin_link(obj.session.plan)

