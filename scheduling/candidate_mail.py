"""Email to candidates: the scheduling link, and the confirmation, reschedule and cancellation of a booking.

The link email goes out at once (`link_message`, sent by `scheduling.links.link_send`): it carries the raw
token, which is stored nowhere, so it cannot wait in the outbox. The other three go through the outbox
(kind `mail.candidate`, payload ids only) so that an SMTP outage delays them instead of losing them; each
carries an ICS for the whole loop, addressed to the candidate:
- UID `loopwise-request-<request id>@<host>`, the same for every revision of the request's booking, so a
  reschedule moves the entry in the candidate's calendar instead of adding a second one;
- SEQUENCE `revision - 1` for REQUEST (0 for the first booking), `revision` for CANCEL (one more than the
  last REQUEST), as RFC 5546 expects for updates of one event.

Times are written in the candidate's zone: the request's (chosen on the portal), else the candidate's,
else UTC. Sender and reply-to come from OrganisationSettings. Templates: templates/emails/candidate_*.
"""

from __future__ import annotations

import datetime as dt
import smtplib
import zoneinfo
from email.mime.text import MIMEText
from email.utils import formataddr
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from integrations.calendars.ics import IcsEvent, ics_document
from scheduling import clock
from scheduling.errors import PermanentError
from scheduling.models import (
    InterviewSession,
    OrganisationSettings,
    OutboxItem,
    ScheduledInterview,
    SchedulingRequest,
    SessionTemplate,
)
from scheduling.work import outbox_enqueue

__all__ = ["CANDIDATE_MAIL", "candidate_zone", "format_local", "interview_schedule", "link_message",
           "candidate_mail_key", "candidate_mail_enqueue", "candidate_ics", "send_candidate_email", "sender",
           "ics_part", "mail_host"]

CANDIDATE_MAIL = "mail.candidate"
WHATS = ("confirmation", "reschedule", "cancellation")


# ---------------------------------------------------------------------------------------------------------------
# Shared pieces


def candidate_zone(request: SchedulingRequest) -> zoneinfo.ZoneInfo:
    for name in (request.candidate_timezone, request.application.candidate.timezone):
        if name:
            try:
                return zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return zoneinfo.ZoneInfo("UTC")


def format_local(instant: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """'Thursday 3 December 2026, 19:30' in `zone` (day without a leading zero on every platform)."""
    local = instant.astimezone(zone)
    return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M}"


def sender(org: OrganisationSettings) -> tuple[str, list[str]]:
    """(From header, Reply-To list) for candidate-facing email."""
    return formataddr((org.company_name, org.sender_email)), [org.reply_to_email] if org.reply_to_email else []


def mail_host() -> str:
    return urlsplit(settings.PUBLIC_BASE_URL).hostname or "loopwise.localhost"


def ics_part(ics: bytes, *, method: str, filename: str = "invite.ics") -> MIMEText:
    """A text/calendar attachment with its METHOD parameter, as calendar clients look for it."""
    part = MIMEText(ics.decode("utf-8"), "calendar", "utf-8")
    part.set_param("method", method)
    part.add_header("Content-Disposition", "attachment", filename=filename)
    return part


def _parse(instant: str) -> dt.datetime:
    return dt.datetime.fromisoformat(instant.replace("Z", "+00:00"))


def interview_schedule(interview: ScheduledInterview, *, show_names: bool) -> list[dict]:
    """The loop as the candidate sees it, in running order, breaks included (from the booked option):
    `{"position", "name", "start", "end" (aware, UTC), "is_break", "people": [{"first_name", "title", "part"}]
    (empty unless `show_names`), "room", "video_link"}`."""
    sessions = {s.position: s for s in InterviewSession.objects.filter(interview=interview)
                .select_related("room").prefetch_related("participants__interviewer")}
    planned = [s for s in (interview.option or {}).get("sessions") or [] if isinstance(s, dict)]
    if not planned:  # an interview booked without an option (e.g. by hand): its sessions alone
        planned = [{"id": "", "start": s.start.isoformat(), "end": s.end.isoformat()} for s in sessions.values()]
        sessions = {i: s for i, s in enumerate(sorted(sessions.values(), key=lambda s: s.start))}
    template_ids = [int(s["id"][1:]) for s in planned if str(s.get("id", ""))[1:].isdigit()]
    names = dict(SessionTemplate.objects.filter(pk__in=template_ids).values_list("pk", "name"))
    rows = []
    for position, opt in enumerate(planned):
        session = sessions.get(position)
        if session is None:
            template_id = str(opt.get("id", ""))[1:]
            rows.append({"position": position, "name": names.get(int(template_id), "Break")
                         if template_id.isdigit() else "Break",
                         "start": _parse(opt["start"]), "end": _parse(opt["end"]), "is_break": True, "people": [],
                         "room": "", "video_link": ""})
            continue
        people = []
        if show_names:
            people = [{"first_name": p.interviewer.first_name, "title": p.interviewer.title,
                       "part": p.get_part_display()}
                      for p in sorted(session.participants.all(), key=lambda p: (p.part != "interviewer",
                                                                                   p.interviewer.name))]
        rows.append({"position": position, "name": session.name, "start": session.start, "end": session.end,
                     "is_break": False, "people": people, "room": session.room.name if session.room else "",
                     "video_link": interview.video_link})
    return rows


def _context(request: SchedulingRequest, org: OrganisationSettings) -> dict:
    zone = candidate_zone(request)
    return {"company": org.company_name, "logo_url": org.logo_url, "support_contact": org.support_contact,
            "reply_to": org.reply_to_email, "first_name": request.application.candidate.first_name,
            "role": request.plan.requisition.title, "zone": str(zone)}


def _message(*, template: str, subject: str, context: dict, to: str, org: OrganisationSettings
             ) -> EmailMultiAlternatives:
    from_email, reply_to = sender(org)
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    msg = EmailMultiAlternatives(subject=subject, body=text, from_email=from_email, to=[to], reply_to=reply_to)
    msg.attach_alternative(html, "text/html")
    return msg


# ---------------------------------------------------------------------------------------------------------------
# The link


def link_message(*, request: SchedulingRequest, url: str, expires_at: dt.datetime) -> EmailMultiAlternatives:
    """The email that hands the candidate their portal link."""
    org = OrganisationSettings.load()
    context = _context(request, org)
    zone = candidate_zone(request)
    plan_sessions = list(SessionTemplate.objects.filter(plan=request.plan).order_by("position", "id"))
    context.update({"url": url, "expires": format_local(expires_at, zone),
                    "sessions": [{"name": s.name, "minutes": s.duration_minutes, "is_break": s.is_break}
                                 for s in plan_sessions]})
    subject = f"{org.company_name}: choose a time for your {context['role']} interview"
    return _message(template="candidate_link", subject=subject, context=context,
                    to=request.application.candidate.email, org=org)


# ---------------------------------------------------------------------------------------------------------------
# Booking emails, through the outbox


def candidate_mail_key(interview: ScheduledInterview, what: str) -> str:
    return f"mail.candidate:{interview.pk}:{what}"


def candidate_mail_enqueue(*, interview: ScheduledInterview, what: str, not_before: dt.datetime | None = None
                           ) -> OutboxItem:
    """Queue the candidate's `what` email about `interview` (inside the booking's transaction). `not_before`
    holds it back (the calendar write releases it early, once the video link is known)."""
    if what not in WHATS:
        raise ValueError(f"what: {what!r} is not one of {WHATS}")
    item = outbox_enqueue(kind=CANDIDATE_MAIL, key=candidate_mail_key(interview, what),
                          payload={"request_id": interview.request_id, "interview_id": interview.pk, "what": what})
    if not_before is not None:
        OutboxItem.objects.filter(pk=item.pk, attempts=0).update(next_attempt_at=not_before)
    return item


def candidate_ics(*, interview: ScheduledInterview, method: str, stamp: dt.datetime) -> bytes:
    """The candidate's ICS for the whole loop (see the module docstring for UID and SEQUENCE)."""
    request = interview.request
    org = OrganisationSettings.load()
    rows = interview_schedule(interview, show_names=request.plan.show_interviewer_names)
    lines = [f"{r['name']}: {r['start']:%H:%M}-{r['end']:%H:%M} UTC" for r in rows]
    rooms = sorted({r["room"] for r in rows if r["room"]})
    description = "\n".join(lines + ([f"Video: {interview.video_link}"] if interview.video_link else []))
    event = IcsEvent(uid=f"loopwise-request-{request.pk}@{mail_host()}",
                     sequence=interview.revision if method == "CANCEL" else interview.revision - 1,
                     summary=f"Interview with {org.company_name}: {request.plan.requisition.title}",
                     start=interview.start, end=interview.end, organizer_email=org.sender_email,
                     organizer_name=org.company_name, description=description,
                     location=interview.video_link or ", ".join(rooms), url=interview.video_link)
    candidate = request.application.candidate
    return ics_document([event], attendee_email=candidate.email, attendee_name=str(candidate), method=method,
                        stamp=stamp)


_SUBJECTS = {"confirmation": "{company}: your {role} interview is booked",
             "reschedule": "{company}: your {role} interview has moved",
             "cancellation": "{company}: your {role} interview is cancelled"}


def booking_message(*, interview: ScheduledInterview, what: str) -> EmailMultiAlternatives:
    request = interview.request
    org = OrganisationSettings.load()
    zone = candidate_zone(request)
    context = _context(request, org)
    rows = interview_schedule(interview, show_names=request.plan.show_interviewer_names)
    for r in rows:
        r["when"] = f"{format_local(r['start'], zone)}-{r['end'].astimezone(zone):%H:%M}"
    link = request.links.filter(revoked_at__isnull=True).order_by("-created_at").first()
    context.update({"schedule": rows, "starts": format_local(interview.start, zone),
                    "video_link": interview.video_link, "link_sent_at": request.link_sent_at,
                    "link_sent": format_local(request.link_sent_at, zone) if request.link_sent_at else "",
                    "link_works_until": format_local(link.expires_at, zone) if link else "",
                    "cutoff_hours": request.plan.reschedule_cutoff_hours})
    method = "CANCEL" if what == "cancellation" else "REQUEST"
    msg = _message(template=f"candidate_{what}", subject=_SUBJECTS[what].format(**context), context=context,
                   to=request.application.candidate.email, org=org)
    msg.attach(ics_part(candidate_ics(interview=interview, method=method, stamp=clock.now()), method=method))
    return msg


def send_candidate_email(item: OutboxItem) -> str:
    """Outbox handler for `mail.candidate`. A confirmation or reschedule email about an interview that is no
    longer live is skipped (the later email says what happened); so is any email to an erased candidate."""
    what = item.payload.get("what")
    interview = (ScheduledInterview.objects
                 .select_related("request__plan__requisition", "request__application__candidate")
                 .filter(pk=item.payload.get("interview_id")).first())
    if interview is None or what not in WHATS:
        raise PermanentError(f"outbox #{item.pk}: no interview #{item.payload.get('interview_id')} or bad kind")
    candidate = interview.request.application.candidate
    if candidate.erased_at is not None:
        return "skipped: the candidate was erased"
    if what != "cancellation" and interview.state != ScheduledInterview.State.ACTIVE:
        return f"skipped: interview #{interview.pk} is {interview.state}"
    try:
        booking_message(interview=interview, what=what).send()
    except smtplib.SMTPRecipientsRefused as e:
        raise PermanentError(f"the mail server refused the candidate's address ({type(e).__name__})")
    return f"{what} email sent for interview #{interview.pk}"
