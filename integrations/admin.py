"""Connections to ATSs and calendar providers, with their health, and the calendars they hold.

Credentials are write-only. The stored JSON is never put into a form or a page, not even a
prefix: the form shows "Set (N keys)" or "Not set", offers a masked input that replaces the
whole JSON object, and a box that removes it. Leaving the input empty keeps what is stored.
The one exception is the write-back block: it shows the values of the few credentials keys the write-back
matrix names as settings, not secrets (an acting user id, a field id: `integrations.ats.matrix.Row.settings`).
"""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from integrations.ats import health, lever_oauth, matrix, push_tokens
from integrations.ats import quota as quota_module
from integrations.ats.base import provider_class, provider_for
from integrations.ats.polling import ats_poll
from integrations.ats.sync import jobs_sync
from integrations.errors import ProviderError
from integrations.models import (
    AtsComponentHealth,
    AtsConnection,
    AtsPushToken,
    Calendar,
    CalendarConnection,
    Health,
)
from scheduling import clock
from scheduling.admin.common import (
    EMPTY,
    HEALTH_READONLY,
    HealthFieldsMixin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    SkipHistoryOnAddMixin,
    admin_link,
    changelist_url,
    health_badge,
    local_dt_html,
    time_column,
)
from scheduling.fields import SecretUnreadable
from scheduling.models import InterviewPlan

HEALTH_COLUMNS = ("health_cell", "last_error_short")
LISTED_PEOPLE = 3  # interviewers named in a calendar connection's row; the rest are counted
HEALTH_FIELDSET = ("Health (written by the background workers)", {"fields": HEALTH_READONLY})


class CredentialsForm(forms.ModelForm):
    """A model form whose `credentials` can be replaced or removed, never read back."""

    new_credentials = forms.CharField(
        required=False, strip=True, label="New credentials",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password", "size": 80,
                                                              "spellcheck": "false"}),
        help_text='A JSON object, e.g. {"client_id": "…", "client_secret": "…"}. It replaces the stored '
                  "credentials as a whole. Leave empty to keep them. What you enter is never shown again.")
    remove_credentials = forms.BooleanField(required=False, label="Remove the stored credentials")

    def clean_new_credentials(self) -> dict | None:
        raw = self.cleaned_data["new_credentials"]
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as e:
            # The decoder's message names a position, never the text: nothing typed is echoed back.
            raise forms.ValidationError(f"New credentials: not valid JSON ({e.msg} at line {e.lineno}, "
                                        f"column {e.colno}).")
        if not isinstance(value, dict) or not value:
            raise forms.ValidationError('New credentials: enter a JSON object with at least one key, '
                                        'e.g. {"api_key": "…"}.')
        return value

    def clean(self):
        data = super().clean()
        if data.get("new_credentials") and data.get("remove_credentials"):
            self.add_error("remove_credentials", "Either enter new credentials or remove them, not both.")
        return data

    def save(self, commit=True):
        if self.cleaned_data.get("new_credentials"):
            self.instance.credentials = self.cleaned_data["new_credentials"]
        elif self.cleaned_data.get("remove_credentials"):
            self.instance.credentials = {}
        return super().save(commit)


class CredentialsAdminMixin:
    # Defence in depth: even if a fieldset named it, the stored value would not become a form field.
    exclude = ("credentials",)
    credentials_fieldset = ("Credentials (write-only)", {
        "fields": ("credentials_status", "new_credentials", "remove_credentials"),
        "description": "Stored encrypted. They are never shown, not even in part.",
    })

    def get_queryset(self, request):
        # Deferred: lists never decrypt them, and a secret no key opens (a lost FIELD_ENCRYPTION_KEYS
        # entry) breaks no page; the change page says so, and new credentials can be entered over it.
        return super().get_queryset(request).defer("credentials")

    @admin.display(description="Stored credentials")
    def credentials_status(self, obj) -> str:
        if obj is None or obj.pk is None:
            return "Not set"
        try:
            credentials = obj.credentials
        except SecretUnreadable:
            return "Unreadable: no key in FIELD_ENCRYPTION_KEYS opens them. Enter new credentials."
        if not credentials:
            return "Not set"
        n = len(credentials)
        return f"Set ({n} key{'s' if n != 1 else ''})"


def _unhealthy(prefix: str = "") -> Q:
    return Q(**{f"{prefix}health__in": [Health.DEGRADED, Health.RED]})


# ---------------------------------------------------------------------------------------------
# Write-back matrix (issue 9): what Loopwise writes back to each ATS, read from integrations.ats.matrix and
# shown on each connection's page (with the connection's own settings and stage mappings) and on a page of its
# own, linked from the connections list (templates/admin/integrations/atsconnection/). Everything of it is in
# this block; AtsConnectionAdmin only lists the mixin among its bases.


def writeback_state(connection: AtsConnection) -> tuple[bool, str]:
    """(on, the reason in words): whether bookings of `connection`'s applications write back, and why not."""
    row = matrix.row_for(connection.provider)
    if row is None:
        return False, f"Off: Loopwise does not know the provider {connection.provider!r}."
    if provider_class(connection.provider) is None:
        return False, f"Off: Loopwise has no {row.name} adapter yet, so nothing is written back."
    if not connection.active:
        return False, "Off: this connection is switched off (Active is not ticked), so nothing is written back."
    return True, (f"On: bookings, reschedules and cancellations of applications from this connection write to "
                  f"{row.name} as below.")


def _writeback_settings(connection: AtsConnection, row: matrix.Row) -> tuple[dict[str, str], str]:
    """The values of the row's non-secret settings on `connection` (never any other credentials key)."""
    try:
        credentials = connection.credentials or {}
    except SecretUnreadable:
        return {}, "The credentials cannot be read (no key in FIELD_ENCRYPTION_KEYS opens them)."
    values = {}
    for setting in row.settings:
        value = credentials.get(setting.key)
        if value not in (None, ""):
            values[setting.key] = str(value)
        elif setting.required:
            values[setting.key] = f"Not set: {row.name} write-back cannot work without it."
        else:
            values[setting.key] = f"Not set ({setting.default or 'not needed with every kind of credentials'})"
    return values, ""


def writeback_context(connection: AtsConnection) -> dict:
    """What the connection page's write-back block shows."""
    row = matrix.row_for(connection.provider)
    on, state = writeback_state(connection)
    if row is None:
        return {"on": on, "state": state}
    values, problem = _writeback_settings(connection, row)
    plans = list(InterviewPlan.objects.filter(requisition__ats_connection=connection, stage__isnull=False)
                 .select_related("requisition", "stage", "next_stage").order_by("requisition__title", "name"))
    moving = [p for p in plans if p.active and p.next_stage_id and p.next_stage_id != p.stage_id]
    writes = []
    for write in row.writes:
        mine = [(s.label, s.key, values.get(s.key, "")) for s in row.settings if s.key in write.settings]
        if write.kind == matrix.MOVE:
            mine.append(("Plans that move applications", "", f"{len(moving)} of {len(plans)} mapped plans"
                                                             if plans else "None: no plan is mapped to a stage"))
        writes.append({"write": write, "mine": mine})
    return {"on": on, "state": state, "row": row, "writes": writes, "plans": plans, "problem": problem}


class WriteBackMatrixMixin:
    """Adds the write-back matrix to the ATS connection admin: a block on the change page, a "Writes back" column,
    and the matrix page (`admin:integrations_atsconnection_writeback`)."""

    writeback_fieldset = ("What Loopwise writes back", {"fields": ("writeback",)})

    class Media:
        css = {"all": ("admin-extra/writeback.css",)}

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        return [*fieldsets, self.writeback_fieldset] if obj is not None and obj.pk else fieldsets

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "writeback")

    def get_list_display(self, request):
        return (*super().get_list_display(request), "writes_back")

    @admin.display(description="Writes back")
    def writes_back(self, obj) -> str:
        row = matrix.row_for(obj.provider)
        return row.summary if row else EMPTY

    @admin.display(description="Write-back")
    def writeback(self, obj) -> str:
        if obj is None or obj.pk is None:
            return EMPTY
        return render_to_string("admin/integrations/atsconnection/_writeback.html",
                                {**writeback_context(obj), "matrix_url": reverse(
                                    "admin:integrations_atsconnection_writeback")})

    def get_urls(self):
        own = [path("write-back/", self.admin_site.admin_view(self.writeback_view),
                    name="integrations_atsconnection_writeback")]
        return own + super().get_urls()

    def writeback_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        connections = list(AtsConnection.objects.defer("credentials").order_by("name"))
        rows = [{"row": row, "writes": [row.write(kind) for kind in matrix.KINDS],
                 "connections": [(c, writeback_state(c)[0]) for c in connections if c.provider == row.provider]}
                for row in matrix.MATRIX.values()]
        return TemplateResponse(request, "admin/integrations/atsconnection/writeback.html", {
            **self.admin_site.each_context(request), "title": "What Loopwise writes back to each ATS",
            "opts": self.model._meta, "rows": rows})


# ---------------------------------------------------------------------------------------------
# iCIMS and Lever specifics (issue 9, the iCIMS/Lever-OAuth part; separate from the write-back block above): the
# daily API quota with its warning (integrations.ats.quota), the push token URL and a generated push OAuth client
# (integrations.ats.push_tokens), and the Lever sign-in (integrations.ats.lever_oauth). Everything of it is in this
# block; AtsConnectionAdmin only lists the mixin among its bases.

_QUOTA_HEALTH = {"ok": Health.OK, "low": Health.DEGRADED, "exhausted": Health.RED, "unknown": Health.UNKNOWN}
PUSH_CLIENT_TEMPLATE = "admin/integrations/atsconnection/push_client.html"


class ProviderDetailsMixin:
    """Adds to the ATS connection admin: an "API quota" column and block (the block also on a connection that has
    none yet, for iCIMS), the push token URL (iCIMS), the Lever sign-in link, and the "new push OAuth client"
    action."""

    provider_fieldset = ("Quota, pushes and sign-in", {
        "fields": ("api_quota", "push_token_url", "lever_sign_in"),
        "description": "iCIMS reports its daily call quota on every answer; Loopwise warns when "
                       f"{quota_module.WARN_BELOW:.0%} or less of the day's calls are left, and turns the connection's "
                       "quota part red when none are."})

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        return [*fieldsets, self.provider_fieldset] if obj is not None and obj.pk else fieldsets

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "api_quota", "push_token_url", "lever_sign_in")

    def get_list_display(self, request):
        return (*super().get_list_display(request), "api_quota_short")

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self.has_change_permission(request):
            func = type(self).generate_push_client
            actions["generate_push_client"] = (func, "generate_push_client", func.short_description)
        return actions

    @admin.display(description="API quota")
    def api_quota_short(self, obj) -> str:
        quota = quota_module.stored_quota(obj)
        if quota is None or quota.remaining is None:
            return EMPTY
        level = quota_module.quota_level(quota)
        numbers = f"{quota.remaining:,}" + (f" / {quota.limit:,}" if quota.limit else "")
        if level == "ok":
            return numbers
        return format_html('{} {}', health_badge(_QUOTA_HEALTH[level]), numbers)

    @admin.display(description="API quota (calls left today)")
    def api_quota(self, obj) -> str:
        quota = quota_module.stored_quota(obj) if obj is not None and obj.pk else None
        if quota is None:
            return ("No reading yet: iCIMS reports it on every answer." if obj is not None and
                    obj.provider == AtsConnection.Provider.ICIMS else "This provider reports no call quota.")
        level = quota_module.quota_level(quota)
        return format_html('{} {}<br><span class="lw-muted">as iCIMS said at {}</span>',
                           health_badge(_QUOTA_HEALTH[level]), quota_module.quota_text(quota),
                           local_dt_html(quota.seen_at))

    @admin.display(description="Push token URL (iCIMS OAuth pushes)")
    def push_token_url(self, obj) -> str:
        if obj is None or obj.pk is None or obj.provider != AtsConnection.Provider.ICIMS:
            return EMPTY
        url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("ats_push_token", args=[obj.webhook_key])
        return format_html('<code class="lw-nowrap">{}</code><br><span class="lw-muted">For pushes authenticated by '
                           'OAuth: iCIMS asks this URL for a token with the push client (action "New push OAuth '
                           'client"), then sends it with each push to the webhook URL.</span>', url)

    @admin.display(description="Lever sign-in (OAuth)")
    def lever_sign_in(self, obj) -> str:
        if obj is None or obj.pk is None or obj.provider != AtsConnection.Provider.LEVER:
            return EMPTY
        try:
            oauth = lever_oauth.uses_refresh(obj.credentials or {})
        except SecretUnreadable:
            oauth = False
        if not oauth:
            return "Not used: this connection uses an API key (or no OAuth client is stored)."
        return format_html('<a class="button" href="{}">Sign in to Lever</a><br><span class="lw-muted">A Lever super '
                           'admin signs in once; Loopwise refreshes the access from then on. Do it again when the '
                           'auth part turns red because the grant was revoked.</span>',
                           reverse("ats_lever_authorize", args=[obj.pk]))

    @admin.action(description="New push OAuth client (iCIMS; one connection; shown once)")
    def generate_push_client(self, request, queryset):
        if queryset.count() != 1 or queryset.get().provider != AtsConnection.Provider.ICIMS:
            self.message_user(request, "Select exactly one iCIMS connection to give it a new push OAuth client.",
                              messages.WARNING)
            return None
        connection = queryset.defer(None).get()
        client_id, client_secret = push_tokens.push_client_generate(connection=connection, actor=request.user)
        context = {**self.admin_site.each_context(request), "title": f"Push OAuth client of {connection.name}",
                   "opts": self.model._meta, "obj": connection, "client_id": client_id,
                   "client_secret": client_secret, "token_url": settings.PUBLIC_BASE_URL.rstrip("/") + reverse(
                       "ats_push_token", args=[connection.webhook_key]),
                   "webhook_url": settings.PUBLIC_BASE_URL.rstrip("/") + reverse(
                       "ats_webhook", args=[connection.webhook_key])}
        response = TemplateResponse(request, PUSH_CLIENT_TEMPLATE, context)
        response["Cache-Control"] = "no-store"
        return response


@admin.register(AtsPushToken)
class AtsPushTokenAdmin(ReadOnlyAdmin):
    """The push tokens Loopwise issued (their hashes are not shown); deleting one revokes it at once."""

    list_display = ("__str__", "connection", "issued", "expires", "valid")
    list_filter = ("connection",)
    list_select_related = ("connection",)
    fields = ("connection", "issued", "expires", "valid")
    readonly_fields = fields

    issued = time_column("issued_at", "Issued")
    expires = time_column("expires_at", "Expires")

    def get_queryset(self, request):
        return super().get_queryset(request).defer("token_hash", "connection__credentials")

    @admin.display(description="Still valid", boolean=True)
    def valid(self, obj) -> bool:
        return obj.expires_at > clock.now()


# ---------------------------------------------------------------------------------------------
# ATS


class ComponentHealthInline(HealthFieldsMixin, ReadOnlyInline):
    model = AtsComponentHealth
    fields = ("component", "health_status", "last_error_short", "failures", "last_success_when", "quiet")
    readonly_fields = fields
    show_change_link = False
    classes = ("lw-compact",)
    verbose_name_plural = "Health of each part (auth, reads, webhooks, writes …)"

    quiet = time_column("quiet_since", "Webhooks quiet since")


@admin.register(AtsConnection)
class AtsConnectionAdmin(ProviderDetailsMixin, WriteBackMatrixMixin, CredentialsAdminMixin, HealthFieldsMixin,
                         SkipHistoryOnAddMixin, admin.ModelAdmin):
    form = CredentialsForm
    list_display = ("name", "provider", "health_cell", "failing_parts", "last_error_short", "active")
    list_filter = ("health", "provider", "active")
    search_fields = ("name", "fallback_email")
    readonly_fields = ("credentials_status", "webhook_url", "polled_up_to", "created", *HEALTH_READONLY)
    inlines = (ComponentHealthInline,)
    actions = ("test_connection", "import_jobs", "poll_now")

    fieldsets = (
        ("Connection", {"fields": ("name", "provider", "base_url", "active")}),
        HEALTH_FIELDSET,
        CredentialsAdminMixin.credentials_fieldset,
        ("Problems", {"fields": ("fallback_email",)}),
        ("Webhooks and polling", {"fields": ("webhook_url", "polled_up_to", "created"),
                                  "description": "Give the ATS this URL and the webhook secret stored in the "
                                                 "credentials (Greenhouse: Configure, Dev Center, Web Hooks, "
                                                 "event 'Candidate Stage Change')."}),
    )

    polled_up_to = time_column("poll_watermark", "Changes polled up to")
    created = time_column("created_at", "Created")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _failing=Count("components", filter=_unhealthy("components__")))

    @admin.display(description="Failing parts", ordering="_failing")
    def failing_parts(self, obj) -> int:
        return obj._failing

    @admin.display(description="Webhook URL")
    def webhook_url(self, obj) -> str:
        if obj is None or obj.pk is None:
            return "Shown once the connection is saved."
        url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("ats_webhook", args=[obj.webhook_key])
        return format_html('<code class="lw-nowrap">{}</code>', url)

    @admin.action(description="Test the connection (reads only: never writes)")
    def test_connection(self, request, queryset):
        for conn in queryset.defer(None):
            try:
                with provider_for(conn) as ats:
                    results = ats.check_components()
            except ProviderError as e:
                self.message_user(request, f"{conn.name}: {e.message}", level=messages.ERROR)
                continue
            health.record_checks(connection=conn, results=results)
            words = {True: "works", False: "FAILS", None: "not checked"}
            parts = [f"{r.component} {words[r.ok]}" + (f" ({r.message})" if r.message else "") for r in results]
            failing = [r.component for r in results if r.ok is False]
            summary = (f"{conn.name}: {', '.join(failing)} failing. " if failing else f"{conn.name}: all checked "
                       "parts work. ") + "; ".join(parts) + "."
            self.message_user(request, summary, level=messages.ERROR if failing else messages.SUCCESS)

    @admin.action(description="Import jobs and their stages from the ATS")
    def import_jobs(self, request, queryset):
        for conn in queryset.defer(None):
            try:
                jobs, stages = jobs_sync(connection=conn)
            except ProviderError as e:
                self.message_user(request, f"{conn.name}: {e.message}", level=messages.ERROR)
                continue
            self.message_user(request, f"{conn.name}: {jobs} open jobs and {stages} stages imported; map a stage "
                                       "to a plan on the plan's page.", level=messages.SUCCESS)

    @admin.action(description="Poll for stage changes now")
    def poll_now(self, request, queryset):
        for conn in queryset.defer(None):
            self.message_user(request, ats_poll(connection=conn), level=messages.INFO)


@admin.register(AtsComponentHealth)
class AtsComponentHealthAdmin(HealthFieldsMixin, admin.ModelAdmin):
    list_display = ("component", "connection", *HEALTH_COLUMNS, "quiet")
    list_filter = ("health", "connection")
    search_fields = ("component", "connection__name")
    list_select_related = ("connection",)
    fields = ("connection_link", "component", *HEALTH_READONLY, "quiet")
    readonly_fields = fields

    quiet = time_column("quiet_since", "Webhooks quiet since")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Connection")
    def connection_link(self, obj) -> str:
        return admin_link(obj.connection)


# ---------------------------------------------------------------------------------------------
# Calendars


@admin.register(CalendarConnection)
class CalendarConnectionAdmin(CredentialsAdminMixin, HealthFieldsMixin, admin.ModelAdmin):
    form = CredentialsForm
    list_display = ("name", "provider_and_mode", "health_cell", "interviewers", "calendar_count",
                    "unhealthy_calendars", "last_error_short", "active")
    list_filter = ("health", "provider", "auth_mode", "active")
    search_fields = ("name", "account_email", "organiser_calendar")
    readonly_fields = ("credentials_status", "created", "interviewers", *HEALTH_READONLY)
    actions = ("test_connection", "send_consent_link")
    fieldsets = (
        ("Connection", {"fields": ("name", "provider", "auth_mode", "account_email", "organiser_calendar",
                                   "active", "interviewers")}),
        HEALTH_FIELDSET,
        CredentialsAdminMixin.credentials_fieldset,
        ("Endpoints", {"fields": ("base_url", "token_url"), "classes": ("collapse",),
                       "description": "Leave empty for the provider's real service."}),
        (None, {"fields": ("created",)}),
    )

    created = time_column("created_at", "Created")

    def get_queryset(self, request):
        people = Calendar.objects.filter(interviewer__isnull=False).select_related("interviewer") \
            .order_by("interviewer__name", "pk")
        return super().get_queryset(request).annotate(
            _calendars=Count("calendars"), _unhealthy=Count("calendars", filter=_unhealthy("calendars__"))) \
            .prefetch_related(Prefetch("calendars", queryset=people, to_attr="_people"))

    @admin.display(description="Interviewers")
    def interviewers(self, obj) -> str:
        """Whose availability depends on this connection: when it is red, these people are offered to nobody."""
        if obj is None or obj.pk is None:
            return EMPTY
        people = getattr(obj, "_people", None)
        if people is None:  # the change page's object does not come through get_queryset's prefetch
            people = list(Calendar.objects.filter(connection=obj, interviewer__isnull=False)
                          .select_related("interviewer").order_by("interviewer__name", "pk"))
        names = [c.interviewer.name for c in people]
        if not names:
            return EMPTY
        shown = ", ".join(names[:LISTED_PEOPLE])
        return f"{shown} and {len(names) - LISTED_PEOPLE} more" if len(names) > LISTED_PEOPLE else shown

    @admin.display(description="Provider", ordering="provider")
    def provider_and_mode(self, obj) -> str:
        return format_html('{}<br><span class="lw-muted">{}</span>', obj.get_provider_display(),
                           obj.get_auth_mode_display())

    @admin.display(description="Calendars", ordering="_calendars")
    def calendar_count(self, obj) -> str:
        return format_html('<a href="{}">{}</a>', changelist_url(Calendar, connection__id__exact=obj.pk),
                           obj._calendars)

    @admin.display(description="Calendars failing", ordering="_unhealthy")
    def unhealthy_calendars(self, obj) -> str:
        if not obj._unhealthy:
            return "0"
        url = changelist_url(Calendar, connection__id__exact=obj.pk, unhealthy="yes")
        return format_html('<a href="{}">{}</a>', url, obj._unhealthy)

    @admin.action(description="Test the connection (reads only: never writes)")
    def test_connection(self, request, queryset):
        from integrations.checks import calendar_connection_check

        for conn in queryset.defer(None):
            result = calendar_connection_check(connection=conn)
            if result.ok:
                self.message_user(request, f"{conn.name}: the connection works ({result.message}).",
                                  level=messages.SUCCESS)
            else:
                conn.refresh_from_db(fields=["health"])
                self.message_user(request, f"{conn.name}: the connection FAILS ({result.message}); it is now "
                                           f"“{conn.get_health_display()}”.", level=messages.ERROR)

    @admin.action(description="Send a new consent link to the user who granted access")
    def send_consent_link(self, request, queryset):
        from integrations.calendars.consent import consent_link_send
        from scheduling.errors import LoopwiseError
        from scheduling.models import Interviewer

        for conn in queryset:
            person = Interviewer.objects.filter(email__iexact=conn.account_email).first() if conn.account_email \
                else None
            if conn.auth_mode != CalendarConnection.AuthMode.USER_OAUTH or person is None:
                self.message_user(request, f"{conn.name}: consent links are for one interviewer's own grant; "
                                           f"re-authorise a service account in the provider's admin console.",
                                  level=messages.WARNING)
                continue
            try:
                consent_link_send(interviewer=person, provider=conn.provider, actor=request.user)
            except LoopwiseError as e:
                self.message_user(request, f"{conn.name}: {e.message}", level=messages.ERROR)
            else:
                self.message_user(request, f"Consent link emailed to {person.email}.", level=messages.SUCCESS)


class UnhealthyFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "unhealthy"

    def lookups(self, request, model_admin):
        return [("yes", "Failing or broken")]

    def queryset(self, request, queryset):
        return queryset.filter(_unhealthy()) if self.value() == "yes" else queryset


@admin.register(Calendar)
class CalendarAdmin(HealthFieldsMixin, admin.ModelAdmin):
    # The connection is a filter rather than a column: most organisations have one, and the list is wide.
    list_display = ("external_id", "used_by", *HEALTH_COLUMNS, "busy_fetched")
    list_filter = ("health", UnhealthyFilter, "kind", "connection")
    search_fields = ("external_id", "interviewer__name", "room__name")
    list_select_related = ("interviewer", "room")
    autocomplete_fields = ("connection",)
    readonly_fields = ("owner", "busy_fetched", "busy_until", *HEALTH_READONLY)
    fieldsets = (
        ("Calendar", {"fields": ("connection", "external_id", "kind", "owner"),
                      "description": "Link it to a person or a room from the interviewer's or room's page."}),
        HEALTH_FIELDSET,
        ("Busy times", {"fields": ("busy_fetched", "busy_until")}),
    )

    busy_fetched = time_column("busy_fetched_at", "Busy times fetched")
    busy_until = time_column("busy_window_end", "Busy times known up to")

    @admin.display(description="Used by")
    def owner(self, obj) -> str:
        # A missing reverse one-to-one raises RelatedObjectDoesNotExist, an AttributeError.
        owner = getattr(obj, "interviewer", None) or getattr(obj, "room", None)
        return admin_link(owner, owner.name) if owner else EMPTY

    @admin.display(description="Used by", ordering="kind")
    def used_by(self, obj) -> str:
        return format_html('{}<br><span class="lw-muted">{}</span>', self.owner(obj), obj.get_kind_display())


# Outbound webhooks (issue #10): registered from their own package.
from integrations.webhooks import admin as _webhooks_admin  # noqa: E402, F401
