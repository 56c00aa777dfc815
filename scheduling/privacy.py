"""Erasing a candidate's personal data, on request or when it has not been touched for RETENTION_DAYS.

Choices:
- The Candidate row stays, anonymised: its name becomes "erased", its email a per-row placeholder
  (`erased-<id>@erased.invalid`), phone, time zone and ATS id are blanked, `erased_at` is set. Applications,
  requests, interviews and their transition logs stay, so that counts and interviewer load stay right; they
  hold ids, states and times, not personal data.
- What could identify or reach the person goes: their scheduling links (the portal then answers 404), the
  windows they proposed (free text), the request's candidate time zone. Open requests that are not booked are
  cancelled ("candidate erased"). Booked ones are left alone: cancelling one means cancelling calendar events,
  which belongs to the booking machinery.
- Raw webhook bodies that mention them are blanked: bodies containing their email (any case), phone, first or
  last name (as stored, 3 characters or more), or their ATS id (on their own connection), also in JSON-escaped
  form. This can blank another candidate's event that shares a first name; a raw body is debugging data kept
  30 days, so erring that way is the right trade.
- Error texts (`last_error` columns) that quote their email are replaced: a provider may echo it.
- Notices, audit events and outbox payloads hold ids only by construction, and are not touched. The audit log
  gets `candidate.erased` with the candidate's id only.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Q

from scheduling import clock
from scheduling.audit import audit_log
from scheduling.models import Candidate, InboundEvent, ProposedWindow, SchedulingLink, SchedulingRequest
from scheduling.services import request_move

__all__ = ["ERASED_NAME", "candidate_erase", "retention_sweep"]

logger = logging.getLogger(__name__)

ERASED_NAME = "erased"
_MIN_NAME = 3
_MIN_PHONE = 6
_BATCH = 500


def candidate_erase(*, candidate: Candidate, actor=None) -> None:
    """Erase `candidate`'s personal data as described in the module docstring. Erasing twice does nothing."""
    with transaction.atomic():
        candidate = Candidate.objects.select_for_update().get(pk=candidate.pk)
        if candidate.erased_at is not None:
            return
        requests = SchedulingRequest.objects.filter(application__candidate=candidate)
        SchedulingLink.objects.filter(request__in=requests).delete()
        ProposedWindow.objects.filter(request__in=requests).delete()
        requests.exclude(candidate_timezone="").update(candidate_timezone="")
        open_unbooked = [s for s in SchedulingRequest.OPEN_STATES if s != SchedulingRequest.State.BOOKED]
        for request in requests.filter(state__in=open_unbooked).order_by("pk"):
            request_move(request=request, to=SchedulingRequest.State.CANCELLED, cause="candidate erased",
                         actor=actor)
        bodies = _blank_inbound_bodies(candidate)
        errors = _scrub_error_texts(candidate)
        Candidate.objects.filter(pk=candidate.pk).update(
            first_name=ERASED_NAME, last_name="", email=f"erased-{candidate.pk}@erased.invalid", phone="",
            timezone="", external_id="", erased_at=clock.now())
        audit_log(action="candidate.erased", obj=candidate, actor=actor,
                  summary=f"{bodies} webhook bodies blanked, {errors} error texts scrubbed")


def _variants(text: str) -> set[str]:
    """`text` as stored and as a JSON string would escape it (non-ASCII as \\uXXXX)."""
    return {text, json.dumps(text)[1:-1]} - {""}


def _blank_inbound_bodies(candidate: Candidate) -> int:
    mentions = Q()
    for variant in _variants(candidate.email):
        mentions |= Q(raw_body__icontains=variant)
    for name in (candidate.first_name, candidate.last_name):
        if len(name) >= _MIN_NAME:
            for variant in _variants(name):
                mentions |= Q(raw_body__contains=variant)
    if len(candidate.phone) >= _MIN_PHONE:
        mentions |= Q(raw_body__contains=candidate.phone)
        digits = "".join(c for c in candidate.phone if c.isdigit())
        if len(digits) >= _MIN_PHONE:
            mentions |= Q(raw_body__contains=digits)
    if len(candidate.external_id) >= _MIN_NAME and candidate.ats_connection_id:
        mentions |= Q(connection_id=candidate.ats_connection_id, raw_body__contains=candidate.external_id)
    return InboundEvent.objects.filter(mentions).exclude(raw_body="").update(raw_body="")


def _scrub_error_texts(candidate: Candidate) -> int:
    scrubbed = 0
    for model in apps.get_models():
        fields = {f.name for f in model._meta.concrete_fields}
        if "last_error" not in fields or model._meta.proxy or not model._meta.managed:
            continue
        mentions = Q()
        for variant in _variants(candidate.email):
            mentions |= Q(last_error__icontains=variant)
        scrubbed += model._default_manager.filter(mentions).update(last_error="(erased: it named a candidate)")
    return scrubbed


def retention_sweep() -> str:
    """Erase candidates untouched for RETENTION_DAYS, and blank webhook bodies older than
    WEBHOOK_BODY_RETENTION_DAYS. Returns a short summary."""
    now = clock.now()
    stale = Candidate.objects.filter(erased_at__isnull=True,
                                     last_activity_at__lt=now - dt.timedelta(days=settings.RETENTION_DAYS))
    erased = 0
    for candidate in stale.order_by("last_activity_at", "pk")[:_BATCH]:
        candidate_erase(candidate=candidate)
        erased += 1
    bodies = (InboundEvent.objects
              .filter(received_at__lt=now - dt.timedelta(days=settings.WEBHOOK_BODY_RETENTION_DAYS))
              .exclude(raw_body="").update(raw_body=""))
    if erased or bodies:
        logger.info("retention: %d candidates erased, %d webhook bodies blanked", erased, bodies)
    return f"retention: {erased} candidates erased, {bodies} webhook bodies blanked"
