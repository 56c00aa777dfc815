"""Operations (issue #7): each reminder sent, each link escalation raised, each training session counted.

Every row here is a claim with a unique key, written before the thing it records is done, so that a worker
killed halfway and a second worker running the same task never do it twice. They hold ids, states and times,
never candidate personal data.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from .ops import ReminderStep

__all__ = ["ReminderSend", "LinkEscalation", "TrainingSession"]


class ReminderSend(models.Model):
    """One step of a reminder sequence for one request, claimed once (the unique key) and sent at most once.

    Created (status `queued`) together with its OutboxItem of the same key; the outbox handler moves it to
    `sending` in a committed update before it talks to the mail server, and to `sent` after. A row found
    `sending` by a later attempt belonged to a worker that stopped mid-send: it is not sent again
    (`uncertain`), because the first attempt may have reached the candidate."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Not needed any more"
        UNCERTAIN = "uncertain", "Not sent again: a worker stopped while sending"

    request = models.ForeignKey("scheduling.SchedulingRequest", on_delete=models.CASCADE,
                                related_name="reminder_sends")
    step = models.ForeignKey("scheduling.ReminderStep", on_delete=models.CASCADE, related_name="sends")
    key = models.CharField(max_length=100, unique=True, help_text="reminder:<request id>:<step id>")
    action = models.CharField(max_length=20, choices=ReminderStep.Action.choices,
                              help_text="The step's action when it was claimed.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    due_at = models.DateTimeField(help_text="When the step became due: the link's sending plus the step's delay.")
    claimed_at = models.DateTimeField()
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True, help_text="Why it was not sent, without personal data.")

    class Meta:
        ordering = ["-claimed_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["request", "step"], name="scheduling_remindersend_once")]

    def __str__(self) -> str:
        return f"Reminder step #{self.step_id} for request #{self.request_id} ({self.get_status_display()})"


class LinkEscalation(models.Model):
    """The coordinator was told that a link is about to expire unused (or that it extended itself): once per
    link and expiry, so an extended link can warn again before its new expiry."""

    class Kind(models.TextChoices):
        EXPIRING = "expiring", "Expiring soon"
        AUTO_EXTENDED = "auto_extended", "Extended itself"

    link = models.ForeignKey("scheduling.SchedulingLink", on_delete=models.CASCADE, related_name="escalations")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    expires_at = models.DateTimeField(help_text="The expiry this escalation was about.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["link", "expires_at"],
                                               name="scheduling_linkescalation_once_per_expiry")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: link #{self.link_id}"


class TrainingSession(models.Model):
    """A session a trainee sat that took place: one row per trainee and session, never a bare counter.

    `membership` is the pool membership it counts toward (found through the session's roles); it is empty when
    the trainee was no longer in training there, and the row then only records that the session was seen."""

    class Kind(models.TextChoices):
        SHADOW = "shadow", "Shadowed (watched)"
        REVERSE_SHADOW = "reverse_shadow", "Reverse shadow (led, watched)"

    interviewer = models.ForeignKey("scheduling.Interviewer", on_delete=models.CASCADE,
                                    related_name="training_sessions")
    session = models.ForeignKey("scheduling.InterviewSession", on_delete=models.CASCADE,
                                related_name="training_sessions")
    membership = models.ForeignKey("scheduling.PoolMembership", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="training_sessions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    completed_at = models.DateTimeField(help_text="When the session ended.")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-completed_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["interviewer", "session"],
                                               name="scheduling_trainingsession_once_per_session")]
        indexes = [models.Index(fields=["membership", "kind"], condition=Q(membership__isnull=False),
                                name="scheduling_training_counts")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: session #{self.session_id}"
