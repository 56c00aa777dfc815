"""A booking sends `interview.booked` to the subscriber through the outbox, signed with the subscription's secret:
the receiver checks it with `verify_signature`, which refuses a tampered body, a wrong secret and an old
timestamp. The payload names ids, never the candidate."""

from __future__ import annotations

import json

from integrations.models import WebhookDelivery
from integrations.webhooks.security import verify_signature
from scheduling import booking
from tests.scheduling.booking.support import deliver


def _book(world):
    request = world.request()
    booking.request_start(request=request)
    request.refresh_from_db()
    return request, booking.interview_book(request=request, option=request.options[0]).interview


def test_it_delivers_a_signed_booking_event_to_the_subscriber(world, subscribe, receiver):
    subscription = subscribe(["interview.booked"])
    request, interview = _book(world)

    deliver()

    (got,) = receiver.received
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert got.path == "/hooks/loopwise"
    assert got.headers["Loopwise-Delivery-Id"] == str(delivery.delivery_id)
    assert got.headers["Content-Type"] == "application/json"
    assert verify_signature(subscription.secret, got.headers["Loopwise-Signature"], got.body)
    body = json.loads(got.body)
    assert body["id"] == str(delivery.delivery_id) and body["event"] == "interview.booked"
    assert body["data"]["interview"]["id"] == interview.pk
    assert body["data"]["scheduling_request"]["id"] == request.pk
    assert delivery.status == WebhookDelivery.Status.DELIVERED and delivery.attempts == 1
    assert delivery.last_status_code == 200 and delivery.delivered_at is not None


def test_it_carries_ids_and_never_the_candidates_name_or_email(world, subscribe, receiver):
    subscribe(["interview.booked", "scheduling_request.created"])
    request, _ = _book(world)
    candidate = request.application.candidate

    deliver()

    assert len(receiver.received) == 2
    for got in receiver.received:
        text = got.body.decode()
        for personal in (candidate.email, candidate.first_name, candidate.last_name):
            assert personal not in text
    created = next(json.loads(g.body) for g in receiver.received if b"scheduling_request.created" in g.body)
    assert created["data"]["scheduling_request"]["candidate_id"] == candidate.pk


def test_the_receivers_check_refuses_a_tampered_body_a_wrong_secret_and_an_old_timestamp(world, subscribe,
                                                                                          receiver):
    subscription = subscribe(["interview.booked"])
    _book(world)
    deliver()
    (got,) = receiver.received
    header = got.headers["Loopwise-Signature"]
    t = int(header.split(",")[0].removeprefix("t="))

    assert verify_signature(subscription.secret, header, got.body, now=t + 299)
    assert not verify_signature(subscription.secret, header, got.body.replace(b'"interview"', b'"Interview"'),
                                now=t)
    assert not verify_signature("whsec_someone-else", header, got.body, now=t)
    assert not verify_signature(subscription.secret, header, got.body, now=t + 301)  # older than 5 minutes
    assert not verify_signature(subscription.secret, header, got.body, now=t - 301)  # from the future
    assert not verify_signature(subscription.secret, "v1=" + header.split("v1=")[1], got.body, now=t)  # no t


def test_it_sends_nothing_to_a_subscription_that_did_not_ask_or_is_inactive(world, subscribe, receiver):
    subscribe(["interview.cancelled"], name="Cancellations only")
    subscribe(["interview.booked"], name="Paused", active=False)
    _book(world)

    deliver()

    assert receiver.received == [] and not WebhookDelivery.objects.exists()
