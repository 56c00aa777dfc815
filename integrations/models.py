"""Connections to the outside world: ATSs and calendar providers, and the calendars they hold.

Health is kept at three depths so that one suspended mailbox never turns a whole organisation
red: on each connection (its own credentials), on each component of an ATS connection (auth,
reads, webhooks, writes; iCIMS has more), and on each connected calendar (an interviewer's or
a room's).
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from scheduling.fields import EncryptedJSONField

__all__ = ["Health", "HealthFields", "AtsConnection", "AtsComponentHealth", "CalendarConnection", "Calendar"]


class Health(models.TextChoices):
    UNKNOWN = "unknown", "Not checked yet"
    OK = "ok", "Healthy"
    DEGRADED = "degraded", "Failing (retrying)"
    RED = "red", "Broken: needs action"


class HealthFields(models.Model):
    """Status, last error, last success and the run of failures, as the dashboard shows them."""

    health = models.CharField(max_length=16, choices=Health.choices, default=Health.UNKNOWN, db_index=True)
    last_error = models.TextField(blank=True, help_text="The provider's own error text, as received.")
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True

    @property
    def is_healthy(self) -> bool:
        return self.health in (Health.OK, Health.UNKNOWN)


class AtsConnection(HealthFields):
    """One ATS account Loopwise syncs candidates from and writes outcomes back to."""

    class Provider(models.TextChoices):
        GREENHOUSE = "greenhouse", "Greenhouse"
        LEVER = "lever", "Lever"
        ICIMS = "icims", "iCIMS"
        JOBVITE = "jobvite", "Jobvite"

    name = models.CharField(max_length=100, unique=True)
    provider = models.CharField(max_length=16, choices=Provider.choices)
    base_url = models.URLField(blank=True, help_text="Leave empty for the provider's real API.")
    credentials = EncryptedJSONField(blank=True, help_text="API keys, client ids and secrets. Encrypted; write-only.")
    webhook_key = models.CharField(max_length=64, unique=True, editable=False, default=secrets.token_urlsafe,
                                   help_text="The unguessable part of this connection's webhook URL.")
    fallback_email = models.EmailField(help_text="Who hears about problems when a requisition has no coordinator.")
    active = models.BooleanField(default=True)
    poll_watermark = models.DateTimeField(null=True, blank=True, help_text="Changes up to here have been polled.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "ATS connection"

    def __str__(self) -> str:
        return f"{self.name} ({self.get_provider_display()})"


class AtsComponentHealth(HealthFields):
    """Health of one part of an ATS integration (auth, reads, webhooks, writes, or an iCIMS API)."""

    connection = models.ForeignKey(AtsConnection, on_delete=models.CASCADE, related_name="components")
    component = models.CharField(max_length=32)
    quiet_since = models.DateTimeField(null=True, blank=True,
                                       help_text="Webhooks: a poll found a change no webhook delivered.")

    class Meta:
        ordering = ["connection", "component"]
        verbose_name = "ATS component health"
        constraints = [models.UniqueConstraint(fields=["connection", "component"],
                                               name="integrations_atscomponenthealth_unique_component")]

    def __str__(self) -> str:
        return f"{self.connection.name}: {self.component}"


class CalendarConnection(HealthFields):
    """Credentials that read and write calendars: one user's OAuth grant, or a whole domain's service account."""

    class Provider(models.TextChoices):
        GOOGLE = "google", "Google Workspace"
        MICROSOFT = "microsoft", "Microsoft 365"

    class AuthMode(models.TextChoices):
        USER_OAUTH = "user_oauth", "One user's consent (OAuth)"
        SERVICE_ACCOUNT = "service_account", "Service account (Google domain-wide delegation)"
        APPLICATION = "application", "Application permission (Microsoft)"

    name = models.CharField(max_length=100, unique=True)
    provider = models.CharField(max_length=16, choices=Provider.choices)
    auth_mode = models.CharField(max_length=20, choices=AuthMode.choices)
    base_url = models.URLField(blank=True, help_text="Leave empty for the provider's real API.")
    token_url = models.URLField(blank=True, help_text="Leave empty for the provider's real token endpoint.")
    credentials = EncryptedJSONField(blank=True, help_text="Refresh token, service-account key, client secret. "
                                                           "Encrypted; write-only.")
    account_email = models.EmailField(blank=True, help_text="The user who granted access, or the delegated admin.")
    organiser_calendar = models.CharField(max_length=255, blank=True,
                                          help_text="The scheduling mailbox that organises interview events.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_provider_display()})"


class Calendar(HealthFields):
    """One calendar Loopwise reads free/busy from and books into: an interviewer's or a room's."""

    class Kind(models.TextChoices):
        PERSON = "person", "Person"
        ROOM = "room", "Room"

    connection = models.ForeignKey(CalendarConnection, on_delete=models.PROTECT, related_name="calendars")
    external_id = models.CharField(max_length=255, help_text="The provider's calendar id, usually an email address.")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PERSON)
    busy_fetched_at = models.DateTimeField(null=True, blank=True)
    busy_window_end = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["external_id"]
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"],
                                               name="integrations_calendar_unique_external_id")]
        indexes = [models.Index(fields=["health"], condition=~Q(health="ok"), name="integrations_cal_unhealthy")]

    def __str__(self) -> str:
        return self.external_id
