"""Rescheduling supersedes the booking: the old events are cancelled at the provider, new ones written under new
ids, the people of the old slot released, and the candidate's calendar entry moved (same UID, next SEQUENCE)."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling import booking
from scheduling.errors import ChangesClosed, NotBookable
from scheduling.models import InterviewSession, ScheduledInterview, SchedulingRequest, SessionParticipant
from tests.scheduling.booking.support import apart, deliver, events, ics, messages, parse

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


def test_it_supersedes_the_booking_and_moves_the_events(world, booked):
    old = booking.live_interview(booked)
    old_ids = {e["id"] for e in events(world.fake)}
    option = apart(booked.options, old.option)

    result = booking.interview_reschedule(request=booked, option=option)

    new = result.interview
    assert new is not None and new.revision == 2 and new.option["start"] == option["start"]
    old.refresh_from_db()
    assert old.state == ScheduledInterview.State.SUPERSEDED
    assert not InterviewSession.objects.filter(interview=old, active=True).exists()
    assert not SessionParticipant.objects.filter(session__interview=old, active=True).exists()
    assert SessionParticipant.objects.filter(session__interview=new, active=True).count() == 2
    booked.refresh_from_db()
    assert booked.state == S.BOOKED
    assert list(booked.transitions.values_list("new_state", flat=True))[-2:] == [S.BOOKED, S.BOOKED]

    deliver()

    live = events(world.fake)
    assert len(live) == 2 and not old_ids & {e["id"] for e in live}
    everything = {e["id"]: e["status"] for e in events(world.fake, live=False)}
    assert {everything[i] for i in old_ids} == {"cancelled"}
    assert {parse(e["start"]["dateTime"]) for e in live} == {parse(s["start"]) for s in option["sessions"]
                                                            if s["roles"]}
    assert len({e["hangoutLink"] for e in live}) == 1
    new.refresh_from_db()
    assert new.video_link and new.video_link != old.video_link  # a new meeting for the new loop
    moved = [m for m in messages(world.mail, booked.application.candidate.email) if "has moved" in m["subject"]]
    assert len(moved) == 1
    text = ics(moved[0])
    assert f"UID:loopwise-request-{booked.pk}@127.0.0.1" in text and "SEQUENCE:1" in text
    assert "METHOD:REQUEST" in text


def test_it_offers_the_old_slot_to_others_once_moved(world, booked, frozen):
    old = booking.live_interview(booked)
    booking.interview_reschedule(request=booked, option=apart(booked.options, old.option))
    deliver()  # the old events are cancelled at the provider...
    frozen.shift(dt.timedelta(minutes=16))  # ...and the next refresh sees it
    other = world.request()
    booking.request_start(request=other)
    other.refresh_from_db()

    assert booking.option_for_start(request=other, start=old.option["start"]) is not None


def test_it_moves_a_booking_when_the_candidate_books_another_time(world, booked):
    old = booking.live_interview(booked)

    result = booking.interview_book(request=booked, option=apart(booked.options, old.option))

    assert result.interview is not None and result.interview.revision == 2
    assert ScheduledInterview.objects.filter(request=booked, state=ScheduledInterview.State.ACTIVE).count() == 1


def test_it_refuses_to_reschedule_after_the_cutoff(world, booked, frozen):
    old = booking.live_interview(booked)
    frozen.move_to(old.start - dt.timedelta(hours=23))

    with pytest.raises(ChangesClosed):
        booking.interview_reschedule(request=booked, option=booked.options[-1])

    old.refresh_from_db()
    assert old.state == ScheduledInterview.State.ACTIVE
    assert ScheduledInterview.objects.filter(request=booked).count() == 1


def test_it_lets_the_coordinator_move_a_booking_after_the_cutoff(world, booked, frozen):
    old = booking.live_interview(booked)
    frozen.move_to(old.start - dt.timedelta(hours=23))
    booked.refresh_from_db()
    booking.request_solve(request=booked)

    result = booking.interview_reschedule(request=booked, option=booked.options[-1], actor_label="user",
                                          actor=world.coordinator)

    assert result.interview is not None and result.interview.revision == 2


def test_it_has_nothing_to_reschedule_before_a_booking(world):
    request = world.request()
    booking.request_start(request=request)
    request.refresh_from_db()

    with pytest.raises(NotBookable):
        booking.interview_reschedule(request=request, option=request.options[0])


def test_it_never_writes_the_events_of_a_booking_moved_before_they_were_written(world, frozen):
    request = world.request()
    booking.request_start(request=request)
    request.refresh_from_db()
    first = booking.interview_book(request=request, option=request.options[0]).interview

    second = booking.interview_reschedule(request=request, option=apart(request.options, first.option)).interview
    deliver()
    frozen.shift(dt.timedelta(minutes=3))  # past VIDEO_WAIT: the old confirmation runs too, and is skipped
    deliver()

    live = events(world.fake)
    assert len(live) == 2 and {parse(e["start"]["dateTime"]) for e in live} <= {
        parse(s["start"]) for s in second.option["sessions"]}
    assert len(events(world.fake, live=False)) == 2  # nothing was written for the first, not even to cancel
    mails = [m["subject"] for m in messages(world.mail, request.application.candidate.email)]
    assert mails[1:] == ["Acme: your Backend Engineer interview has moved"]  # no confirmation of the old time
