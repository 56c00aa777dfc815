"""What the portal reads: the stored option for a start time, and the booked loop as the candidate sees it."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling import booking
from tests.scheduling.booking.support import deliver


@pytest.fixture
def started(world):
    request = world.request()
    booking.request_start(request=request)
    request.refresh_from_db()
    return request


def test_it_finds_the_option_for_a_start_given_in_any_zone(world, started):
    option = started.options[3]
    start = dt.datetime.fromisoformat(option["start"].replace("Z", "+00:00"))

    assert booking.option_for_start(request=started, start=option["start"]) == option
    assert booking.option_for_start(request=started, start=start.astimezone(
        dt.timezone(dt.timedelta(hours=5, minutes=30))).isoformat()) == option
    assert booking.option_for_start(request=started, start="2026-12-08T03:07:00Z") is None
    assert booking.option_for_start(request=started, start="2026-12-08T12:30:00") is None  # no zone: no guess
    assert booking.option_for_start(request=started, start="tomorrow") is None


def test_it_shows_the_loop_with_first_names_titles_room_break_and_video_link(world, started):
    option = started.options[0]
    booking.interview_book(request=started, option=option)
    deliver()

    coding, lunch, design = booking.candidate_schedule(request=started)

    assert [r["name"] for r in (coding, lunch, design)] == ["Coding", "Lunch", "System design"]
    assert lunch["is_break"] and lunch["people"] == [] and lunch["start"] == coding["end"]
    assert coding["room"] == "Thames" and coding["video_link"].startswith("https://meet.google.com/")
    assert coding["people"][0]["first_name"] in ("Alice", "Bob")
    assert design["people"] == [{"first_name": "Carol", "title": "Engineering Manager", "part": "Interviewer"}]
    assert [r["start"].isoformat().replace("+00:00", "Z") for r in (coding, lunch, design)] == \
        [s["start"] for s in option["sessions"]]


def test_it_hides_interviewers_when_the_plan_says_so(world, started):
    world.plan.show_interviewer_names = False
    world.plan.save()
    started.refresh_from_db()
    booking.interview_book(request=started, option=started.options[0])

    assert all(r["people"] == [] for r in booking.candidate_schedule(request=started))


def test_it_shows_nothing_before_a_booking(world, started):
    assert booking.candidate_schedule(request=started) == []
