"""Subscriber URLs must be https on public addresses: refused on save (model validation, so the admin form and
the API too) and again at delivery, after a fresh DNS resolution."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from integrations.models import WebhookDelivery, WebhookSubscription
from integrations.webhooks.events import webhook_emit
from integrations.webhooks.security import UnsafeTarget, target_resolve
from integrations.webhooks.services import webhook_subscription_create
from scheduling.models import OutboxItem, WorkState
from tests.scheduling.booking.support import deliver

REFUSED = [
    "https://127.0.0.1/",
    "https://10.0.0.5/",
    "https://169.254.169.254/",
    "https://[::1]/",
    "http://example.com/",
    "https://192.168.1.20:8443/hooks",
    "https://[::ffff:127.0.0.1]/",
    "https://0.0.0.0/",
    "https://100.64.0.1/",
    "https://localhost/",
    "https://user:secret@93.184.215.14/",
]


@pytest.fixture(autouse=True)
def _strict(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    settings.WEBHOOKS_ALLOW_HTTP = False


@pytest.mark.parametrize("url", REFUSED)
def test_it_refuses_to_save_a_subscription_to_a_non_public_or_plain_http_url(db, url):
    with pytest.raises(ValidationError) as e:
        webhook_subscription_create(name="Bad", url=url, events=["interview.booked"])

    assert list(e.value.message_dict) == ["url"]
    assert not WebhookSubscription.objects.exists()


def test_it_names_the_address_and_why(db):
    with pytest.raises(UnsafeTarget, match=r"169\.254\.169\.254, a link-local address"):
        target_resolve("https://169.254.169.254/latest/meta-data/")
    with pytest.raises(UnsafeTarget, match="https://"):
        target_resolve("http://example.com/")


def test_it_saves_a_subscription_to_a_public_address(db):
    subscription = webhook_subscription_create(name="Public", url="https://93.184.215.14/hooks",
                                               events=["interview.booked"])

    assert subscription.pk and subscription.secret.startswith("whsec_")


def test_it_refuses_unknown_events(db):
    with pytest.raises(ValidationError) as e:
        webhook_subscription_create(name="Odd", url="https://93.184.215.14/", events=["interview.exploded"])

    assert list(e.value.message_dict) == ["events"]


def test_a_target_that_passed_on_save_but_resolves_privately_is_refused_at_delivery(db, settings, receiver):
    # Saved while private targets were allowed (as a name that later resolves to a private address would be):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = settings.WEBHOOKS_ALLOW_HTTP = True
    subscription = webhook_subscription_create(name="Rebinding", url=f"http://localhost:{receiver.port}/hooks",
                                               events=["interview.booked"])
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    (delivery,) = webhook_emit(event="interview.booked", payload={"interview": {"id": 1}})

    deliver()

    assert receiver.received == []  # never connected
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DEAD and delivery.attempts == 1
    assert "localhost resolves to" in delivery.last_error and "loopback" in delivery.last_error
    assert OutboxItem.objects.get(key=delivery.outbox_key).state == WorkState.DEAD
    assert subscription.deliveries.count() == 1


def test_a_row_written_around_validation_is_still_refused_at_delivery(db, receiver):
    WebhookSubscription.objects.create(name="Raw", url="https://10.0.0.5/hooks", events=["interview.booked"])
    (delivery,) = webhook_emit(event="interview.booked", payload={})

    deliver()

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DEAD and "10.0.0.5, a private address" in delivery.last_error
