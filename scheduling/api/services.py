"""The few writes only the API needs; everything else it calls is the foundation's (booking, links, privacy)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from scheduling.audit import audit_log
from scheduling.errors import LoopwiseError
from scheduling.models import Application, Candidate, InterviewPlan, Requisition, SchedulingRequest

__all__ = ["request_create", "DuplicateRequest"]


class DuplicateRequest(LoopwiseError):
    """The application already has an open request for this plan."""


def request_create(*, plan: InterviewPlan, actor_label: str, application: Application | None = None,
                   candidate: Candidate | None = None, requisition: Requisition | None = None,
                   actor=None) -> SchedulingRequest:
    """Create a `new` request for `application` (or for `candidate` on `requisition`, reusing their active
    application to it or creating one) and `plan`, audited under `actor_label`. The caller starts it after commit
    (`scheduling.booking.request_start`). Raises DuplicateRequest when an open one exists for that application
    and plan. The caller has checked that the plan belongs to the application's requisition."""
    with transaction.atomic():
        if application is None:
            application = (Application.objects.filter(candidate=candidate, requisition=requisition, active=True)
                           .order_by("-created_at", "id").first()
                           or Application.objects.create(candidate=candidate, requisition=requisition))
        try:
            with transaction.atomic():
                request = SchedulingRequest.objects.create(application=application, plan=plan)
        except IntegrityError:
            raise DuplicateRequest(f"application #{application.pk} already has an open request for plan #{plan.pk}",
                                   {"application_id": application.pk, "plan_id": plan.pk}) from None
        audit_log(action="request.created", obj=request, actor=actor, actor_label=actor_label,
                  summary=f"application #{application.pk}, plan #{plan.pk}")
    return request
