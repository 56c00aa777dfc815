"""`/api/v1/webhook-subscriptions/`: a write key creates a subscription and sees its secret once; reads never
show it; a read key cannot write; a private URL is refused on the url field."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from integrations.models import WebhookSubscription
from scheduling.api.auth import api_key_create

LIST = "api:webhook-subscription-list"


def _client(*scopes: str) -> APIClient:
    _, raw = api_key_create(name=f"key-{'-'.join(scopes)}", scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture(autouse=True)
def _strict(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = settings.WEBHOOKS_ALLOW_HTTP = False


def test_it_creates_a_subscription_and_answers_the_secret_once(db):
    client = _client("read", "write")

    response = client.post(reverse(LIST), {"name": "HR", "url": "https://93.184.215.14/hooks",
                                           "events": ["interview.booked"]}, format="json")

    assert response.status_code == 201, response.content
    subscription = WebhookSubscription.objects.get(name="HR")
    assert response.json()["secret"] == subscription.secret
    detail = client.get(reverse("api:webhook-subscription-detail", args=[subscription.pk]))
    listed = client.get(reverse(LIST))
    assert detail.status_code == 200 and "secret" not in detail.json()
    assert subscription.secret not in listed.content.decode()


def test_it_refuses_a_private_url_on_the_url_field(db):
    response = _client("read", "write").post(reverse(LIST), {"name": "Meta", "url": "https://169.254.169.254/",
                                                             "events": ["interview.booked"]}, format="json")

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["url"]


def test_a_read_key_cannot_subscribe(db):
    response = _client("read").post(reverse(LIST), {"name": "HR", "url": "https://93.184.215.14/",
                                                    "events": ["interview.booked"]}, format="json")

    assert response.status_code == 403 and not WebhookSubscription.objects.exists()


def test_it_changes_and_deletes_a_subscription(db):
    client = _client("read", "write")
    created = client.post(reverse(LIST), {"name": "HR", "url": "https://93.184.215.14/",
                                          "events": ["interview.booked"]}, format="json").json()
    detail = reverse("api:webhook-subscription-detail", args=[created["id"]])

    changed = client.patch(detail, {"active": False, "events": ["link.expiring"]}, format="json")
    refused = client.patch(detail, {"url": "https://10.0.0.5/"}, format="json")

    assert changed.status_code == 200 and changed.json()["events"] == ["link.expiring"]
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "url"
    assert client.delete(detail).status_code == 204 and not WebhookSubscription.objects.exists()
