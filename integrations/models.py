"""Connections to the outside world: ATSs and calendar providers, and the calendars they hold.

Health is kept at three depths so that one suspended mailbox never turns a whole organisation
red: on each connection (its own credentials), on each component of an ATS connection (auth,
reads, webhooks, writes; iCIMS has more), and on each connected calendar (an interviewer's or
a room's).
"""

from __future__ import annotations

import secrets
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from scheduling.fields import EncryptedJSONField, EncryptedTextField

__all__ = ["Health", "HealthFields", "AtsConnection", "AtsComponentHealth", "CalendarConnection", "Calendar",
           "WebhookEvent", "WebhookSubscription", "WebhookDelivery", "AtsPushToken"]


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
    # The provider's daily API call quota as its rate-limit headers last told it (iCIMS; issue 9), written by
    # `integrations.ats.quota.quota_record`; the "quota" component row carries its health.
    api_quota_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Calls allowed per day.")
    api_quota_remaining = models.PositiveIntegerField(null=True, blank=True, help_text="Calls left today.")
    api_quota_resets_at = models.DateTimeField(null=True, blank=True, help_text="When the daily quota resets.")
    api_quota_seen_at = models.DateTimeField(null=True, blank=True, help_text="When the provider last said so.")

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


# ---------------------------------------------------------------------------------------------------------------
# Outbound webhooks (issue #10): integrators subscribe to events; each delivery is signed and sent through the
# outbox (integrations/webhooks/).


class WebhookEvent(models.TextChoices):
    REQUEST_CREATED = "scheduling_request.created", "A scheduling request was created"
    INTERVIEW_BOOKED = "interview.booked", "An interview was booked"
    INTERVIEW_RESCHEDULED = "interview.rescheduled", "An interview was rescheduled"
    INTERVIEW_CANCELLED = "interview.cancelled", "An interview was cancelled"
    LINK_EXPIRING = "link.expiring", "A candidate's link expires soon without a booking"
    CONNECTION_UNHEALTHY = "connection.unhealthy", "A calendar or ATS connection turned red"


def webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookSubscription(models.Model):
    """An integrator's endpoint and the events it wants. The URL is vetted (https, public addresses only) when
    the subscription is saved through a form or the API (`clean`) and again at every delivery."""

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=500, verbose_name="URL",
                          help_text="https only, on a public address. Deliveries are POSTed here.")
    events = models.JSONField(default=list, help_text="Event names, e.g. [\"interview.booked\"].")
    secret = EncryptedTextField(default=webhook_secret, editable=False,
                                help_text="Signs every delivery (HMAC-SHA256). Encrypted; shown once.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "webhook subscription"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from integrations.webhooks.security import UnsafeTarget, target_resolve

        errors = {}
        if self.url:
            try:
                target_resolve(self.url)
            except UnsafeTarget as e:
                errors["url"] = f"Refused: {e}."
        if not isinstance(self.events, list) or not self.events:
            errors["events"] = "Choose at least one event."
        else:
            unknown = sorted(str(e) for e in self.events if e not in WebhookEvent.values)
            if unknown:
                errors["events"] = f"Unknown event(s): {', '.join(unknown)}."
        if errors:
            raise ValidationError(errors)

    def wants(self, event: str) -> bool:
        return self.active and event in (self.events or [])


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one subscription; retried by the outbox under the same delivery id.
    `payload` holds ids and non-personal fields only: it outlives a candidate's erasure."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Dead (gave up)"

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=64, choices=WebhookEvent.choices, db_index=True)
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False,
                                   help_text="Sent as Loopwise-Delivery-Id; the same on every retry.")
    dedupe_key = models.CharField(max_length=200, blank=True,
                                  help_text="One delivery per subscription and key (e.g. 'interview.booked:12').")
    payload = models.JSONField(default=dict, help_text="Ids and non-personal fields only.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        constraints = [models.UniqueConstraint(fields=["subscription", "dedupe_key"], condition=~Q(dedupe_key=""),
                                               name="integrations_webhookdelivery_unique_dedupe_key")]

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id}"

    @property
    def outbox_key(self) -> str:
        return f"webhook:{self.delivery_id}"


# ---------------------------------------------------------------------------------------------------------------
# Pushes authenticated by OAuth (issue 9): iCIMS can fetch a client-credentials token from a URL Loopwise serves per
# connection (`/webhooks/ats/<key>/token`) and send it as a bearer token on each push (integrations/ats/push_tokens.py).


class AtsPushToken(models.Model):
    """A short-lived bearer token Loopwise issued to an ATS for its pushes. Only the token's SHA-256 is stored: a
    database dump gives nobody a token that works."""

    connection = models.ForeignKey(AtsConnection, on_delete=models.CASCADE, related_name="push_tokens")
    token_hash = models.CharField(max_length=64, unique=True, help_text="Hex SHA-256 of the token.")
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = "ATS push token"

    def __str__(self) -> str:
        return f"push token #{self.pk} of connection #{self.connection_id}"
