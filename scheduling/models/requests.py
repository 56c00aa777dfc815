"""Scheduling requests, their links, and the interviews booked from them."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.db import models
from django.db.models import F, Q

__all__ = ["SchedulingRequest", "RequestTransition", "SchedulingLink", "ProposedWindow", "ScheduledInterview",
           "InterviewSession", "SessionParticipant", "hash_token"]


class SchedulingRequest(models.Model):
    """One application to be scheduled for one plan, moved only along `TRANSITIONS`."""

    class State(models.TextChoices):
        NEW = "new", "New"
        PENDING_APPROVAL = "pending_approval", "Waiting for approval"
        AWAITING_CANDIDATE = "awaiting_candidate", "Waiting for the candidate"
        BOOKED = "booked", "Booked"
        COMPLETED = "completed", "Completed"
        NEEDS_ATTENTION = "needs_attention", "Needs attention"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Link expired"

    S = State
    # booked -> booked is a reschedule; it is logged like any other move.
    TRANSITIONS: dict[str, frozenset[str]] = {
        S.NEW: frozenset({S.PENDING_APPROVAL, S.AWAITING_CANDIDATE, S.NEEDS_ATTENTION, S.CANCELLED, S.BOOKED}),
        S.PENDING_APPROVAL: frozenset({S.AWAITING_CANDIDATE, S.NEEDS_ATTENTION, S.CANCELLED, S.BOOKED}),
        S.AWAITING_CANDIDATE: frozenset({S.BOOKED, S.NEEDS_ATTENTION, S.CANCELLED, S.EXPIRED,
                                         S.AWAITING_CANDIDATE}),
        S.NEEDS_ATTENTION: frozenset({S.PENDING_APPROVAL, S.AWAITING_CANDIDATE, S.BOOKED, S.CANCELLED}),
        S.EXPIRED: frozenset({S.AWAITING_CANDIDATE, S.CANCELLED, S.BOOKED}),
        S.BOOKED: frozenset({S.BOOKED, S.COMPLETED, S.CANCELLED, S.NEEDS_ATTENTION}),
        S.COMPLETED: frozenset(),
        S.CANCELLED: frozenset(),
    }
    OPEN_STATES = (S.NEW, S.PENDING_APPROVAL, S.AWAITING_CANDIDATE, S.NEEDS_ATTENTION, S.EXPIRED, S.BOOKED)

    application = models.ForeignKey("scheduling.Application", on_delete=models.CASCADE, related_name="requests")
    plan = models.ForeignKey("scheduling.InterviewPlan", on_delete=models.PROTECT, related_name="requests")
    state = models.CharField(max_length=20, choices=State.choices, default=State.NEW, db_index=True)
    coordinator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="coordinated_requests")
    candidate_timezone = models.CharField(max_length=64, blank=True)
    options = models.JSONField(default=list, blank=True, help_text="The solver's options, as last computed.")
    diagnostics = models.JSONField(default=list, blank=True)
    options_computed_at = models.DateTimeField(null=True, blank=True)
    options_truncated = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    state_changed_at = models.DateTimeField(auto_now_add=True)
    link_sent_at = models.DateTimeField(null=True, blank=True)
    booked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            # One live request per application and plan: replays and polls create nothing more.
            models.UniqueConstraint(fields=["application", "plan"],
                                    condition=~Q(state__in=["cancelled", "completed"]),
                                    name="scheduling_schedulingrequest_one_open_per_plan"),
            models.CheckConstraint(condition=Q(state__in=["new", "pending_approval", "awaiting_candidate",
                                                          "booked", "completed", "needs_attention", "cancelled",
                                                          "expired"]),
                                   name="scheduling_schedulingrequest_state_valid"),
        ]
        indexes = [models.Index(fields=["state", "state_changed_at"], name="scheduling_req_state_since")]

    def __str__(self) -> str:
        return f"Request #{self.pk} ({self.get_state_display()})"

    def can_move_to(self, state: str) -> bool:
        return state in self.TRANSITIONS.get(self.state, frozenset())


class RequestTransition(models.Model):
    """The log of every state change of a request, with who or what caused it."""

    request = models.ForeignKey(SchedulingRequest, on_delete=models.CASCADE, related_name="transitions")
    old_state = models.CharField(max_length=20)
    new_state = models.CharField(max_length=20)
    cause = models.CharField(max_length=200, help_text="What moved it, without personal data.")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField()

    class Meta:
        ordering = ["request", "at", "id"]

    def __str__(self) -> str:
        return f"{self.old_state} -> {self.new_state}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SchedulingLink(models.Model):
    """A candidate's self-scheduling link; only the hash of its token is stored."""

    request = models.ForeignKey(SchedulingRequest, on_delete=models.CASCADE, related_name="links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    use_count = models.PositiveIntegerField(default=0)
    max_uses = models.PositiveIntegerField(default=50)
    last_used_at = models.DateTimeField(null=True, blank=True)
    extended = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request"], condition=Q(revoked_at__isnull=True),
                                    name="scheduling_schedulinglink_one_active_per_request"),
            models.CheckConstraint(condition=Q(expires_at__gt=F("created_at")),
                                   name="scheduling_schedulinglink_expires_after_creation"),
        ]

    def __str__(self) -> str:
        return f"Link for request #{self.request_id}"

    def is_expired(self, *, at: dt.datetime) -> bool:
        return at >= self.expires_at

    def is_usable(self, *, at: dt.datetime) -> bool:
        return self.revoked_at is None and not self.is_expired(at=at) and self.use_count < self.max_uses


class ProposedWindow(models.Model):
    """A time the candidate says suits them when no offered time does."""

    request = models.ForeignKey(SchedulingRequest, on_delete=models.CASCADE, related_name="proposed_windows")
    start = models.DateTimeField()
    end = models.DateTimeField()
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request", "start"]
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")),
                                              name="scheduling_proposedwindow_end_after_start")]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}-{self.end:%H:%M} UTC"


class ScheduledInterview(models.Model):
    """A booked loop. A reschedule supersedes it with a new revision; only one is live per request."""

    class State(models.TextChoices):
        ACTIVE = "active", "Booked"
        SUPERSEDED = "superseded", "Rescheduled"
        CANCELLED = "cancelled", "Cancelled"

    request = models.ForeignKey(SchedulingRequest, on_delete=models.CASCADE, related_name="interviews")
    revision = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=12, choices=State.choices, default=State.ACTIVE)
    start = models.DateTimeField()
    end = models.DateTimeField()
    video_link = models.URLField(blank=True)
    conference_id = models.CharField(max_length=200, blank=True)
    option = models.JSONField(default=dict, blank=True,
                              help_text="The solver option booked, as offered (session and resource ids only).")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "revision"], name="scheduling_scheduledinterview_unique_rev"),
            models.UniqueConstraint(fields=["request"], condition=Q(state="active"),
                                    name="scheduling_scheduledinterview_one_active"),
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="scheduling_scheduledinterview_end_after"),
        ]

    def __str__(self) -> str:
        return f"Interview for request #{self.request_id} at {self.start:%Y-%m-%d %H:%M} UTC"


class InterviewSession(models.Model):
    """One session of a booked loop, with its calendar event."""

    interview = models.ForeignKey(ScheduledInterview, on_delete=models.CASCADE, related_name="sessions")
    template = models.ForeignKey("scheduling.SessionTemplate", null=True, blank=True, on_delete=models.SET_NULL)
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=120)
    start = models.DateTimeField()
    end = models.DateTimeField()
    room = models.ForeignKey("scheduling.Room", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="sessions")
    calendar_event_id = models.CharField(max_length=255, blank=True)
    ical_uid = models.CharField(max_length=255, blank=True)
    sequence = models.PositiveIntegerField(default=0)
    # Denormalised from the interview's state so that the room exclusion constraint (migration 0003) can
    # name live sessions: false once the interview is superseded or cancelled.
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["interview", "position"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="scheduling_interviewsession_end_after"),
            models.UniqueConstraint(fields=["interview", "position"], name="scheduling_interviewsession_unique_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.start:%Y-%m-%d %H:%M} UTC"


class SessionParticipant(models.Model):
    """One person sitting one session. `busy_start` is the session's start and `busy_end` its end plus the
    person's buffer (their own, else the plan's): the database refuses two live rows of one person whose
    ranges overlap, which keeps that buffer between any two of their sessions (migration 0003)."""

    class Part(models.TextChoices):
        INTERVIEWER = "interviewer", "Interviewer"
        SHADOW = "shadow", "Shadow"
        REVERSE_SHADOW = "reverse_shadow", "Reverse shadow (leads)"
        OVERSEER = "overseer", "Overseer (watches a reverse shadow)"

    session = models.ForeignKey(InterviewSession, on_delete=models.CASCADE, related_name="participants")
    interviewer = models.ForeignKey("scheduling.Interviewer", on_delete=models.PROTECT, related_name="participations")
    part = models.CharField(max_length=16, choices=Part.choices, default=Part.INTERVIEWER)
    busy_start = models.DateTimeField()
    busy_end = models.DateTimeField()
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["session", "interviewer"]
        constraints = [
            models.UniqueConstraint(fields=["session", "interviewer"], name="scheduling_sessionparticipant_unique"),
            models.CheckConstraint(condition=Q(busy_end__gt=F("busy_start")),
                                   name="scheduling_sessionparticipant_end_after"),
        ]
        indexes = [models.Index(fields=["interviewer", "busy_start"], name="scheduling_part_person_start")]

    def __str__(self) -> str:
        return f"{self.interviewer.name} ({self.get_part_display()})"
