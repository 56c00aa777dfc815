"""Interviewers, pools, availability rules and rooms: who and what can sit an interview."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from .org import validate_timezone

__all__ = ["Interviewer", "InterviewerPool", "PoolMembership", "AvailabilityRule", "BlackoutDate", "Room", "Weekday"]


class Weekday(models.IntegerChoices):
    MON = 0, "Monday"
    TUE = 1, "Tuesday"
    WED = 2, "Wednesday"
    THU = 3, "Thursday"
    FRI = 4, "Friday"
    SAT = 5, "Saturday"
    SUN = 6, "Sunday"


class Interviewer(models.Model):
    """A person who sits interviews; their availability comes from a calendar or from working hours alone."""

    class Source(models.TextChoices):
        CALENDAR = "calendar", "Calendar and working hours"
        WORKING_HOURS = "working_hours", "Working hours only (no calendar)"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="interviewer")
    name = models.CharField(max_length=120)
    email = models.EmailField(unique=True)
    title = models.CharField(max_length=120, blank=True, help_text="Shown to candidates, e.g. 'Staff Engineer'.")
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    calendar = models.OneToOneField("integrations.Calendar", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="interviewer")
    availability_source = models.CharField(max_length=16, choices=Source.choices, default=Source.CALENDAR)
    buffer_minutes = models.PositiveSmallIntegerField(null=True, blank=True,
                                                      help_text="Own buffer around interviews; empty uses the plan's.")
    max_per_day = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty: no daily cap.")
    max_per_week = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty: no weekly cap.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(max_per_day__isnull=True) | Q(max_per_day__gte=1),
                                   name="scheduling_interviewer_day_cap_positive"),
            models.CheckConstraint(condition=Q(max_per_week__isnull=True) | Q(max_per_week__gte=1),
                                   name="scheduling_interviewer_week_cap_positive"),
            models.CheckConstraint(condition=Q(max_per_day__isnull=True) | Q(max_per_week__isnull=True)
                                   | Q(max_per_week__gte=F("max_per_day")),
                                   name="scheduling_interviewer_week_cap_covers_day"),
            models.CheckConstraint(condition=Q(buffer_minutes__isnull=True) | Q(buffer_minutes__lte=240),
                                   name="scheduling_interviewer_buffer_bounded"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.title})" if self.title else self.name

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name else ""


class InterviewerPool(models.Model):
    """Interviewers qualified for one kind of session, with trainees who shadow and then reverse-shadow."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    shadows_required = models.PositiveSmallIntegerField(default=3, help_text="Sessions a trainee shadows first.")
    reverse_shadows_required = models.PositiveSmallIntegerField(default=3,
                                                                help_text="Sessions a trainee then leads, watched.")
    members = models.ManyToManyField(Interviewer, through="PoolMembership", related_name="pools")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PoolMembership(models.Model):
    """One interviewer in one pool, with where they stand in training."""

    class Training(models.TextChoices):
        TRAINED = "trained", "Trained"
        SHADOW = "shadow", "Shadow (watching)"
        REVERSE_SHADOW = "reverse_shadow", "Reverse shadow (leading, watched)"

    pool = models.ForeignKey(InterviewerPool, on_delete=models.CASCADE, related_name="memberships")
    interviewer = models.ForeignKey(Interviewer, on_delete=models.CASCADE, related_name="memberships")
    training = models.CharField(max_length=16, choices=Training.choices, default=Training.TRAINED)
    since = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pool", "interviewer"]
        constraints = [models.UniqueConstraint(fields=["pool", "interviewer"],
                                               name="scheduling_poolmembership_unique_member")]

    def __str__(self) -> str:
        return f"{self.interviewer.name} in {self.pool.name} ({self.get_training_display()})"


class Room(models.Model):
    """A bookable room with its own resource calendar."""

    name = models.CharField(max_length=120, unique=True)
    calendar = models.OneToOneField("integrations.Calendar", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="room")
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    capacity = models.PositiveSmallIntegerField(default=4)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=Q(capacity__gte=1), name="scheduling_room_capacity_positive")]

    def __str__(self) -> str:
        return self.name


class AvailabilityRule(models.Model):
    """A weekly working-hours range, in the interviewer's (or room's) own time zone."""

    interviewer = models.ForeignKey(Interviewer, null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="availability_rules")
    room = models.ForeignKey(Room, null=True, blank=True, on_delete=models.CASCADE, related_name="availability_rules")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField(help_text="00:00 means midnight at the end of the day.")

    class Meta:
        ordering = ["interviewer", "room", "weekday", "start"]
        constraints = [
            models.CheckConstraint(condition=Q(interviewer__isnull=False, room__isnull=True)
                                   | Q(interviewer__isnull=True, room__isnull=False),
                                   name="scheduling_availabilityrule_one_owner"),
            models.CheckConstraint(condition=Q(end__gt=F("start")) | Q(end="00:00"),
                                   name="scheduling_availabilityrule_end_after_start"),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="scheduling_availabilityrule_weekday_valid"),
        ]

    def __str__(self) -> str:
        end = "24:00" if self.end.hour == 0 and self.end.minute == 0 else self.end.strftime("%H:%M")
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{end}"


class BlackoutDate(models.Model):
    """A local date on which an interviewer sits no interview (holiday, offsite)."""

    interviewer = models.ForeignKey(Interviewer, on_delete=models.CASCADE, related_name="blackout_dates")
    date = models.DateField()
    reason = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["interviewer", "date"]
        constraints = [models.UniqueConstraint(fields=["interviewer", "date"],
                                               name="scheduling_blackoutdate_unique_day")]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d}"
