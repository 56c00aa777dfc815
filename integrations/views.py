"""Public endpoints of the integrations: calendar consent, ATS webhooks and the push token endpoint iCIMS calls;
and, for staff, the Lever OAuth sign-in."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from integrations.ats import health, lever_oauth, push_tokens
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
    answer is 200, a ping included. Processing runs from the row (`scheduling.work.inbound_process`). The body is
    stored as the adapter reads it (`stored_body`: an iCIMS push arrives gzipped and is stored decompressed). No
    provider is called here, so the answer comes well within any provider's limit (iCIMS: about 30 s)."""
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
        stored = ats.stored_body(raw, request.headers)  # iCIMS: gunzipped, so that processing can read it
        with transaction.atomic():
            event, created = inbound_record(connection=connection, event_key=parsed.event_key, kind=parsed.kind,
                                            raw_body=stored.decode("utf-8", errors="replace"))
            health.mark_success(connection=connection, component=ats.webhook_component)
    return JsonResponse({"received": True, "event": event.pk, "duplicate": not created})


@csrf_exempt
@require_POST
@never_cache
def ats_push_token(request: HttpRequest, webhook_key: str) -> HttpResponse:
    """One connection's OAuth client-credentials token endpoint (`/webhooks/ats/<webhook_key>/token`), which iCIMS
    calls before it pushes (`integrations.ats.push_tokens`). Unknown or inactive key: 404."""
    connection = AtsConnection.objects.filter(webhook_key=webhook_key, active=True).first()
    if connection is None:
        return JsonResponse({"error": "invalid_request", "error_description": "unknown token endpoint"}, status=404)
    form = {k: request.POST.get(k, "") for k in request.POST}
    try:
        client_id, client_secret, basic = push_tokens.client_from_request(request.headers.get("Authorization", ""),
                                                                           form)
        issued = push_tokens.push_token_issue(connection=connection, grant_type=form.get("grant_type", ""),
                                              client_id=client_id, client_secret=client_secret, basic=basic)
    except push_tokens.PushTokenRefused as e:
        logger.warning("push token request for ATS connection #%s refused: %s", connection.pk, e.error)
        response = JsonResponse({"error": e.error, "error_description": e.description}, status=e.status)
        if e.basic:
            response["WWW-Authenticate"] = 'Basic realm="loopwise-push-token"'
    else:
        response = JsonResponse(issued.as_json())
    response["Cache-Control"], response["Pragma"] = "no-store", "no-cache"  # RFC 6749 §5.1
    return response


@staff_member_required
@require_GET
@never_cache
def ats_lever_authorize(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff: sign in to Lever for connection `pk` (OAuth authorization code; `integrations.ats.lever_oauth`)."""
    connection = get_object_or_404(AtsConnection, pk=pk)
    try:
        started = lever_oauth.authorize_start(connection=connection, session=request.session)
    except lever_oauth.LeverOAuthError as e:
        messages.error(request, e.message)
        return HttpResponseRedirect(reverse("admin:integrations_atsconnection_change", args=[connection.pk]))
    return HttpResponseRedirect(started.authorize_url)


@staff_member_required
@require_GET
@never_cache
def ats_lever_callback(request: HttpRequest) -> HttpResponse:
    """Where Lever sends staff back after the sign-in: the tokens are stored, and the connection's page says so."""
    try:
        connection = lever_oauth.authorize_finish(state=request.GET.get("state", ""), code=request.GET.get("code", ""),
                                                  error=request.GET.get("error", ""), session=request.session,
                                                  actor=request.user)
    except lever_oauth.LeverOAuthError as e:
        messages.error(request, e.message)
        return HttpResponseRedirect(reverse("admin:integrations_atsconnection_changelist"))
    health.mark_success(connection=connection, component="auth")
    messages.success(request, f"{connection.name}: signed in to Lever; Loopwise keeps the access fresh from now on.")
    return HttpResponseRedirect(reverse("admin:integrations_atsconnection_change", args=[connection.pk]))
