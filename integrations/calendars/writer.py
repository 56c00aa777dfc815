"""Calendar writes of booked interviews, run from the outbox (`scheduling.work`): the events of a loop on the
organiser calendar, their cancellation, and ICS invitations by email for interviewers we cannot write to.

The event model (issue #4): one event per session on the organiser calendar of the scheduling connection
(`OrganisationSettings.scheduling_connection`, else the first active connection with an organiser calendar),
chosen when the interview is booked and carried in the outbox payload, so that a later change of setting does
not send a cancellation to another calendar. Attendees are the session's interviewers (their calendar id, an
email address, else their email) and its room (`is_room`); the candidate is never one (their ICS comes by email,
`scheduling.candidate_mail`). One video meeting per loop: the first session asks for it
(`Conference(request_id=...)`), the others reuse `conference.raw` from the first answer; the join link is kept
on the ScheduledInterview, event ids and iCalUIDs on each InterviewSession.

Keys: `lw:<interview id>:<session position>:<revision>`. The adapter derives the provider's event id from
the key, so a retried write lands on the same event, and a reschedule (a new interview, a new revision) never
reuses an id a cancelled event still holds.

Outbox kinds (handlers registered in `scheduling.work.OUTBOX_HANDLERS`):
- `calendar.write_interview` {interview_id, request_id, connection_id}: upsert every session's event. An
  interview that is no longer live when the item runs is skipped. On success, the emails that wait for the
  video link (the candidate's confirmation, outside interviewers' invitations) are released at once.
- `calendar.cancel_interview` {interview_id, request_id, connection_id}: delete every session's event. A write
  of the same interview that has not run yet is settled first (marked done, skipped), so it cannot recreate
  events afterwards; one that is running makes the cancel wait for a retry.
- `mail.interviewer_invite` {interview_id, request_id, interviewer_id, method}: an ICS by email for an
  interviewer outside the organisation (working hours only, no calendar). UID `loopwise-r<request>-i<person>@host`
  is stable across reschedules (a person sits at most one session of a loop); SEQUENCE is `revision - 1` for
  REQUEST and `revision` for CANCEL, so each message supersedes the previous one.

Failures: a transient ProviderError is raised as it is (the outbox retries with backoff); a permanent one marks
the connection (or the calendar it names) unhealthy and raises PermanentError, so the item goes dead and the
coordinator hears about it from the outbox.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import zoneinfo
from collections.abc import Callable
from typing import TypeVar

from django.core.mail import EmailMultiAlternatives
from django.db.models import Prefetch
from django_q.tasks import async_task

from integrations.calendars import health
from integrations.calendars.base import Attendee, Conference, EventSpec, provider_for
from integrations.calendars.ics import IcsEvent, ics_document
from integrations.errors import ProviderError
from integrations.models import Calendar, CalendarConnection
from scheduling import clock
from scheduling.candidate_mail import CANDIDATE_MAIL, format_local, ics_part, mail_host, sender
from scheduling.errors import PermanentError
from scheduling.models import (
    Interviewer,
    InterviewSession,
    OrganisationSettings,
    OutboxItem,
    ScheduledInterview,
    SessionParticipant,
    WorkState,
)
from scheduling.work import outbox_enqueue

__all__ = ["WRITE", "CANCEL", "INVITE", "VIDEO_WAIT", "organiser_connection", "event_key", "write_key",
           "cancel_key", "invite_key", "invite_uid", "is_external", "calendar_write_enqueue",
           "calendar_cancel_enqueue", "invites_enqueue", "write_interview", "cancel_interview",
           "send_interviewer_invite"]

log = logging.getLogger(__name__)
T = TypeVar("T")

WRITE = "calendar.write_interview"
CANCEL = "calendar.cancel_interview"
INVITE = "mail.interviewer_invite"
# Emails that show the video link wait this long for the calendar write before going without it.
VIDEO_WAIT = dt.timedelta(minutes=2)
# A cancel may wait for a running write; give it more attempts than the write has.
CANCEL_ATTEMPTS = 12


# ---------------------------------------------------------------------------------------------------------------
# Names and keys


def organiser_connection() -> CalendarConnection | None:
    """The connection whose organiser calendar holds interview events, or None (no events are written)."""
    chosen = OrganisationSettings.load().scheduling_connection
    if chosen is not None:
        return chosen if chosen.active and chosen.organiser_calendar else None
    return (CalendarConnection.objects.filter(active=True).exclude(organiser_calendar="").order_by("pk").first())


def event_key(interview: ScheduledInterview, session: InterviewSession) -> str:
    return f"lw:{interview.pk}:{session.position}:{interview.revision}"


def write_key(interview: ScheduledInterview) -> str:
    return f"calendar.write:{interview.pk}:{interview.revision}"


def cancel_key(interview: ScheduledInterview) -> str:
    return f"calendar.cancel:{interview.pk}:{interview.revision}"


def invite_key(interview: ScheduledInterview, interviewer_id: int, method: str) -> str:
    return f"mail.invite:{interview.pk}:{interviewer_id}:{method}"


def invite_uid(request_id: int, interviewer_id: int) -> str:
    return f"loopwise-r{request_id}-i{interviewer_id}@{mail_host()}"


def is_external(interviewer: Interviewer) -> bool:
    """Someone we cannot put on an event: availability from working hours alone, and no calendar."""
    return interviewer.availability_source == Interviewer.Source.WORKING_HOURS and interviewer.calendar_id is None


# ---------------------------------------------------------------------------------------------------------------
# Enqueueing (inside the booking's transaction)


def calendar_write_enqueue(*, interview: ScheduledInterview, connection: CalendarConnection) -> OutboxItem:
    return outbox_enqueue(kind=WRITE, key=write_key(interview), target=f"calendar:{connection.pk}",
                          payload={"interview_id": interview.pk, "request_id": interview.request_id,
                                   "connection_id": connection.pk})


def calendar_cancel_enqueue(*, interview: ScheduledInterview) -> OutboxItem | None:
    """Queue the deletion of `interview`'s events, on the connection they were written to; None when no write
    was ever queued for it (nothing to delete)."""
    write = OutboxItem.objects.filter(key=write_key(interview)).first()
    if write is None:
        return None
    return outbox_enqueue(kind=CANCEL, key=cancel_key(interview), target=write.target,
                          max_attempts=CANCEL_ATTEMPTS,
                          payload={"interview_id": interview.pk, "request_id": interview.request_id,
                                   "connection_id": write.payload.get("connection_id")})


def _externals(interview: ScheduledInterview) -> set[int]:
    return {p.interviewer_id for p in SessionParticipant.objects.filter(session__interview=interview)
            .select_related("interviewer") if is_external(p.interviewer)}


def invites_enqueue(*, interview: ScheduledInterview, previous: ScheduledInterview | None = None,
                    cancelled: bool = False, not_before: dt.datetime | None = None) -> list[OutboxItem]:
    """ICS emails for outside interviewers: REQUEST to those of `interview` (or CANCEL when `cancelled`), and
    CANCEL to those of `previous` (a superseded booking) who sit nothing in the new one."""
    items = []
    now_people = _externals(interview)
    method = "CANCEL" if cancelled else "REQUEST"
    for pk in sorted(now_people):
        items.append(_invite(interview, pk, method))
    if previous is not None:
        for pk in sorted(_externals(previous) - now_people):
            items.append(_invite(previous, pk, "CANCEL"))
    if not_before is not None and method == "REQUEST":
        OutboxItem.objects.filter(pk__in=[i.pk for i in items if i.payload["method"] == "REQUEST"],
                                  attempts=0).update(next_attempt_at=not_before)
    return items


def _invite(interview: ScheduledInterview, interviewer_id: int, method: str) -> OutboxItem:
    return outbox_enqueue(kind=INVITE, key=invite_key(interview, interviewer_id, method),
                          payload={"interview_id": interview.pk, "request_id": interview.request_id,
                                   "interviewer_id": interviewer_id, "method": method})


# ---------------------------------------------------------------------------------------------------------------
# Handlers


def _interview(item: OutboxItem) -> ScheduledInterview:
    interview = (ScheduledInterview.objects
                 .select_related("request__plan__requisition", "request__application__candidate")
                 .filter(pk=item.payload.get("interview_id")).first())
    if interview is None:
        raise PermanentError(f"outbox #{item.pk}: interview #{item.payload.get('interview_id')} does not exist")
    return interview


def _connection(item: OutboxItem) -> CalendarConnection:
    connection = CalendarConnection.objects.filter(pk=item.payload.get("connection_id")).first()
    if connection is None or not connection.active or not connection.organiser_calendar:
        raise PermanentError(f"outbox #{item.pk}: calendar connection #{item.payload.get('connection_id')} is "
                             "gone, inactive, or has no organiser calendar")
    return connection


def _call(connection: CalendarConnection, fn: Callable[[], T]) -> T:
    """Run one provider call; a permanent failure marks health and becomes PermanentError."""
    try:
        return fn()
    except ProviderError as e:
        if not e.permanent:
            raise
        if e.scope == "connection":
            health.mark_failure(connection, error=e.message, permanent=True)
        elif e.scope == "calendar" and e.calendar_id:
            calendar = Calendar.objects.filter(connection=connection, external_id=e.calendar_id).first()
            if calendar is not None:
                health.mark_failure(calendar, error=e.message, permanent=True)
        raise PermanentError(f"the calendar refused the write: {e.message}", {"scope": e.scope, "reason": e.reason})


def _sessions(interview: ScheduledInterview) -> list[InterviewSession]:
    people = SessionParticipant.objects.select_related("interviewer__calendar").order_by("interviewer__name")
    return list(InterviewSession.objects.filter(interview=interview).select_related("room__calendar")
                .prefetch_related(Prefetch("participants", queryset=people)).order_by("position"))


def _attendees(session: InterviewSession) -> tuple[Attendee, ...]:
    out = []
    for p in session.participants.all():
        person = p.interviewer
        if is_external(person):
            continue  # invited by email (`mail.interviewer_invite`)
        calendar_id = person.calendar.external_id if person.calendar else ""
        out.append(Attendee(email=calendar_id if "@" in calendar_id else person.email, name=person.name,
                            optional=p.part == SessionParticipant.Part.SHADOW))
    room = session.room
    if room is not None and room.calendar is not None:
        out.append(Attendee(email=room.calendar.external_id, name=room.name, is_room=True))
    return tuple(out)


def _spec(interview: ScheduledInterview, session: InterviewSession, connection: CalendarConnection,
          conference: Conference | None) -> EventSpec:
    request = interview.request
    candidate = request.application.candidate
    role = request.plan.requisition.title
    people = [p.interviewer for p in session.participants.all()]
    panel = ", ".join(f"{p.name} ({p.title})" if p.title else p.name for p in people)
    description = (f"{candidate} interviews for {role}.\nSession: {session.name}\nPanel: {panel or 'none'}\n"
                   f"Booked by Loopwise, request #{request.pk}.")
    return EventSpec(key=event_key(interview, session), calendar_id=connection.organiser_calendar,
                     title=f"Interview: {candidate}, {session.name} ({role})", start=session.start,
                     end=session.end, timezone=people[0].timezone if people else "UTC", description=description,
                     location=session.room.name if session.room else "", attendees=_attendees(session),
                     conference=conference)


def write_interview(item: OutboxItem) -> str:
    """Outbox handler for `calendar.write_interview` (see the module docstring)."""
    interview = _interview(item)
    if interview.state != ScheduledInterview.State.ACTIVE:
        return f"skipped: interview #{interview.pk} is {interview.state}"
    connection = _connection(item)
    provider = provider_for(connection)
    sessions = _sessions(interview)
    shared: Conference | None = None
    for i, session in enumerate(sessions):
        conference = Conference(request_id=f"lw-{interview.pk}-{interview.revision}") if i == 0 else shared
        spec = _spec(interview, session, connection, conference)
        ref = _call(connection, lambda spec=spec: provider.upsert_event(spec))
        if i == 0:
            if ref.conference is not None:
                shared = Conference(join_url=ref.conference.join_url, conference_id=ref.conference.conference_id,
                                    raw=ref.conference.raw)
            video = ref.join_url or (ref.conference.join_url if ref.conference else "")
            ScheduledInterview.objects.filter(pk=interview.pk).update(
                video_link=video[:200], conference_id=ref.conference.conference_id if ref.conference else "")
        InterviewSession.objects.filter(pk=session.pk).update(calendar_event_id=ref.event_id, ical_uid=ref.ical_uid)
    released = _release_waiting_mail(interview)
    return f"{len(sessions)} events written for interview #{interview.pk}, {released} emails released"


def _release_waiting_mail(interview: ScheduledInterview) -> int:
    """Emails and the ATS note held back for the video link (see VIDEO_WAIT) may go now."""
    waiting = list(OutboxItem.objects.filter(kind__in=[CANDIDATE_MAIL, INVITE, "ats.add_note"],
                                             state=WorkState.PENDING,
                                             payload__interview_id=interview.pk, next_attempt_at__gt=clock.now())
                   .values_list("pk", flat=True))
    OutboxItem.objects.filter(pk__in=waiting, state=WorkState.PENDING).update(next_attempt_at=clock.now())
    for pk in waiting:
        try:
            async_task("scheduling.tasks.deliver_outbox_item", pk, group="outbox", task_name=f"outbox #{pk}")
        except Exception as e:  # noqa: BLE001 - a broker hiccup only delays the email: the sweep queues it
            log.warning("could not queue outbox #%s (the sweep will): %s", pk, type(e).__name__)
    return len(waiting)


def cancel_interview(item: OutboxItem) -> str:
    """Outbox handler for `calendar.cancel_interview` (see the module docstring)."""
    interview = _interview(item)
    write = OutboxItem.objects.filter(key=write_key(interview)).first()
    if write is not None:
        OutboxItem.objects.filter(pk=write.pk, state__in=[WorkState.PENDING, WorkState.FAILED]).update(
            state=WorkState.DONE, done_at=clock.now(),
            last_error=f"skipped: interview #{interview.pk} was moved or cancelled before its events were written")
        if OutboxItem.objects.filter(pk=write.pk, state=WorkState.RUNNING).exists():
            raise RuntimeError(f"the calendar write of interview #{interview.pk} is running; cancelling after it")
    connection = _connection(item)
    provider = provider_for(connection)
    sessions = list(InterviewSession.objects.filter(interview=interview).order_by("position"))
    for session in sessions:
        key = event_key(interview, session)
        _call(connection, lambda key=key: provider.delete_event(connection.organiser_calendar, key))
    return f"{len(sessions)} events cancelled for interview #{interview.pk}"


def send_interviewer_invite(item: OutboxItem) -> str:
    """Outbox handler for `mail.interviewer_invite` (see the module docstring)."""
    interview = _interview(item)
    method = item.payload.get("method")
    if method not in ("REQUEST", "CANCEL"):
        raise PermanentError(f"outbox #{item.pk}: method {method!r} is not REQUEST or CANCEL")
    if method == "REQUEST" and interview.state != ScheduledInterview.State.ACTIVE:
        return f"skipped: interview #{interview.pk} is {interview.state}"
    part = (SessionParticipant.objects.select_related("session__room", "interviewer")
            .filter(session__interview=interview, interviewer_id=item.payload.get("interviewer_id")).first())
    if part is None:
        raise PermanentError(f"outbox #{item.pk}: interviewer #{item.payload.get('interviewer_id')} sits no "
                             f"session of interview #{interview.pk}")
    session, person, request = part.session, part.interviewer, interview.request
    org = OrganisationSettings.load()
    role = request.plan.requisition.title
    candidate = request.application.candidate
    sequence = interview.revision if method == "CANCEL" else interview.revision - 1
    summary = f"Interview: {candidate}, {session.name} ({role})"
    where = interview.video_link or (session.room.name if session.room else "")
    event = IcsEvent(uid=invite_uid(request.pk, person.pk), sequence=sequence, summary=summary, start=session.start,
                     end=session.end, organizer_email=org.sender_email, organizer_name=org.company_name,
                     description=f"{candidate} interviews for {role} at {org.company_name}.", location=where,
                     url=interview.video_link)
    ics = ics_document([event], attendee_email=person.email, attendee_name=person.name, method=method,
                       stamp=clock.now())
    when = format_local(session.start, _zone(person))
    if method == "CANCEL":
        subject = f"Cancelled: {summary}"
        text = f"Hello {person.first_name},\n\nThe interview below is cancelled:\n\n{summary}\n{when}\n"
    else:
        subject = f"Invitation: {summary}"
        text = (f"Hello {person.first_name},\n\nYou are invited to interview {candidate} for {role}:\n\n"
                f"{session.name}\n{when} ({person.timezone})\n" + (f"Join: {where}\n" if where else ""))
    from_email, reply_to = sender(org)
    msg = EmailMultiAlternatives(subject=subject, body=text + f"\n{org.company_name}\n", from_email=from_email,
                                 to=[person.email], reply_to=reply_to)
    msg.attach(ics_part(ics, method=method))
    try:
        msg.send()
    except smtplib.SMTPRecipientsRefused as e:
        raise PermanentError(f"the mail server refused interviewer #{person.pk}'s address ({type(e).__name__})")
    InterviewSession.objects.filter(pk=session.pk).update(sequence=sequence)
    return f"{method} sent to interviewer #{person.pk} for interview #{interview.pk}"


def _zone(person: Interviewer) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(person.timezone)
