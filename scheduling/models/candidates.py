"""Candidates and their applications: the only home of candidate personal data (with their children)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from .org import validate_timezone

__all__ = ["Candidate", "Application"]


class Candidate(models.Model):
    """A person applying, synced from the ATS. Erased by `candidate_erase`, never copied elsewhere."""

    first_name = models.CharField(max_length=120)
    last_name = models.CharField(max_length=120, blank=True)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)
    timezone = models.CharField(max_length=64, blank=True, validators=[validate_timezone])
    ats_connection = models.ForeignKey("integrations.AtsConnection", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="candidates")
    external_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_activity_at = models.DateTimeField(auto_now_add=True, db_index=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [models.UniqueConstraint(fields=["ats_connection", "external_id"], condition=~Q(external_id=""),
                                               name="scheduling_candidate_unique_external_id")]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Application(models.Model):
    """A candidate's application to a requisition, and where it stands in the ATS."""

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="applications")
    requisition = models.ForeignKey("scheduling.Requisition", on_delete=models.PROTECT, related_name="applications")
    ats_connection = models.ForeignKey("integrations.AtsConnection", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="applications")
    external_id = models.CharField(max_length=100, blank=True)
    stage = models.ForeignKey("scheduling.AtsStage", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="applications")
    stage_entered_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["ats_connection", "external_id"], condition=~Q(external_id=""),
                                               name="scheduling_application_unique_external_id")]

    def __str__(self) -> str:
        return f"Application #{self.pk} to {self.requisition}"
