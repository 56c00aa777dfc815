"""The dashboard's pages: one GET page, and one POST view per fix, each calling one service. Staff only."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from integrations.calendars.consent import consent_link_send
from scheduling import booking, clock
from scheduling.dashboard import charts
from scheduling.dashboard.selectors import awaiting_too_long_hours, dashboard_overview, filters_from
from scheduling.dashboard.services import outbox_retry
from scheduling.dashboard.words import explain, lookup_for
from scheduling.engine import ProblemError
from scheduling.errors import LoopwiseError
from scheduling.escalation import link_extend, warning_hours
from scheduling.models import Interviewer, OutboxItem, SchedulingLink, SchedulingRequest

S = SchedulingRequest.State
EXTEND_HOURS = 48


def _consent_url(person: Interviewer) -> str:
    return reverse("dashboard:consent", args=[person.pk])


@staff_member_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    now = clock.now()
    overview = dashboard_overview(filters=filters_from(request.GET, now=now), now=now)
    lookup = lookup_for([r.diagnostics for r in overview.failures.rows])
    failures = [{"request": r, "reasons": explain(r.diagnostics, request=r, lookup=lookup, consent_url=_consent_url)}
                for r in overview.failures.rows]
    n, weeks = overview.numbers, overview.numbers.weeks
    labels = [w["label"] for w in weeks]
    context = {
        **admin.site.each_context(request),
        "title": "Operations dashboard",
        "o": overview,
        "failures": failures,
        "here": request.get_full_path(),
        "warning_hours": warning_hours(),
        "too_long_hours": awaiting_too_long_hours(),
        "extend_hours": EXTEND_HOURS,
        "chart_times": charts.line_chart(
            title="Median hours from request to link sent and to booking, by week of request",
            labels=labels, unit=" h",
            series=[("To link sent", [w["link_p50"] for w in weeks]), ("To booking", [w["book_p50"] for w in weeks])]),
        "chart_rates": charts.bar_chart(
            title="Reschedule and cancellation rates, by week of request", labels=labels, unit="%", top=100,
            series=[("Rescheduled", [w["reschedule_rate"] for w in weeks]),
                    ("Cancelled", [w["cancellation_rate"] for w in weeks])]),
        "chart_load": charts.limit_bars(title="Interviews this week against each interviewer's weekly limit",
                                        rows=[(r["name"], r["n"], r["cap"]) for r in overview.load[:15]]),
        "trainees": [{**t, "shadow_bar": charts.progress_bar(done=t["shadow_done"], required=t["shadow_required"],
                                                              label="Shadow sessions"),
                      "reverse_bar": charts.progress_bar(done=t["reverse_done"], required=t["reverse_required"],
                                                         label="Reverse-shadow sessions")}
                     for t in overview.trainees],
        "summary": [
            ("failures", "Requests with no time to offer", overview.failures.total, "red"),
            ("links", "Links expiring soon", overview.expiring.total, "amber"),
            ("expired", "Links expired", overview.expired.total, "amber"),
            ("waiting", "Waiting too long for the candidate", overview.waiting.total, "amber"),
            ("outbox", "Writes failing or given up", overview.outbox.total, "red"),
            ("health", "Connections, calendars and ATS parts failing", overview.health.problems, "red"),
            ("webhooks", "Quiet webhooks", len(overview.health.quiet), "amber"),
        ],
        "n": n,
    }
    return render(request, "dashboard/index.html", context)


# ---------------------------------------------------------------------------------------------------------------
# Fixes: each POSTs, calls one service, and goes back where it came from with a message.


def _back(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = reverse("dashboard:index")
    return HttpResponseRedirect(target)


@staff_member_required
@require_POST
def link_extend_view(request: HttpRequest, pk: int) -> HttpResponse:
    link = get_object_or_404(SchedulingLink, pk=pk)
    try:
        hours = int(request.POST.get("hours", EXTEND_HOURS))
        link = link_extend(link=link, hours=hours, actor=request.user)
    except (ValueError, LoopwiseError) as e:
        messages.error(request, f"Request #{link.request_id}: the link was not extended: {e}.")
    else:
        messages.success(request, f"Request #{link.request_id}: the link now works until "
                                  f"{timezone.localtime(link.expires_at):%Y-%m-%d %H:%M %Z}.")
    return _back(request)


@staff_member_required
@require_POST
def request_regenerate_view(request: HttpRequest, pk: int) -> HttpResponse:
    scheduling_request = get_object_or_404(SchedulingRequest, pk=pk)
    try:
        booking.link_regenerate(request=scheduling_request, actor=request.user)
    except LoopwiseError as e:
        messages.error(request, f"Request #{pk}: no new link was sent: {e.message}")
    except ProblemError as e:  # the plan itself cannot be solved (e.g. it has no session)
        messages.error(request, f"Request #{pk}: no new link was sent: its plan cannot be scheduled ({e}).")
    else:
        messages.success(request, f"Request #{pk}: a new link was emailed to the candidate; the old one no "
                                  f"longer works.")
    return _back(request)


@staff_member_required
@require_POST
def request_retry_view(request: HttpRequest, pk: int) -> HttpResponse:
    scheduling_request = get_object_or_404(SchedulingRequest, pk=pk)
    try:
        if scheduling_request.state in (S.NEW, S.NEEDS_ATTENTION):
            scheduling_request = booking.request_start(request=scheduling_request, actor=request.user)
            scheduling_request.refresh_from_db()
            if scheduling_request.state == S.NEEDS_ATTENTION:
                messages.warning(request, f"Request #{pk}: still no time to offer; the reasons below are fresh.")
            else:
                messages.success(request, f"Request #{pk}: times found; it is now "
                                          f"“{scheduling_request.get_state_display()}”.")
        else:
            result = booking.request_solve(request=scheduling_request)
            messages.success(request, f"Request #{pk}: {len(result['options'])} start time(s) found.")
    except LoopwiseError as e:
        messages.error(request, f"Request #{pk}: {e.message}")
    except ProblemError as e:
        messages.error(request, f"Request #{pk}: its plan cannot be scheduled ({e}).")
    return _back(request)


@staff_member_required
@require_POST
def outbox_retry_view(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(OutboxItem, pk=pk)
    try:
        outbox_retry(item=item, actor=request.user)
    except LoopwiseError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, f"Outbox item #{pk} ({item.kind}) is queued again.")
    return _back(request)


@staff_member_required
@require_POST
def consent_view(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(Interviewer, pk=pk)
    try:
        consent_link_send(interviewer=person, provider="google", actor=request.user)
    except LoopwiseError as e:
        messages.error(request, f"{person.name}: {e.message}")
    else:
        messages.success(request, f"{person.name} was emailed a link to connect their calendar.")
    return _back(request)
