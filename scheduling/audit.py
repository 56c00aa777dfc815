"""The audit log: one append-only AuditEvent row per thing done, naming objects by type and id.

Summaries are for people reading the log later ("awaiting_candidate -> booked: candidate picked a time"): they
must never hold a candidate's name, email or phone, because the audit log is kept when a candidate is erased.
"""

from __future__ import annotations

from django.db import models

from scheduling import clock
from scheduling.models import AuditEvent

__all__ = ["audit_log"]

_SUMMARY_MAX = AuditEvent._meta.get_field("summary").max_length


def audit_log(*, action: str, obj: models.Model, actor=None, actor_label: str = "system",
              summary: str = "") -> AuditEvent:
    """Append an AuditEvent for `obj` (a saved model instance). With an `actor` and the default label, the
    label becomes "user"; workers, webhooks and the portal pass their own ("worker", "webhook", "candidate")."""
    if obj.pk is None:
        raise ValueError("audit_log needs a saved object")
    if actor is not None and actor_label == "system":
        actor_label = "user"
    if len(summary) > _SUMMARY_MAX:
        summary = summary[: _SUMMARY_MAX - 1] + "…"
    return AuditEvent.objects.create(at=clock.now(), actor=actor, actor_label=actor_label, action=action,
                                     object_type=obj._meta.label_lower, object_id=str(obj.pk), summary=summary)
