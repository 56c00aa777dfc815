"""Connections to ATSs and calendar providers, with their health, and the calendars they hold.

Credentials are write-only. The stored JSON is never put into a form or a page, not even a
prefix: the form shows "Set (N keys)" or "Not set", offers a masked input that replaces the
whole JSON object, and a box that removes it. Leaving the input empty keeps what is stored.
"""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html

from integrations.ats import health
from integrations.ats.base import provider_for
from integrations.ats.polling import ats_poll
from integrations.ats.sync import jobs_sync
from integrations.errors import ProviderError
from integrations.models import AtsComponentHealth, AtsConnection, Calendar, CalendarConnection, Health
from scheduling.admin.common import (
    EMPTY,
    HEALTH_READONLY,
    HealthFieldsMixin,
    ReadOnlyInline,
    SkipHistoryOnAddMixin,
    admin_link,
    changelist_url,
    time_column,
)
from scheduling.fields import SecretUnreadable

HEALTH_COLUMNS = ("health_cell", "last_error_short")
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
class AtsConnectionAdmin(CredentialsAdminMixin, HealthFieldsMixin, SkipHistoryOnAddMixin, admin.ModelAdmin):
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
    list_display = ("name", "provider_and_mode", "health_cell", "calendar_count", "unhealthy_calendars",
                    "last_error_short", "active")
    list_filter = ("health", "provider", "auth_mode", "active")
    search_fields = ("name", "account_email", "organiser_calendar")
    readonly_fields = ("credentials_status", "created", *HEALTH_READONLY)
    actions = ("send_consent_link",)
    fieldsets = (
        ("Connection", {"fields": ("name", "provider", "auth_mode", "account_email", "organiser_calendar",
                                   "active")}),
        HEALTH_FIELDSET,
        CredentialsAdminMixin.credentials_fieldset,
        ("Endpoints", {"fields": ("base_url", "token_url"), "classes": ("collapse",),
                       "description": "Leave empty for the provider's real service."}),
        (None, {"fields": ("created",)}),
    )

    created = time_column("created_at", "Created")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _calendars=Count("calendars"), _unhealthy=Count("calendars", filter=_unhealthy("calendars__")))

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
