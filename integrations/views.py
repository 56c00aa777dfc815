"""Public endpoints of the integrations: calendar consent (and, with the ATS issue, webhooks)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from integrations.calendars.consent import ConsentError, consent_finish, consent_start


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
