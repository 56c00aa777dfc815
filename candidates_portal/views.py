"""The candidate's pages (issue #5): open the link, choose a time, confirm, see the booking, reschedule,
cancel, propose times, ask for a new link.

The first request, `/s/<token>/`, resolves the token through `link_resolve` (a hash lookup), stores the link's
id in a fresh session (the key is cycled) and answers at once with a 303 to `/schedule/...`, so the token
appears in one request line only (see `candidates_portal.access_log` for the access log). From then on, every
page acts for the session's link alone: the request is never taken from anything the browser sends, so one
candidate can never see or act on another's request. Headers and rate limits: `candidates_portal.security`.
Booking, moving, cancelling, proposing times and asking for a new link are the booking services'
(`scheduling.booking`); a lost race shows the times still open, never an error page.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from functools import wraps

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from candidates_portal.display import (
    fmt_day,
    fmt_minutes,
    fmt_span,
    fmt_when,
    options_by_day,
    zone_abbr,
    zone_options_html,
    zone_title,
)
from candidates_portal.forms import CancelForm, TimezoneForm, WindowsForm
from candidates_portal.security import EXPIRED_KEY, LINK_KEY, over_limit, portal_response, too_many
from candidates_portal.selectors import (
    changes_deadline,
    link_open,
    loop_minutes,
    option_outline,
    org_context,
    plan_sessions,
    portal_link,
)
from candidates_portal.services import candidate_timezone_set
from scheduling import clock
from scheduling.booking import (
    candidate_schedule,
    interview_book,
    interview_cancel,
    interview_reschedule,
    link_request_new,
    link_resolve,
    link_touch,
    live_interview,
    option_for_start,
    proposed_windows_add,
)
from scheduling.candidate_mail import candidate_ics, candidate_zone
from scheduling.errors import ChangesClosed, InvalidWindows, NotBookable
from scheduling.models import ProposedWindow, ScheduledInterview, SchedulingLink, SchedulingRequest

S = SchedulingRequest.State
CANCELLED_BY_YOU = "portal_cancelled_by_candidate"
MSG_GONE = "That time is no longer available. Here are the times still open."


class SeeOther(HttpResponseRedirect):
    status_code = 303


def _to(name: str) -> SeeOther:
    return SeeOther(reverse(f"portal:{name}"))


@dataclass
class Portal:
    """What a page acts for: the session's link, its request, the candidate's zone, and the time now."""

    link: SchedulingLink
    request: SchedulingRequest
    zone: zoneinfo.ZoneInfo
    now: dt.datetime


# ---------------------------------------------------------------------------------------------------------------
# Pages shared by several views


def _page(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    return render(request, f"candidates_portal/{template}", {**org_context(), **context}, status=status)


def _notice(request: HttpRequest, title: str, *paragraphs: str, status: int = 200, contact: bool = True,
            link: tuple[str, str] | None = None) -> HttpResponse:
    return _page(request, "notice.html", {"title": title, "paragraphs": paragraphs, "contact": contact,
                                          "link": link}, status=status)


def _not_found(request: HttpRequest) -> HttpResponse:
    return _notice(request, "Link not found",
                   "This link does not work. Please check that you opened the whole link from your email.",
                   status=404, contact=False)


def _no_session(request: HttpRequest) -> HttpResponse:
    return _notice(request, "Please open your link again",
                   "To see your interview, open the link from the email we sent you.", status=403)


def _cancelled(request: HttpRequest) -> HttpResponse:
    if request.session.get(CANCELLED_BY_YOU):
        return _notice(request, "Your interview is cancelled",
                       "We have let the recruiting team know. Thank you for telling us.")
    return _notice(request, "This interview request was cancelled",
                   "There is nothing to schedule on this link any more.")


def _expired(request: HttpRequest, link: SchedulingLink, now: dt.datetime) -> HttpResponse:
    if link.revoked_at is not None:
        why = "This link has been replaced or withdrawn."
    elif link.is_expired(at=now):
        why = "This link has expired."
    else:
        why = "This link has been opened too many times."
    return _page(request, "expired.html", {"why": why, "role": link.request.plan.requisition.title}, status=410)


def _cutoff(request: HttpRequest, portal: Portal) -> HttpResponse:
    hours = portal.request.plan.reschedule_cutoff_hours
    return _notice(request, "Your interview can no longer be changed here",
                   f"Your interview starts in less than {hours} hours, so it can no longer be rescheduled or "
                   "cancelled online.", link=("Back to your booking", reverse("portal:booked")))


def _closed(request: HttpRequest) -> HttpResponse:
    return _notice(request, "This interview can no longer be changed here",
                   "This interview request is closed, so it cannot be booked or changed online.", status=409)


def _closed_request(request: HttpRequest, link: SchedulingLink) -> HttpResponse | None:
    """The page for a request nobody can schedule any more (cancelled, or its interview took place)."""
    if link.request.state == S.CANCELLED:
        return _cancelled(request)
    if link.request.state == S.COMPLETED:
        return _notice(request, "This interview has taken place", "Thank you for your time.")
    return None


def with_portal(view):
    """Give the view the session's Portal, or answer for it: no link in the session, a cancelled request, an
    interview that has taken place, or a link that expired or was revoked since it was opened."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        link = portal_link(link_id=request.session.get(LINK_KEY))
        if link is None:
            return _no_session(request)
        now = clock.now()
        closed = _closed_request(request, link)
        if closed is not None:
            return closed
        if not link_open(link, at=now):
            return _expired(request, link, now)
        portal = Portal(link=link, request=link.request, zone=candidate_zone(link.request), now=now)
        return view(request, portal, *args, **kwargs)

    return wrapper


def _schedule_page(request: HttpRequest, portal: Portal, *, live: ScheduledInterview | None,
                   message: str = "") -> HttpResponse:
    """The time picker: the company, the role, the loop, and the stored options by local day. For a booked
    request (`live`) it is the reschedule page (the current booking shown, its own start marked)."""
    sr = portal.request
    sessions = plan_sessions(sr)
    current = (live.option or {}).get("start") if live is not None else None
    return _page(request, "schedule.html", {
        "role": sr.plan.requisition.title, "message": message, "rescheduling": live is not None,
        "current": fmt_when(live.start, portal.zone, now=portal.now) if live is not None else "",
        "sessions": [{"name": s.name, "minutes": fmt_minutes(s.duration_minutes), "is_break": s.is_break}
                     for s in sessions],
        "total": fmt_minutes(loop_minutes(sr, sessions)),
        "days": options_by_day(sr.options or [], portal.zone, now=portal.now, current=current),
        "zone_name": str(portal.zone), "zone_title": zone_title(str(portal.zone)),
        "zone_abbr": zone_abbr(portal.now, portal.zone), "zone_remembered": bool(sr.candidate_timezone),
        "tz_options": zone_options_html(now=portal.now, selected=str(portal.zone)),
        "next": reverse("portal:reschedule" if live is not None else "portal:schedule"),
    })


def _agenda(rows: list[dict], zone: zoneinfo.ZoneInfo) -> list[dict]:
    return [{**r, "when": fmt_span(r["start"], r["end"], zone)} for r in rows]


def _changes_open(portal: Portal, live: ScheduledInterview) -> bool:
    return portal.now < changes_deadline(request=portal.request, interview=live)


# ---------------------------------------------------------------------------------------------------------------
# The link


@require_GET
@portal_response()
def link_open_view(request: HttpRequest, token: str) -> HttpResponse:
    """Exchange the token for a session and leave the URL that holds it at once."""
    link = link_resolve(token=token)
    if link is None:
        return _not_found(request)
    if over_limit("link", link.pk):
        return too_many(request)
    request.session.cycle_key()
    if link.is_usable(at=clock.now()):
        link_touch(link=link)
        request.session.pop(EXPIRED_KEY, None)
        request.session[LINK_KEY] = link.pk
        return _to("schedule")
    request.session.pop(LINK_KEY, None)
    request.session[EXPIRED_KEY] = link.pk
    return _to("expired")


def _any_link(request: HttpRequest) -> tuple[SchedulingLink | None, bool]:
    """The session's link, usable or not, and whether it is still open for this session."""
    link = portal_link(link_id=request.session.get(LINK_KEY))
    if link is not None:
        return link, link_open(link, at=clock.now())
    return portal_link(link_id=request.session.get(EXPIRED_KEY)), False


@require_GET
@portal_response()
def expired(request: HttpRequest) -> HttpResponse:
    link, usable = _any_link(request)
    if link is None:
        return _no_session(request)
    closed = _closed_request(request, link)
    if closed is not None:
        return closed
    if usable:
        return _to("schedule")
    return _expired(request, link, clock.now())


@require_POST
@portal_response(booking=True)
def new_link(request: HttpRequest) -> HttpResponse:
    """The expired page's button: tell the coordinator (at most once an hour) and thank the candidate."""
    link, usable = _any_link(request)
    if link is None:
        return _no_session(request)
    closed = _closed_request(request, link)
    if closed is not None:
        return closed
    if usable:
        return _to("schedule")
    link_request_new(link=link)
    return _to("new_link_sent")


@require_GET
@portal_response()
def new_link_sent(request: HttpRequest) -> HttpResponse:
    link, _ = _any_link(request)
    if link is None:
        return _no_session(request)
    return _notice(request, "Thank you",
                   "We have asked the recruiting team to send you a new link. It will arrive by email.")


# ---------------------------------------------------------------------------------------------------------------
# Choosing and confirming a time


@require_GET
@portal_response()
@with_portal
def schedule(request: HttpRequest, portal: Portal) -> HttpResponse:
    if live_interview(portal.request) is not None:
        return _to("booked")
    return _schedule_page(request, portal, live=None)


@require_http_methods(["GET", "POST"])
@portal_response(booking=True)
@with_portal
def confirm(request: HttpRequest, portal: Portal) -> HttpResponse:
    """GET: the stored option that starts at `start`, in words. POST: book it (or move the booking to it)."""
    sr = portal.request
    start = (request.POST if request.method == "POST" else request.GET).get("start", "")
    option = option_for_start(request=sr, start=start)
    live = live_interview(sr)
    if option is None:
        return _schedule_page(request, portal, live=live, message=MSG_GONE)
    if live is not None and not _changes_open(portal, live):
        return _cutoff(request, portal)
    message = ""
    if request.method == "POST":
        book = interview_reschedule if live is not None else interview_book
        try:
            result = book(request=sr, option=option, actor_label="candidate")
        except ChangesClosed:
            return _cutoff(request, portal)
        except NotBookable:
            return _closed(request)
        if result.interview is not None:
            return _to("booked")
        if not result.retry_later:
            sr.refresh_from_db(fields=["options", "options_computed_at", "state"])
            return _schedule_page(request, portal, live=live_interview(sr), message=result.message)
        message = result.message
    rows = option_outline(request=sr, option=option)
    return _page(request, "confirm.html", {
        "role": sr.plan.requisition.title, "start": option["start"], "message": message,
        "when": fmt_day(rows[0]["start"], portal.zone, now=portal.now) if rows else "",
        "span": fmt_span(rows[0]["start"], rows[-1]["end"], portal.zone) if rows else "",
        "agenda": _agenda(rows, portal.zone), "show_names": sr.plan.show_interviewer_names,
        "current": fmt_when(live.start, portal.zone, now=portal.now) if live is not None else "",
        "zone_title": zone_title(str(portal.zone)),
    })


# ---------------------------------------------------------------------------------------------------------------
# The booking, and changing it


@require_GET
@portal_response()
@with_portal
def booked(request: HttpRequest, portal: Portal) -> HttpResponse:
    sr = portal.request
    live = live_interview(sr)
    if live is None:
        return _to("schedule")
    rows = candidate_schedule(request=sr)
    deadline = changes_deadline(request=sr, interview=live)
    return _page(request, "booked.html", {
        "role": sr.plan.requisition.title, "agenda": _agenda(rows, portal.zone),
        "when": fmt_day(live.start, portal.zone, now=portal.now),
        "span": fmt_span(live.start, live.end, portal.zone), "video_link": live.video_link,
        "show_names": sr.plan.show_interviewer_names, "can_change": portal.now < deadline,
        "deadline": fmt_when(deadline, portal.zone, now=portal.now),
        "cutoff_hours": sr.plan.reschedule_cutoff_hours, "zone_title": zone_title(str(portal.zone)),
    })


@require_GET
@portal_response()
@with_portal
def booked_ics(request: HttpRequest, portal: Portal) -> HttpResponse:
    """The booking as an ICS file for the candidate's calendar (the same UID as the emailed invitation, so
    importing both leaves one entry)."""
    live = live_interview(portal.request)
    if live is None:
        return _not_found(request)
    response = HttpResponse(candidate_ics(interview=live, method="PUBLISH", stamp=portal.now),
                            content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="interview.ics"'
    return response


@require_GET
@portal_response()
@with_portal
def reschedule(request: HttpRequest, portal: Portal) -> HttpResponse:
    live = live_interview(portal.request)
    if live is None:
        return _to("schedule")
    if not _changes_open(portal, live):
        return _cutoff(request, portal)
    return _schedule_page(request, portal, live=live)


@require_http_methods(["GET", "POST"])
@portal_response(booking=True)
@with_portal
def cancel(request: HttpRequest, portal: Portal) -> HttpResponse:
    sr = portal.request
    live = live_interview(sr)
    if live is None:
        return _to("schedule")
    if not _changes_open(portal, live):
        return _cutoff(request, portal)
    form = CancelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            interview_cancel(request=sr, by="candidate", reason=form.cleaned_data["reason"])
        except ChangesClosed:
            return _cutoff(request, portal)
        except NotBookable:
            return _closed(request)
        request.session[CANCELLED_BY_YOU] = True
        return _to("cancelled")
    return _page(request, "cancel.html", {
        "form": form, "role": sr.plan.requisition.title, "when": fmt_when(live.start, portal.zone, now=portal.now),
    })


@require_GET
@portal_response()
@with_portal
def cancelled(request: HttpRequest, portal: Portal) -> HttpResponse:
    return _to("schedule")  # a cancelled request is answered by with_portal


# ---------------------------------------------------------------------------------------------------------------
# The time zone, and times the candidate proposes


@require_POST
@portal_response()
@with_portal
def timezone(request: HttpRequest, portal: Portal) -> HttpResponse:
    form = TimezoneForm(request.POST)
    if not form.is_valid():
        return _notice(request, "Unknown time zone", "Please choose a time zone from the list.", status=400,
                       link=("Back to the times", reverse("portal:schedule")))
    try:
        candidate_timezone_set(request=portal.request, zone=form.cleaned_data["zone"])
    except ValueError:
        return _notice(request, "Unknown time zone", "Please choose a time zone from the list.", status=400,
                       link=("Back to the times", reverse("portal:schedule")))
    target = form.cleaned_data["next"]
    if not (target.startswith("/schedule/") and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure())):
        target = reverse("portal:schedule")
    return SeeOther(target)


@require_http_methods(["GET", "POST"])
@portal_response(booking=True)
@with_portal
def windows(request: HttpRequest, portal: Portal) -> HttpResponse:
    form = WindowsForm(request.POST if request.method == "POST" else None, zone=portal.zone, now=portal.now)
    if request.method == "POST" and form.is_valid():
        try:
            proposed_windows_add(request=portal.request, windows=form.windows)
        except InvalidWindows as e:
            form.service_error(str(e.extra.get("field", "")), e.message)
        except NotBookable:
            return _closed(request)
        else:
            return _to("windows_thanks")
    return _page(request, "windows.html", {
        "form": form, "rows": form.rows(), "errors": form.summary() if form.is_bound else [],
        "zone_title": zone_title(str(portal.zone)), "zone_abbr": zone_abbr(portal.now, portal.zone),
        "role": portal.request.plan.requisition.title,
    }, status=400 if form.is_bound else 200)


@require_GET
@portal_response()
@with_portal
def windows_thanks(request: HttpRequest, portal: Portal) -> HttpResponse:
    proposed = ProposedWindow.objects.filter(request=portal.request).order_by("start")
    return _page(request, "windows_thanks.html", {
        "proposed": [f"{fmt_day(w.start, portal.zone, now=portal.now)}, {fmt_span(w.start, w.end, portal.zone)}"
                     for w in proposed]})
