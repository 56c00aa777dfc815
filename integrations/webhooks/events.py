"""Recording outbound webhook events: one delivery per active subscription that wants the event.

Payloads carry ids, states and times, never a candidate's name, email or phone (nor a provider's error text,
which may echo one): a receiver that needs more asks the API with the ids. An event that may be emitted twice
for the same fact (a retried service, two doors to one step) passes a `key`; a subscription gets one delivery
per key (a partial unique constraint), so the retry changes nothing.

`webhook_emit` writes rows only: called inside a service's transaction, its deliveries exist exactly when the
service's own writes do, and the outbox queues them after commit.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from integrations.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from scheduling import clock
from scheduling.work import outbox_enqueue

__all__ = ["OUTBOX_KIND", "MAX_ATTEMPTS", "webhook_emit", "emit_request_created", "emit_interview",
           "emit_interview_cancelled", "emit_link_expiring", "emit_connection_unhealthy"]

logger = logging.getLogger(__name__)

OUTBOX_KIND = "webhook.deliver"
# With the outbox's backoff (30 s doubling, capped at 1 h, jittered) 10 attempts span about 3 to 6 hours.
MAX_ATTEMPTS = 10


def webhook_emit(*, event: str, payload: dict, key: str = "") -> list[WebhookDelivery]:
    """Record `event` for every active subscription that wants it: a WebhookDelivery (status pending) and an
    OutboxItem (kind "webhook.deliver", key "webhook:<delivery id>") queued after commit. `payload` holds ids and
    non-personal fields only. With `key`, a subscription that already has a delivery for that key gets no new
    one. Returns the deliveries made now. Raises ValueError for an event that is not a WebhookEvent."""
    if event not in WebhookEvent.values:
        raise ValueError(f"unknown webhook event {event!r}")
    subscriptions = [s for s in WebhookSubscription.objects.filter(active=True).only("id", "events", "active")
                     if s.wants(event)]
    made = []
    for subscription in subscriptions:
        delivery = _delivery_create(subscription, event=event, payload=payload, key=key)
        if delivery is None:
            continue
        outbox_enqueue(kind=OUTBOX_KIND, key=delivery.outbox_key, target=f"webhook:{subscription.pk}",
                       payload={"delivery_id": str(delivery.delivery_id), "subscription_id": subscription.pk},
                       max_attempts=MAX_ATTEMPTS)
        made.append(delivery)
    if made:
        logger.info("webhook %s: %d delivery(ies) recorded", event, len(made))
    return made


def _delivery_create(subscription: WebhookSubscription, *, event: str, payload: dict,
                     key: str) -> WebhookDelivery | None:
    fields = {"subscription": subscription, "event": event, "payload": payload, "dedupe_key": key,
              "created_at": clock.now()}
    if not key:
        return WebhookDelivery.objects.create(**fields)
    if WebhookDelivery.objects.filter(subscription=subscription, dedupe_key=key).exists():
        return None
    try:
        with transaction.atomic():  # a savepoint: losing the race to a twin leaves the caller's transaction whole
            return WebhookDelivery.objects.create(**fields)
    except IntegrityError:
        return None


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


# ---------------------------------------------------------------------------------------------------------------
# One helper per call site, so that each service adds one line.


def _request_ids(request) -> dict:
    application = request.application
    return {"id": request.pk, "state": request.state, "plan_id": request.plan_id,
            "application_id": request.application_id, "candidate_id": application.candidate_id,
            "requisition_id": application.requisition_id}


def emit_request_created(*, request) -> list[WebhookDelivery]:
    """`scheduling_request.created`, once per request (keyed by its id) whichever door created or started it."""
    return webhook_emit(event=WebhookEvent.REQUEST_CREATED, key=f"scheduling_request.created:{request.pk}",
                        payload={"scheduling_request": _request_ids(request)})


def _interview(interview) -> dict:
    return {"id": interview.pk, "revision": interview.revision, "state": interview.state,
            "start": _iso(interview.start), "end": _iso(interview.end)}


def emit_interview(*, interview, previous=None) -> list[WebhookDelivery]:
    """`interview.booked`, or `interview.rescheduled` when `previous` (the interview it replaces) is given."""
    event = WebhookEvent.INTERVIEW_RESCHEDULED if previous is not None else WebhookEvent.INTERVIEW_BOOKED
    payload = {"interview": _interview(interview), "scheduling_request": {"id": interview.request_id}}
    if previous is not None:
        payload["previous_interview"] = _interview(previous)
    return webhook_emit(event=event, key=f"{event}:{interview.pk}", payload=payload)


def emit_interview_cancelled(*, interview, by: str) -> list[WebhookDelivery]:
    """`interview.cancelled`; `by` says who cancelled ("candidate", "coordinator", "ats", ...)."""
    return webhook_emit(event=WebhookEvent.INTERVIEW_CANCELLED, key=f"interview.cancelled:{interview.pk}",
                        payload={"interview": _interview(interview), "scheduling_request": {"id": interview.request_id},
                                 "cancelled_by": by[:40]})


def emit_link_expiring(*, link) -> list[WebhookDelivery]:
    """`link.expiring`: the candidate's link expires soon and nothing is booked (once per link and expiry)."""
    return webhook_emit(event=WebhookEvent.LINK_EXPIRING, key=f"link.expiring:{link.pk}:{_iso(link.expires_at)}",
                        payload={"link": {"id": link.pk, "expires_at": _iso(link.expires_at)},
                                 "scheduling_request": {"id": link.request_id}})


_CONNECTION_TYPES = {"calendarconnection": "calendar_connection", "calendar": "calendar",
                     "atsconnection": "ats_connection", "atscomponenthealth": "ats_component"}


def emit_connection_unhealthy(*, obj, component: str = "") -> list[WebhookDelivery]:
    """`connection.unhealthy`: `obj` (a CalendarConnection, Calendar, AtsConnection or AtsComponentHealth) has
    just turned red. Carries no error text: a provider may echo personal data in it."""
    kind = _CONNECTION_TYPES.get(obj._meta.model_name, obj._meta.model_name)
    connection_id = obj.connection_id if kind in ("calendar", "ats_component") else obj.pk
    payload = {"connection": {"type": kind, "id": obj.pk, "connection_id": connection_id,
                              "component": component or getattr(obj, "component", ""),
                              "health": obj.health, "since": _iso(getattr(obj, "last_error_at", None))}}
    return webhook_emit(event=WebhookEvent.CONNECTION_UNHEALTHY, payload=payload)
