"""Staff resend a delivery from the admin's delivery log: the same delivery id goes out again through the
outbox, and the log shows it delivered."""

from __future__ import annotations

from django.urls import reverse

from integrations.models import WebhookDelivery, WebhookSubscription
from integrations.webhooks.events import webhook_emit
from scheduling.models import AuditEvent, OutboxItem, WorkState
from tests.scheduling.booking.support import deliver


def test_it_resends_a_dead_delivery_with_the_same_id_from_the_admin(db, frozen, subscribe, receiver, staff_client):
    subscribe(["interview.booked"])
    receiver.statuses = [410]
    (delivery,) = webhook_emit(event="interview.booked", payload={"interview": {"id": 7}})
    deliver()
    OutboxItem.objects.filter(key=delivery.outbox_key).update(state=WorkState.DEAD)  # given up on
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=WebhookDelivery.Status.DEAD)

    response = staff_client.post(reverse("admin:integrations_webhookdelivery_changelist"),
                                 {"action": "redeliver", "_selected_action": [delivery.pk]}, follow=True)
    assert response.status_code == 200
    assert "1 delivery queued to be sent again" in response.content.decode()
    item = OutboxItem.objects.get(key=delivery.outbox_key)
    assert item.state == WorkState.PENDING and item.attempts == 0
    deliver()

    assert [r.headers["Loopwise-Delivery-Id"] for r in receiver.received] == [str(delivery.delivery_id)] * 2
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert AuditEvent.objects.filter(action="webhook.redelivered", object_id=str(delivery.pk)).count() == 1


def test_the_delivery_log_filters_by_status_event_and_subscription(db, subscribe, staff_client):
    subscription = subscribe(["interview.booked", "interview.cancelled"])
    webhook_emit(event="interview.booked", payload={})
    webhook_emit(event="interview.cancelled", payload={})
    url = reverse("admin:integrations_webhookdelivery_changelist")

    response = staff_client.get(url, {"event": "interview.cancelled", "status__in": "pending",
                                      "subscription__id__exact": subscription.pk})

    assert response.status_code == 200 and response.context["cl"].result_count == 1


def test_the_admin_shows_the_secret_once_when_a_subscription_is_added(db, loopback_allowed, receiver,
                                                                      staff_client):
    add = reverse("admin:integrations_webhooksubscription_add")
    response = staff_client.post(add, {"name": "HR", "url": receiver.url, "events": ["interview.booked"],
                                       "active": "on"})

    subscription = WebhookSubscription.objects.get(name="HR")
    assert response.status_code == 200 and subscription.secret in response.content.decode()
    change = staff_client.get(reverse("admin:integrations_webhooksubscription_change", args=[subscription.pk]))
    assert subscription.secret not in change.content.decode()


def test_the_admin_form_refuses_a_private_url_on_the_url_field(db, settings, staff_client):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = settings.WEBHOOKS_ALLOW_HTTP = False
    response = staff_client.post(reverse("admin:integrations_webhooksubscription_add"),
                                 {"name": "Metadata", "url": "https://169.254.169.254/",
                                  "events": ["interview.booked"], "active": "on"})

    assert response.status_code == 200
    assert "url" in response.context["adminform"].form.errors
