"""An interviewer outside the organisation (working hours only, no calendar) is not put on the event: they get an
ICS invitation by email, updated on reschedule (same UID, next SEQUENCE) and cancelled on cancel."""

from __future__ import annotations

import pytest

from scheduling import booking
from scheduling.models import Interviewer
from tests.scheduling.booking.support import CAROL, apart, deliver, events, ics, messages


@pytest.fixture
def outside(world):
    carol = world.people["carol"]
    carol.availability_source, carol.calendar = Interviewer.Source.WORKING_HOURS, None
    carol.save()
    request = world.request()
    booking.request_start(request=request)
    request.refresh_from_db()
    return request


def _invites(world) -> list[dict]:
    return messages(world.mail, CAROL)


def test_it_emails_an_ics_invitation_with_the_video_link_instead_of_an_attendee(world, outside):
    interview = booking.interview_book(request=outside, option=outside.options[0]).interview

    deliver()

    design = next(e for e in events(world.fake) if "System design" in e["summary"])
    assert CAROL not in [a["email"] for a in design.get("attendees", [])]
    (mail,) = _invites(world)
    assert mail["subject"].startswith("Invitation: Interview: ")
    interview.refresh_from_db()
    text = ics(mail)
    assert "METHOD:REQUEST" in text and "SEQUENCE:0" in text
    assert f"UID:loopwise-r{outside.pk}-i{world.people['carol'].pk}@127.0.0.1" in text
    assert interview.video_link and interview.video_link in text


def test_it_updates_the_invitation_on_reschedule_and_cancels_it_on_cancel(world, outside):
    first = booking.interview_book(request=outside, option=outside.options[0]).interview
    deliver()
    uid = f"UID:loopwise-r{outside.pk}-i{world.people['carol'].pk}@127.0.0.1"

    booking.interview_reschedule(request=outside, option=apart(outside.options, first.option))
    deliver()
    booking.interview_cancel(request=outside, by="coordinator")
    deliver()

    invitation, update, cancel = (ics(m) for m in _invites(world))
    assert uid in invitation and uid in update and uid in cancel
    assert "SEQUENCE:0" in invitation and "METHOD:REQUEST" in invitation
    assert "SEQUENCE:1" in update and "METHOD:REQUEST" in update
    assert "SEQUENCE:2" in cancel and "METHOD:CANCEL" in cancel
