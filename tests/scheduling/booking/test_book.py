"""Booking a stored option: the interview and its people are written, the calendar events land in the google fake
once each with one Meet link for the whole loop, the candidate gets a confirmation with an ICS, a retried POST
books once, and a time someone else took answers fresh options instead of an error."""

from __future__ import annotations

import datetime as dt

from scheduling import booking
from scheduling.models import (
    AuditEvent,
    InterviewSession,
    OutboxItem,
    ScheduledInterview,
    SchedulingLink,
    SchedulingRequest,
    SessionParticipant,
    WorkState,
)
from tests.scheduling.booking.support import ALICE, BOB, CAROL, ORGANISER, ROOM, deliver, events, ics, messages

S = SchedulingRequest.State


def _started(world, **kw) -> SchedulingRequest:
    request = world.request(**kw)
    booking.request_start(request=request)
    request.refresh_from_db()
    return request


def test_it_books_the_option_with_its_sessions_people_and_buffers(world):
    request = _started(world)
    option = request.options[0]

    result = booking.interview_book(request=request, option=option)

    interview = result.interview
    assert interview is not None and result.fresh_options is None and not result.retry_later
    request.refresh_from_db()
    assert request.state == S.BOOKED and request.booked_at is not None
    assert interview.option["start"] == option["start"] and interview.revision == 1
    sessions = list(InterviewSession.objects.filter(interview=interview).order_by("position"))
    assert [(s.name, s.position, s.active) for s in sessions] == [("Coding", 0, True), ("System design", 2, True)]
    assert sessions[0].room == world.room and sessions[1].room is None
    for s in sessions:
        for p in SessionParticipant.objects.filter(session=s):
            assert p.busy_start == s.start and p.busy_end == s.end + dt.timedelta(minutes=10)
    carol = world.people["carol"]
    assert SessionParticipant.objects.get(session=sessions[1]).interviewer == carol
    # The link that booked now also works until the interview, to reschedule or cancel.
    link = SchedulingLink.objects.get(request=request, revoked_at__isnull=True)
    assert link.expires_at >= interview.start
    assert AuditEvent.objects.filter(action="interview.booked", object_id=str(interview.pk)).count() == 1


def test_it_writes_one_event_per_session_with_one_meet_link_for_the_loop(world):
    request = _started(world)
    interview = booking.interview_book(request=request, option=request.options[0]).interview

    deliver()

    organiser = events(world.fake)
    assert len(organiser) == 2
    links = {e["hangoutLink"] for e in organiser}
    assert len(links) == 1 and next(iter(links)).startswith("https://meet.google.com/")
    assert len(world.fake.state()["conferences"]) == 1
    coding = next(e for e in organiser if "Coding" in e["summary"])
    attendees = {(a["email"], a.get("resource", False)) for a in coding["attendees"]}
    panel = {ALICE, BOB} & {a for a, _ in attendees}
    assert len(panel) == 1 and (ROOM, True) in attendees
    assert request.application.candidate.email not in {a for a, _ in attendees}
    design = next(e for e in organiser if "System design" in e["summary"])
    assert [a["email"] for a in design["attendees"]] == [CAROL]
    assert len(events(world.fake, CAROL)) == 1 and len(events(world.fake, ROOM)) == 1
    interview.refresh_from_db()
    assert interview.video_link == next(iter(links)) and interview.conference_id
    stored = InterviewSession.objects.filter(interview=interview).order_by("position")
    assert sorted(s.calendar_event_id for s in stored) == sorted(e["id"] for e in organiser)
    assert all(s.ical_uid for s in stored)
    assert not OutboxItem.objects.exclude(state=WorkState.DONE).exists()

    # Running the same write again (a worker killed after writing) changes nothing at the provider.
    write = OutboxItem.objects.get(kind="calendar.write_interview")
    OutboxItem.objects.filter(pk=write.pk).update(state=WorkState.PENDING)
    deliver()
    assert len(events(world.fake)) == 2 and len(world.fake.state()["conferences"]) == 1


def test_it_emails_the_candidate_a_confirmation_with_the_video_link_and_an_ics(world):
    request = _started(world)
    interview = booking.interview_book(request=request, option=request.options[0]).interview

    deliver()

    interview.refresh_from_db()
    confirmation = [m for m in messages(world.mail, request.application.candidate.email)
                    if "is booked" in m["subject"]]
    assert len(confirmation) == 1
    mail = confirmation[0]
    assert interview.video_link in mail["text"] and interview.video_link in mail["html"]
    assert "(Asia/Kolkata)" in mail["text"]
    assert "Alice (Staff Engineer)" in mail["text"] or "Bob (Senior Engineer)" in mail["text"]
    assert "Carol, Engineering Manager" in mail["html"]
    text = ics(mail)
    assert "METHOD:REQUEST" in text and f"UID:loopwise-request-{request.pk}@127.0.0.1" in text
    assert "SEQUENCE:0" in text and request.application.candidate.email in text


def test_it_books_once_when_the_same_option_is_posted_twice(world):
    request = _started(world)
    option = request.options[0]

    first = booking.interview_book(request=request, option=option)
    second = booking.interview_book(request=request, option=dict(option))

    assert second.interview == first.interview and second.fresh_options is None
    assert ScheduledInterview.objects.filter(request=request).count() == 1
    assert OutboxItem.objects.filter(kind="calendar.write_interview").count() == 1
    deliver()
    assert len(events(world.fake)) == 2


def test_it_answers_fresh_options_when_someone_else_took_the_time(world):
    mine, theirs = _started(world), _started(world)
    option = theirs.options[0]
    assert mine.options[0] == option
    booking.interview_book(request=theirs, option=option)

    result = booking.interview_book(request=mine, option=option)

    assert result.interview is None and not result.retry_later
    assert result.fresh_options and option not in result.fresh_options
    assert result.message == booking.MSG_TAKEN
    mine.refresh_from_db()
    assert mine.state == S.AWAITING_CANDIDATE and mine.options == result.fresh_options
    assert not ScheduledInterview.objects.filter(request=mine).exists()
    assert AuditEvent.objects.filter(action="booking.stale", object_id=str(mine.pk)).count() == 1
    # ...and one of the fresh options books.
    assert booking.interview_book(request=mine, option=result.fresh_options[0]).interview is not None


def test_it_refuses_an_option_that_was_not_offered(world):
    request = _started(world)
    forged = dict(request.options[0], start="2026-12-08T03:07:00Z")

    result = booking.interview_book(request=request, option=forged)

    assert result.interview is None and result.fresh_options == request.options
    assert result.message == booking.MSG_CHANGED
    assert not ScheduledInterview.objects.exists()


def test_it_books_from_the_cache_when_the_provider_is_down(world):
    request = _started(world)
    world.fake.add_fault(kind="error", target="/calendar/v3/freeBusy", count=100)

    result = booking.interview_book(request=request, option=request.options[0])

    assert result.interview is not None
    world.connection.refresh_from_db()
    assert world.connection.health == "degraded"  # the refresh did fail


def test_it_asks_to_retry_later_when_the_provider_is_down_and_the_cache_is_old(world, frozen):
    request = _started(world)
    frozen.shift(dt.timedelta(minutes=31))  # FREEBUSY_MAX_AGE is 15 minutes: the cache is older than twice that
    world.fake.add_fault(kind="error", target="/calendar/v3/freeBusy", count=100)

    result = booking.interview_book(request=request, option=request.options[0])

    world.connection.refresh_from_db()
    assert world.connection.health == "degraded"
    assert result.retry_later and result.interview is None and result.fresh_options is None
    assert result.message == booking.MSG_RETRY
    assert not ScheduledInterview.objects.exists() and not OutboxItem.objects.exists()
    request.refresh_from_db()
    assert request.state == S.AWAITING_CANDIDATE
    assert AuditEvent.objects.filter(action="booking.retry_later", object_id=str(request.pk)).count() == 1

    world.fake.clear_faults()
    assert booking.interview_book(request=request, option=request.options[0]).interview is not None


def test_it_sees_a_meeting_added_to_a_calendar_since_the_options_were_computed(world):
    request = _started(world)
    option = request.options[0]
    design = option["sessions"][2]
    world.fake.seed({"busy": {CAROL: [[design["start"], design["end"]]]}})

    result = booking.interview_book(request=request, option=option)

    assert result.interview is None and result.fresh_options
    assert all(o["start"] != option["start"] for o in result.fresh_options)
    assert not events(world.fake, ORGANISER)
