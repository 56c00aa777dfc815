"""When no offered time suits, the candidate proposes windows (checked, at most ten, the coordinator told) and the
coordinator books from one of them."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling import booking
from scheduling.errors import InvalidWindows, NotBookable
from scheduling.models import Notice, ProposedWindow, SchedulingRequest
from tests.scheduling.booking.support import NOW, deliver, events

S = SchedulingRequest.State
WED = dt.datetime(2026, 12, 9, tzinfo=dt.UTC)


def _h(day: dt.datetime, hour: float) -> dt.datetime:
    return day + dt.timedelta(hours=hour)


@pytest.fixture
def waiting(world):
    request = world.request()
    booking.request_start(request=request)
    request.refresh_from_db()
    return request


def test_it_records_proposed_windows_and_tells_the_coordinator(world, waiting):
    booking.proposed_windows_add(request=waiting, windows=[(_h(WED, 13), _h(WED, 17)), (_h(WED, 38), _h(WED, 40))])

    assert ProposedWindow.objects.filter(request=waiting).count() == 2
    (notice,) = Notice.objects.filter(kind="request.windows_proposed")
    assert notice.recipient == "casey@acme.test" and f"#{waiting.pk}" in notice.body


@pytest.mark.parametrize(("windows", "field"), [
    ([], "windows"),
    ([(NOW - dt.timedelta(hours=1), NOW + dt.timedelta(hours=2))], "windows[0]"),
    ([(_h(WED, 13), _h(WED, 17)), (_h(WED, 17), _h(WED, 16))], "windows[1]"),
    ([(_h(WED, 13), NOW + dt.timedelta(days=63))], "windows[0]"),
    ([(_h(WED, 13), _h(WED, 14))] * 11, "windows"),
    ([(dt.datetime(2026, 12, 9, 13), dt.datetime(2026, 12, 9, 14))], "windows[0]"),
])
def test_it_refuses_windows_that_cannot_be_used(world, waiting, windows, field):
    with pytest.raises(InvalidWindows) as caught:
        booking.proposed_windows_add(request=waiting, windows=windows)

    assert caught.value.extra["field"] == field
    assert not ProposedWindow.objects.exists() and not Notice.objects.filter(kind="request.windows_proposed")


def test_it_books_the_first_time_inside_a_window(world, waiting):
    booking.proposed_windows_add(request=waiting, windows=[(_h(WED, 14), _h(WED, 17))])
    window = ProposedWindow.objects.get(request=waiting)

    result = booking.book_from_window(request=waiting, window_id=window.pk, actor=world.coordinator)

    interview = result.interview
    assert interview is not None and interview.start == _h(WED, 14) and interview.end <= _h(WED, 17)
    waiting.refresh_from_db()
    assert waiting.state == S.BOOKED
    deliver()
    assert len(events(world.fake)) == 2


def test_it_says_why_when_nothing_fits_the_window(world, waiting):
    booking.proposed_windows_add(request=waiting, windows=[(_h(WED, 14), _h(WED, 15))])  # shorter than the loop
    window = ProposedWindow.objects.get(request=waiting)

    result = booking.book_from_window(request=waiting, window_id=window.pk, actor=world.coordinator)

    assert result.interview is None and result.fresh_options == [] and "window" in result.message
    waiting.refresh_from_db()
    assert waiting.state == S.AWAITING_CANDIDATE


def test_it_refuses_windows_of_another_request(world, waiting):
    other = world.request()
    booking.proposed_windows_add(request=waiting, windows=[(_h(WED, 14), _h(WED, 17))])

    with pytest.raises(NotBookable):
        booking.book_from_window(request=other, window_id=ProposedWindow.objects.get().pk, actor=world.coordinator)
