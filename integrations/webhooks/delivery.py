"""Sending one webhook delivery: the outbox handler for kind "webhook.deliver", and manual redelivery.

Each attempt re-reads the subscription (a deactivated one stops its deliveries), resolves and vets the URL again
(`security.target_resolve`: a name that now points at a private address is refused, permanently), then POSTs the
JSON envelope to the vetted address itself, not to whatever the name resolves to a millisecond later:
`PinnedAdapter` opens the connection to that IP while TLS still checks the certificate (and sends SNI) for the
host name, so DNS rebinding cannot slip a private address in between the check and the connect. Proxies from the
environment are ignored (they would connect on our behalf, unchecked) and redirects are not followed (a 3xx
could point anywhere): both count as a failed attempt.

A 2xx marks the delivery delivered. Anything else (another status, a timeout, a refused connection, a host that
does not resolve) is recorded on the delivery and raised, so the outbox retries it with its backoff under the
same delivery id; after the last attempt the outbox gives up and the delivery is marked dead. The envelope is
the same on every attempt (`id`, `event`, `created_at`, `data`); the signature's timestamp is that of the attempt.
"""

from __future__ import annotations

import functools
import json
import logging

import requests
from django.db import transaction
from django.db.models import F
from django_q.tasks import async_task
from requests.adapters import HTTPAdapter

from integrations.models import WebhookDelivery
from integrations.webhooks.events import MAX_ATTEMPTS, OUTBOX_KIND
from integrations.webhooks.security import (
    DELIVERY_ID_HEADER,
    SIGNATURE_HEADER,
    Target,
    Unresolvable,
    UnsafeTarget,
    signature_header,
    target_resolve,
)
from scheduling import clock
from scheduling.audit import audit_log
from scheduling.errors import LoopwiseError, PermanentError
from scheduling.logging import redact
from scheduling.models import OutboxItem, WorkState
from scheduling.work import outbox_enqueue

__all__ = ["TIMEOUT", "DeliveryFailed", "PinnedAdapter", "webhook_body", "webhook_deliver", "webhook_redeliver"]

logger = logging.getLogger(__name__)

TIMEOUT = (5, 10)  # seconds: connect, read. A receiver should answer at once and do its work afterwards.
USER_AGENT = "Loopwise-Webhooks/1"
_ERROR_MAX = 1000
S = WebhookDelivery.Status


class DeliveryFailed(Exception):
    """This attempt failed (status, timeout, connection): the outbox retries it."""


class PinnedAdapter(HTTPAdapter):
    """Connects to `target.address` whatever the URL's host resolves to now; https still verifies the
    certificate against (and sends SNI for) the URL's host name."""

    def __init__(self, target: Target, **kwargs):
        self.target = target
        super().__init__(**kwargs)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params["host"] = self.target.address
        if self.target.scheme == "https":
            pool_kwargs["server_hostname"] = self.target.host
            pool_kwargs["assert_hostname"] = self.target.host
        return host_params, pool_kwargs


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def webhook_body(delivery: WebhookDelivery) -> bytes:
    """The JSON envelope, byte for byte the same on every attempt."""
    envelope = {"id": str(delivery.delivery_id), "event": delivery.event,
                "created_at": delivery.created_at.isoformat(), "data": delivery.payload}
    return json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()


def _post(target: Target, *, body: bytes, headers: dict) -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment: it would connect for us, unvetted
        adapter = PinnedAdapter(target, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        response = session.post(target.url, data=body, headers={**headers, "Host": _host_header(target)},
                                timeout=TIMEOUT, allow_redirects=False, stream=True)
        response.close()  # the status is all we keep: the body is never read
        return response


def _record(delivery: WebhookDelivery, **fields) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)


def _failed(delivery: WebhookDelivery, item: OutboxItem, *, error: str, code: int | None = None) -> DeliveryFailed:
    last = item.attempts >= item.max_attempts
    _record(delivery, status=S.DEAD if last else S.FAILED, last_status_code=code, last_error=error[:_ERROR_MAX])
    return DeliveryFailed(error)


def webhook_deliver(item: OutboxItem) -> str:
    """Outbox handler: one attempt of the delivery `item.payload["delivery_id"]`. Returns a short summary when
    the receiver answered 2xx; raises DeliveryFailed to be retried, PermanentError when retrying cannot help
    (delivery gone, subscription inactive, target refused)."""
    delivery = (WebhookDelivery.objects.select_related("subscription")
                .filter(delivery_id=item.payload.get("delivery_id")).first())
    if delivery is None:
        raise PermanentError("the webhook delivery no longer exists", {"outbox_id": item.pk})
    subscription = delivery.subscription
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=F("attempts") + 1)
    if not subscription.active:
        _record(delivery, status=S.DEAD, last_error="the subscription is inactive")
        raise PermanentError(f"webhook subscription #{subscription.pk} is inactive", {"delivery": delivery.pk})
    try:
        target = target_resolve(subscription.url)
    except Unresolvable as e:  # DNS trouble may pass: retried
        raise _failed(delivery, item, error=f"refused: {e}") from None
    except UnsafeTarget as e:
        _record(delivery, status=S.DEAD, last_status_code=None, last_error=f"refused: {e}"[:_ERROR_MAX])
        raise PermanentError(f"webhook target refused: {e}", {"delivery": delivery.pk}) from None
    body = webhook_body(delivery)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               DELIVERY_ID_HEADER: str(delivery.delivery_id),
               SIGNATURE_HEADER: signature_header(subscription.secret, body, t=int(clock.now().timestamp()))}
    try:
        response = _post(target, body=body, headers=headers)
    except requests.RequestException as e:
        raise _failed(delivery, item, error=redact(f"{type(e).__name__}: {e}")) from None
    if not 200 <= response.status_code < 300:
        raise _failed(delivery, item, code=response.status_code, error=f"HTTP {response.status_code}")
    _record(delivery, status=S.DELIVERED, last_status_code=response.status_code, last_error="",
            delivered_at=clock.now())
    return f"webhook {delivery.event} {delivery.delivery_id}: HTTP {response.status_code}"


# ---------------------------------------------------------------------------------------------------------------
# Redelivery


def _queue(item_id: int) -> None:
    try:
        async_task("scheduling.tasks.deliver_outbox_item", item_id, group="outbox", task_name=f"outbox #{item_id}")
    except Exception as e:  # noqa: BLE001 - a broker hiccup only delays the work: the outbox sweep queues it again
        logger.warning("could not queue outbox #%s (the sweep will): %s", item_id, type(e).__name__)


def webhook_redeliver(*, delivery: WebhookDelivery, actor=None) -> OutboxItem:
    """Send `delivery` again, under the same delivery id, through the outbox: its outbox item starts over (a
    full run of attempts, due now) and the delivery goes back to pending. Raises LoopwiseError while an attempt
    is running."""
    now = clock.now()
    with transaction.atomic():
        item = OutboxItem.objects.select_for_update().filter(key=delivery.outbox_key).first()
        if item is None:  # the outbox row was cleaned away: a new one, same key
            item = outbox_enqueue(kind=OUTBOX_KIND, key=delivery.outbox_key,
                                  target=f"webhook:{delivery.subscription_id}", max_attempts=MAX_ATTEMPTS,
                                  payload={"delivery_id": str(delivery.delivery_id),
                                           "subscription_id": delivery.subscription_id})
        elif item.state == WorkState.RUNNING:
            raise LoopwiseError(f"delivery {delivery.delivery_id} is being sent right now",
                                {"delivery": delivery.pk})
        else:
            OutboxItem.objects.filter(pk=item.pk).update(state=WorkState.PENDING, attempts=0, next_attempt_at=now,
                                                         claimed_at=None, last_error="", done_at=None)
            transaction.on_commit(functools.partial(_queue, item.pk))
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=S.PENDING, last_error="")
        audit_log(action="webhook.redelivered", obj=delivery, actor=actor,
                  summary=f"{delivery.event} {delivery.delivery_id} queued again (outbox #{item.pk})")
    return item
