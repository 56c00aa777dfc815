"""Webhook subscriptions: create, change, delete, each validated by the model (`full_clean`: the URL is vetted
now, after DNS resolution) and audited without the secret."""

from __future__ import annotations

from django.db import transaction

from integrations.models import WebhookSubscription, webhook_secret
from scheduling.audit import audit_log

__all__ = ["webhook_subscription_create", "webhook_subscription_update", "webhook_subscription_delete",
           "webhook_secret_rotate"]

_FIELDS = ("name", "url", "events", "active")


def _summary(subscription: WebhookSubscription) -> str:
    return f"{subscription.url} for {', '.join(subscription.events or [])}"


def webhook_subscription_create(*, name: str, url: str, events: list[str], active: bool = True, actor=None,
                                actor_label: str = "system") -> WebhookSubscription:
    """A new subscription with a fresh secret (read it from the returned object: it is shown once). Raises
    django's ValidationError naming the field at fault (`url` for a refused target)."""
    subscription = WebhookSubscription(name=name, url=url, events=list(events), active=active)
    subscription.full_clean()
    with transaction.atomic():
        subscription.save()
        audit_log(action="webhook_subscription.created", obj=subscription, actor=actor, actor_label=actor_label,
                  summary=_summary(subscription))
    return subscription


def webhook_subscription_update(*, subscription: WebhookSubscription, actor=None, actor_label: str = "system",
                                **changes) -> WebhookSubscription:
    """Change any of name, url, events and active; the URL is vetted again. Raises ValidationError."""
    unknown = set(changes) - set(_FIELDS)
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
    for field, value in changes.items():
        setattr(subscription, field, list(value) if field == "events" else value)
    subscription.full_clean()
    with transaction.atomic():
        subscription.save(update_fields=list(changes) or None)
        audit_log(action="webhook_subscription.changed", obj=subscription, actor=actor, actor_label=actor_label,
                  summary=_summary(subscription))
    return subscription


def webhook_subscription_delete(*, subscription: WebhookSubscription, actor=None, actor_label: str = "system") -> None:
    """Delete the subscription and its delivery log; deliveries still queued find it gone and stop."""
    with transaction.atomic():
        audit_log(action="webhook_subscription.deleted", obj=subscription, actor=actor, actor_label=actor_label,
                  summary=_summary(subscription))
        subscription.delete()


def webhook_secret_rotate(*, subscription: WebhookSubscription, actor=None,
                          actor_label: str = "system") -> WebhookSubscription:
    """A new secret (the old one stops signing at once); read it from the returned object, shown once."""
    subscription.secret = webhook_secret()
    with transaction.atomic():
        subscription.save(update_fields=["secret"])
        audit_log(action="webhook_subscription.new_secret", obj=subscription, actor=actor, actor_label=actor_label,
                  summary="new signing secret")
    return subscription
