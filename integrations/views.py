"""Public endpoints of the integrations: calendar consent, and ATS webhooks."""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from integrations.ats import health
from integrations.ats.base import WebhookRejected, provider_for
from integrations.calendars.consent import ConsentError, consent_finish, consent_start
from integrations.errors import ProviderError
from integrations.models import AtsConnection
from scheduling.work import inbound_record

logger = logging.getLogger(__name__)


@require_GET
@never_cache
def calendar_consent_start(request: HttpRequest, token: str) -> HttpResponse:
    try:
        started = consent_start(token=token, session=request.session)
    except ConsentError as e:
        return render(request, "integrations/consent_result.html", {"ok": False, "message": e.message}, status=400)
    return HttpResponseRedirect(started.authorize_url)


@require_GET
@never_cache
def calendar_oauth_callback(request: HttpRequest, provider: str) -> HttpResponse:
    try:
        interviewer = consent_finish(provider=provider, state=request.GET.get("state", ""),
                                     code=request.GET.get("code", ""), error=request.GET.get("error", ""),
                                     session=request.session)
    except ConsentError as e:
        return render(request, "integrations/consent_result.html", {"ok": False, "message": e.message}, status=400)
    return render(request, "integrations/consent_result.html",
                  {"ok": True, "message": f"Thank you, {interviewer.first_name}: your calendar is connected."})


@csrf_exempt
@require_POST
@never_cache
def ats_webhook(request: HttpRequest, webhook_key: str) -> HttpResponse:
    """One ATS connection's webhook endpoint (`/webhooks/ats/<webhook_key>/`).

    Unknown or inactive key: 404. The delivery is verified over the raw bytes as received: refused, it gets 401
    and a log line naming the connection and the reason, and nothing is written. Verified but unreadable: 400
    with the reason. Otherwise it is stored as an InboundEvent (once per event key: a replay finds its row) in
    this view's own transaction, committed before the answer, and its processing is queued after commit; the
    answer is 200, a ping included. Processing runs from the row (`scheduling.work.inbound_process`)."""
    connection = AtsConnection.objects.filter(webhook_key=webhook_key, active=True).first()
    if connection is None:
        return JsonResponse({"error": "unknown webhook"}, status=404)
    raw = request.body
    try:
        ats = provider_for(connection)
    except ProviderError as e:
        logger.warning("webhook for ATS connection #%s cannot be read: %s", connection.pk, e.message)
        return JsonResponse({"error": "this connection's provider is not supported yet"}, status=404)
    with ats:
        try:
            ats.verify_webhook(request.headers, raw)
        except WebhookRejected as e:
            logger.warning("webhook refused for ATS connection #%s (%s): %s", connection.pk, e.status, e.reason)
            return JsonResponse({"error": e.reason}, status=e.status)
        try:
            parsed = ats.parse_webhook(raw, request.headers)
        except WebhookRejected as e:
            logger.warning("webhook from ATS connection #%s is malformed: %s", connection.pk, e.reason)
            return JsonResponse({"error": e.reason}, status=400)
        with transaction.atomic():
            event, created = inbound_record(connection=connection, event_key=parsed.event_key, kind=parsed.kind,
                                            raw_body=raw.decode("utf-8", errors="replace"))
            health.mark_success(connection=connection, component=ats.webhook_component)
    return JsonResponse({"received": True, "event": event.pk, "duplicate": not created})
