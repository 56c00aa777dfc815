"""Staff users and the organisation's own settings."""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

__all__ = ["validate_timezone", "User", "OrganisationSettings"]


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone name (e.g. Europe/London)")


class User(AbstractUser):
    """A member of the recruiting team (recruiter, coordinator, ops). Candidates are not users."""

    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone],
                                help_text="Times in the admin and the dashboard are shown in this zone.")

    class Meta(AbstractUser.Meta):
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class OrganisationSettings(models.Model):
    """The one row of company-wide settings the portal and emails show."""

    company_name = models.CharField(max_length=120, default="Your company")
    logo_url = models.URLField(blank=True, help_text="Shown at the top of the booking page.")
    sender_email = models.EmailField(default="scheduling@loopwise.localhost",
                                     help_text="From address of candidate emails.")
    reply_to_email = models.EmailField(blank=True, help_text="Where candidates' replies go.")
    support_contact = models.CharField(max_length=200, blank=True,
                                       help_text="Shown to candidates who need help, e.g. an email address.")
    scheduling_connection = models.ForeignKey(
        "integrations.CalendarConnection", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The connection whose organiser calendar holds interview events. Empty: the first active "
                  "connection that has an organiser calendar.")

    class Meta:
        verbose_name = "organisation settings"
        verbose_name_plural = "organisation settings"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="scheduling_organisationsettings_single_row")]

    def __str__(self) -> str:
        return self.company_name

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> OrganisationSettings:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj
