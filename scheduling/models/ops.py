"""Operational rows: cached free/busy, reminders, notices, the audit log, and the outbox and inbox of
external work. None of them holds candidate personal data: they carry ids and summaries."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

__all__ = ["FreeBusyBlock", "ReminderSequence", "ReminderStep", "Notice", "AuditEvent", "OutboxItem",
           "InboundEvent", "WorkState"]


class FreeBusyBlock(models.Model):
    """A busy interval of one calendar, in UTC, as last fetched from its provider."""

    calendar = models.ForeignKey("integrations.Calendar", on_delete=models.CASCADE, related_name="busy_blocks")
    start = models.DateTimeField()
    end = models.DateTimeField()
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["calendar", "start"]
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")),
                                              name="scheduling_freebusyblock_end_after_start")]
        indexes = [models.Index(fields=["calendar", "start", "end"], name="scheduling_busy_cal_range")]

    def __str__(self) -> str:
        return f"{self.calendar}: {self.start:%Y-%m-%d %H:%M}-{self.end:%H:%M} UTC"


class ReminderSequence(models.Model):
    """Emails that chase a candidate who has not picked a time; per plan, or global when no plan is set."""

    name = models.CharField(max_length=120)
    plan = models.ForeignKey("scheduling.InterviewPlan", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="reminder_sequences", help_text="Empty: used by every plan without one.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ReminderStep(models.Model):
    """One step: after so many hours without a choice, remind the candidate and/or tell the coordinator."""

    class Action(models.TextChoices):
        REMIND_CANDIDATE = "remind_candidate", "Remind the candidate"
        NOTIFY_COORDINATOR = "notify_coordinator", "Tell the coordinator"
        BOTH = "both", "Remind the candidate and tell the coordinator"

    sequence = models.ForeignKey(ReminderSequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=0)
    delay_hours = models.PositiveSmallIntegerField(help_text="Hours after the link was sent.")
    action = models.CharField(max_length=20, choices=Action.choices, default=Action.REMIND_CANDIDATE)

    class Meta:
        ordering = ["sequence", "delay_hours", "position"]
        constraints = [models.CheckConstraint(condition=Q(delay_hours__gte=1), name="scheduling_reminderstep_delay")]

    def __str__(self) -> str:
        return f"after {self.delay_hours} h: {self.get_action_display()}"


class Notice(models.Model):
    """A message to staff through `notify`: sent at once, or folded into the next digest."""

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        FOLDED = "folded", "Waiting for the digest"
        DIGESTED = "digested", "Sent in a digest"
        FAILED = "failed", "Could not be sent"

    kind = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    recipient = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    url = models.CharField(max_length=300, blank=True, help_text="Where to fix it.")
    status = models.CharField(max_length=10, choices=Status.choices)
    created_at = models.DateTimeField(db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["kind", "object_type", "object_id", "recipient", "created_at"],
                                name="scheduling_notice_throttle")]

    def __str__(self) -> str:
        return self.subject


class AuditEvent(models.Model):
    """Append-only: who did what to which object, when. Ids and non-personal summaries only."""

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=64, help_text="e.g. 'user', 'worker', 'webhook', 'candidate'")
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    summary = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="scheduling_audit_object")]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}#{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("audit events are append-only")


class WorkState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed (will retry)"
    DEAD = "dead", "Dead (gave up)"


class OutboxItem(models.Model):
    """An external write to do (calendar event, ATS note, email), retried until done or dead."""

    kind = models.CharField(max_length=64, help_text="What to do, e.g. 'calendar.write_event', 'ats.add_note'.")
    target = models.CharField(max_length=120, blank=True, help_text="Which connection or object, e.g. 'ats:3'.")
    key = models.CharField(max_length=200, unique=True, help_text="Idempotency key: the same write is queued once.")
    payload = models.JSONField(default=dict, help_text="Ids only, never personal data.")
    state = models.CharField(max_length=10, choices=WorkState.choices, default=WorkState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=8)
    next_attempt_at = models.DateTimeField(db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "outbox item"
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="scheduling_outbox_due")]
        constraints = [models.CheckConstraint(condition=Q(attempts__lte=F("max_attempts")),
                                              name="scheduling_outboxitem_attempts_bounded")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.get_state_display()})"


class InboundEvent(models.Model):
    """A received webhook or streamed event, stored before it is answered, processed from here."""

    connection = models.ForeignKey("integrations.AtsConnection", on_delete=models.CASCADE,
                                   related_name="inbound_events")
    event_key = models.CharField(max_length=200, help_text="The provider's event id, or a key derived from it.")
    kind = models.CharField(max_length=64, blank=True)
    raw_body = models.TextField(blank=True, help_text="Kept for 30 days, then erased.")
    state = models.CharField(max_length=10, choices=WorkState.choices, default=WorkState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["connection", "event_key"],
                                               name="scheduling_inboundevent_unique_key")]
        indexes = [models.Index(fields=["state", "received_at"], name="scheduling_inbound_due")]

    def __str__(self) -> str:
        return f"{self.kind or 'event'} {self.event_key}"
