"""From Loopwise back into the ATS: a note with the schedule, and a move to the plan's next stage, through the
outbox (`scheduling.work`), for applications that came from an ATS connection.

What each provider gets (a note or its nearest equivalent, and a stage move) is its row of the write-back matrix,
`integrations.ats.matrix`: an event queues the outbox kinds of the connection's row (`Row.kinds_on`), and the
handlers name what they wrote in the row's words (an iCIMS "configured field", a Jobvite "appended comment").

Enqueued inside the booking's transaction (`scheduling.booking`): booked, rescheduled and cancelled each add a
note; a first booking also moves the application when the plan has a `next_stage`. The two are separate outbox
items, so a worker killed between them loses neither, and each is written once:
- keys: `ats.note:<interview id>:<revision>:<what>` and `ats.move:<interview id>:<revision>` (the outbox queues a
  key once); the note's key is also the adapter's idempotency key, carried in the note's last line, so that a
  retry after a timeout whose write was applied, or a new worker after a crash, finds the note instead of
  writing another (`AtsProvider.add_note`);
- the move is guarded by the stage the plan maps (`from_stage_id`); the adapter re-reads the application before
  each try, so a retry after an applied move finds it done. Someone moving the application meanwhile makes the
  item dead (the coordinator hears of it through the outbox): Loopwise does not fight a recruiter.
Payloads hold ids only; the note's text is composed when it is written, from the interview as booked.

A booked note waits for the video link as the candidate's confirmation does (`not_before`, VIDEO_WAIT), so that
it can carry it; if the calendar write has not produced one by then, the note says the link follows in the
calendar invitation.

Each write's HTTP calls wait at most `settings.ATS_WRITE_TIMEOUT_SECONDS` (default: the adapters' own, 15 s;
tests lower it to stage a write that times out after the provider applied it).

Failures: transient ones are raised (the outbox retries with backoff, up to the item's `max_attempts`, then it
is dead); permanent ones mark the component's health and raise PermanentError (dead at once, and the coordinator
is told). A connection switched off in the meantime skips the write, and says so.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

from integrations.ats import health
from integrations.ats.base import AtsProvider, component_names, provider_for
from integrations.ats.matrix import MOVE, NOTE, row_for, write_for
from integrations.errors import ProviderError
from integrations.http import DEFAULT_TIMEOUT
from integrations.models import AtsConnection
from scheduling.candidate_mail import candidate_zone
from scheduling.errors import PermanentError
from scheduling.models import (
    AtsStage,
    InterviewSession,
    OutboxItem,
    ScheduledInterview,
    SchedulingRequest,
    SessionParticipant,
)
from scheduling.work import outbox_enqueue

__all__ = ["NOTE", "MOVE", "WHATS", "note_key", "move_key", "ats_writeback_enqueue", "note_text", "add_note",
           "move_stage"]

T = TypeVar("T")
WHATS = ("booked", "rescheduled", "cancelled")


def note_key(interview: ScheduledInterview, what: str) -> str:
    return f"ats.note:{interview.pk}:{interview.revision}:{what}"


def move_key(interview: ScheduledInterview) -> str:
    return f"ats.move:{interview.pk}:{interview.revision}"


# ---------------------------------------------------------------------------------------------------------------
# Enqueueing (inside the booking's or the cancellation's transaction)


def ats_writeback_enqueue(*, interview: ScheduledInterview, what: str, not_before: dt.datetime | None = None
                          ) -> list[OutboxItem]:
    """Queue the note (and, for a first booking, the stage move) that tell the ATS about `interview`; nothing
    for an application that did not come from an ATS. `not_before` holds the booked note back (for the video
    link). Returns the items queued (or found already queued)."""
    if what not in WHATS:
        raise ValueError(f"what: {what!r} is not one of {WHATS}")
    request = (SchedulingRequest.objects.select_related("application__ats_connection", "plan")
               .get(pk=interview.request_id))
    application = request.application
    if application.ats_connection_id is None or not application.external_id:
        return []
    row = row_for(application.ats_connection.provider)
    kinds = row.kinds_on(what) if row else ()
    target = f"ats:{application.ats_connection_id}"
    ids = {"interview_id": interview.pk, "request_id": request.pk, "application_id": application.pk,
           "connection_id": application.ats_connection_id}
    items = []
    if NOTE in kinds:
        note = outbox_enqueue(kind=NOTE, key=note_key(interview, what), target=target,
                              payload={**ids, "what": what})
        if not_before is not None and what != "cancelled":
            OutboxItem.objects.filter(pk=note.pk, attempts=0).update(next_attempt_at=not_before)
        items.append(note)
    plan = request.plan
    if MOVE in kinds and plan.stage_id and plan.next_stage_id and plan.next_stage_id != plan.stage_id:
        items.append(outbox_enqueue(kind=MOVE, key=move_key(interview), target=target,
                                    payload={**ids, "from_stage_id": plan.stage_id, "to_stage_id": plan.next_stage_id}))
    return items


# ---------------------------------------------------------------------------------------------------------------
# The note's text


def _local(instant: dt.datetime, zone: zoneinfo.ZoneInfo, *, day: bool = True) -> str:
    local = instant.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y} {local:%H:%M}" if day else f"{local:%H:%M}"


def _span(start: dt.datetime, end: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    same_day = start.astimezone(zone).date() == end.astimezone(zone).date()
    return f"{_local(start, zone)}–{_local(end, zone, day=not same_day)} {zone.key}"


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def note_text(interview: ScheduledInterview, what: str) -> str:
    """The note for `what` happened to `interview`: the loop's sessions with their times in the candidate's zone
    and each interviewer's own, the interviewers (names and titles: staff, shown to the hiring team), the room
    and the video link. Never the candidate's contact details."""
    request = interview.request
    plan = request.plan
    zone = candidate_zone(request)
    verb = {"booked": "booked", "rescheduled": "rescheduled", "cancelled": "CANCELLED"}[what]
    lines = [f"Loopwise: interview {verb}: {plan.requisition.title}, {plan.name} (request #{request.pk}, "
             f"revision {interview.revision})",
             f"Candidate's time: {_span(interview.start, interview.end, zone)}"]
    sessions = (InterviewSession.objects.filter(interview=interview).select_related("room").order_by("position")
                .prefetch_related("participants__interviewer"))
    for session in sessions:
        lines.append(f"- {session.name}: {_span(session.start, session.end, zone)} for the candidate"
                     + (f"; room {session.room.name}" if session.room else ""))
        people = sorted(session.participants.all(), key=lambda p: (p.part != SessionParticipant.Part.INTERVIEWER,
                                                                   p.interviewer.name))
        for p in people:
            person = p.interviewer
            role = f", {person.title}" if person.title else ""
            shadow = " (shadow)" if p.part == SessionParticipant.Part.SHADOW else ""
            when = _span(session.start, session.end, _zone(person.timezone))
            lines.append(f"    {person.name}{role}{shadow}: {when}")
    if what == "cancelled":
        lines.append("The interview was cancelled; its calendar events are being removed.")
    elif interview.video_link:
        lines.append(f"Video: {interview.video_link}")
    else:
        lines.append("Video: the link follows in the calendar invitation.")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# Handlers (registered in scheduling.work.OUTBOX_HANDLERS)


def _interview(item: OutboxItem) -> ScheduledInterview:
    interview = (ScheduledInterview.objects
                 .select_related("request__plan__requisition", "request__application__candidate",
                                 "request__application__ats_connection")
                 .filter(pk=item.payload.get("interview_id")).first())
    if interview is None:
        raise PermanentError(f"outbox #{item.pk}: interview #{item.payload.get('interview_id')} does not exist")
    return interview


def _provider(connection: AtsConnection) -> AtsProvider:
    return provider_for(connection, timeout=float(getattr(settings, "ATS_WRITE_TIMEOUT_SECONDS", DEFAULT_TIMEOUT)))


def _call(connection: AtsConnection, fn: Callable[[], T], *, what: str) -> T:
    try:
        result = fn()
    except ProviderError as e:
        health.mark_error(connection=connection, error=e)
        if e.permanent:
            raise PermanentError(f"the ATS refused the {what}: {e.message}",
                                 {"scope": e.scope, "reason": e.reason, "component": e.component})
        raise
    health.mark_success(connection=connection, component="auth")
    health.mark_success(connection=connection, component=component_names(connection)[1])
    return result


def add_note(item: OutboxItem) -> str:
    """Outbox handler for `ats.add_note` {interview_id, request_id, application_id, connection_id, what}."""
    interview = _interview(item)
    application = interview.request.application
    connection = application.ats_connection
    if connection is None or not application.external_id:
        raise PermanentError(f"outbox #{item.pk}: application #{application.pk} is not from an ATS")
    if not connection.active:
        return f"skipped: ATS connection #{connection.pk} is not active"
    if (write := write_for(connection.provider, item.kind)) is None:
        return f"skipped: {connection.provider} gets no {item.kind} (see the write-back matrix)"
    text = note_text(interview, item.payload.get("what", "booked"))
    with _provider(connection) as ats:
        note_id = _call(connection, lambda: ats.add_note(application.external_id, text, key=item.key),
                        what=write.short)
    return f"{write.short} {note_id} on application {application.external_id}"


def move_stage(item: OutboxItem) -> str:
    """Outbox handler for `ats.move_stage` {..., from_stage_id, to_stage_id} (AtsStage ids): only while the
    request is still booked."""
    interview = _interview(item)
    request = interview.request
    application = request.application
    connection = application.ats_connection
    if connection is None or not application.external_id:
        raise PermanentError(f"outbox #{item.pk}: application #{application.pk} is not from an ATS")
    if not connection.active:
        return f"skipped: ATS connection #{connection.pk} is not active"
    if (write := write_for(connection.provider, item.kind)) is None:
        return f"skipped: {connection.provider} gets no {item.kind} (see the write-back matrix)"
    if request.state != SchedulingRequest.State.BOOKED:
        return f"skipped: request #{request.pk} is {request.state}, not booked"
    stages = AtsStage.objects.in_bulk([item.payload.get("from_stage_id"), item.payload.get("to_stage_id")])
    source, target = stages.get(item.payload.get("from_stage_id")), stages.get(item.payload.get("to_stage_id"))
    if source is None or target is None or not source.external_id or not target.external_id:
        raise PermanentError(f"outbox #{item.pk}: the stages to move between are gone or have no ATS id")
    with _provider(connection) as ats:
        _call(connection, lambda: ats.move_stage(application.external_id, from_stage_external_id=source.external_id,
                                                 to_stage_external_id=target.external_id), what=write.short)
    return f"application {application.external_id} moved to stage {target.external_id} ({write.short})"
