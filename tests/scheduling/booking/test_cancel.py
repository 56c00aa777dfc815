"""Cancelling releases the people, removes the events, sends the candidate a METHOD:CANCEL for the same calendar
entry, and tells the coordinator when the candidate cancelled."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling import booking
from scheduling.errors import ChangesClosed
from scheduling.models import (
    AuditEvent,
    InterviewSession,
    Notice,
    ScheduledInterview,
    SchedulingLink,
    SchedulingRequest,
    SessionParticipant,
)
from tests.scheduling.booking.support import deliver, events, ics, messages

S = SchedulingRequest.State


@pytest.fixture
def booked(world):
    request = world.request()
    booking.request_start(request=request)
    request.refresh_from_db()
    booking.interview_book(request=request, option=request.options[0])
    deliver()
    request.refresh_from_db()
    return request


def test_it_releases_the_people_removes_the_events_and_emails_a_cancel(world, booked):
    interview = booking.live_interview(booked)

    booking.interview_cancel(request=booked, by="candidate",
                             reason="I took another offer. Call me on +44 7700 900123 or mail priya@example.org")

    booked.refresh_from_db()
    interview.refresh_from_db()
    assert booked.state == S.CANCELLED and interview.state == ScheduledInterview.State.CANCELLED
    assert not SessionParticipant.objects.filter(active=True).exists()
    assert not InterviewSession.objects.filter(active=True).exists()
    assert not SchedulingLink.objects.filter(request=booked, revoked_at__isnull=True).exists()
    assert booking.candidate_schedule(request=booked) == []

    deliver()

    assert events(world.fake) == [] and len(events(world.fake, live=False)) == 2
    (mail,) = [m for m in messages(world.mail, booked.application.candidate.email) if "cancelled" in m["subject"]]
    text = ics(mail)
    assert "METHOD:CANCEL" in text and "STATUS:CANCELLED" in text
    assert f"UID:loopwise-request-{booked.pk}@127.0.0.1" in text and "SEQUENCE:1" in text
    (notice,) = Notice.objects.filter(kind="request.cancelled_by_candidate")
    assert notice.recipient == "casey@acme.test" and "I took another offer" in notice.body
    assert "900123" not in notice.body and "priya@example.org" not in notice.body
    audit = AuditEvent.objects.get(action="request.cancelled")
    assert audit.actor_label == "candidate" and "offer" not in audit.summary


def test_it_cancels_twice_as_once(world, booked):
    booking.interview_cancel(request=booked, by="coordinator", actor=world.coordinator, reason="role filled")
    booking.interview_cancel(request=booked, by="coordinator", actor=world.coordinator)

    deliver()
    assert len([m for m in messages(world.mail, booked.application.candidate.email)
                if "cancelled" in m["subject"]]) == 1
    assert not Notice.objects.filter(kind="request.cancelled_by_candidate").exists()
    assert AuditEvent.objects.get(action="request.cancelled").summary.endswith("role filled")


def test_it_frees_the_slot_for_another_candidate(world, booked):
    option = booking.live_interview(booked).option
    booking.interview_cancel(request=booked, by="coordinator", actor=world.coordinator)
    deliver()
    other = world.request()
    booking.request_start(request=other)
    other.refresh_from_db()

    offered = booking.option_for_start(request=other, start=option["start"])

    assert offered is not None
    assert booking.interview_book(request=other, option=offered).interview is not None


def test_it_refuses_a_candidate_cancel_after_the_cutoff(world, booked, frozen):
    frozen.move_to(booking.live_interview(booked).start - dt.timedelta(hours=2))

    with pytest.raises(ChangesClosed):
        booking.interview_cancel(request=booked, by="candidate")

    booked.refresh_from_db()
    assert booked.state == S.BOOKED


def test_it_cancels_a_request_that_was_never_booked_without_writing_to_the_candidate(world):
    request = world.request()
    booking.request_start(request=request)

    booking.interview_cancel(request=request, by="coordinator", actor=world.coordinator)

    request.refresh_from_db()
    assert request.state == S.CANCELLED
    deliver()
    assert len(messages(world.mail, request.application.candidate.email)) == 1  # the link, nothing since
