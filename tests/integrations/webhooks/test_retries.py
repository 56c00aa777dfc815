"""A receiver that fails is retried through the outbox with backoff, under the same delivery id, until it
answers 2xx; one that never does leaves the delivery dead after the last attempt."""

from __future__ import annotations

import datetime as dt

from integrations.models import WebhookDelivery
from integrations.webhooks.events import MAX_ATTEMPTS, webhook_emit
from scheduling.models import OutboxItem, WorkState
from tests.scheduling.booking.support import deliver

HOUR = dt.timedelta(hours=1, minutes=1)  # more than the outbox's longest backoff


def _emit() -> WebhookDelivery:
    (delivery,) = webhook_emit(event="interview.booked", payload={"interview": {"id": 1}})
    return delivery


def test_it_retries_a_failing_receiver_with_the_same_delivery_id_until_it_answers(db, frozen, subscribe, receiver):
    subscribe(["interview.booked"])
    receiver.statuses = [500, 500]
    delivery = _emit()

    deliver()
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED and delivery.last_status_code == 500
    deliver()  # not due yet: the backoff holds it back
    assert len(receiver.received) == 1
    frozen.shift(HOUR)
    deliver()
    frozen.shift(HOUR)
    deliver()

    assert [r.headers["Loopwise-Delivery-Id"] for r in receiver.received] == [str(delivery.delivery_id)] * 3
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED and delivery.attempts == 3
    assert delivery.last_status_code == 200 and delivery.last_error == ""
    assert OutboxItem.objects.get(key=delivery.outbox_key).state == WorkState.DONE


def test_it_gives_up_after_the_last_attempt(db, frozen, subscribe, receiver):
    subscribe(["interview.booked"])
    receiver.statuses = [503] * (MAX_ATTEMPTS + 1)
    delivery = _emit()

    for _ in range(MAX_ATTEMPTS + 2):
        deliver()
        frozen.shift(HOUR)

    assert len(receiver.received) == MAX_ATTEMPTS
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DEAD and delivery.attempts == MAX_ATTEMPTS
    assert delivery.last_error == "HTTP 503"
    assert OutboxItem.objects.get(key=delivery.outbox_key).state == WorkState.DEAD


def test_a_redirect_is_not_followed_and_counts_as_a_failure(db, frozen, subscribe, receiver):
    subscribe(["interview.booked"])
    receiver.statuses = [302]
    delivery = _emit()

    deliver()

    delivery.refresh_from_db()
    assert len(receiver.received) == 1
    assert delivery.status == WebhookDelivery.Status.FAILED and delivery.last_status_code == 302
