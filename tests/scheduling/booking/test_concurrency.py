"""Bookings at the same moment, on PostgreSQL with real transactions: no person or room is ever booked twice,
every loser is shown fresh options, and a day cap with one interview left yields one booking."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from integrations.calendars.freebusy import freebusy_refresh
from integrations.models import Calendar
from scheduling import booking
from scheduling.models import InterviewSession, Role, ScheduledInterview, SessionParticipant
from tests import factories as f
from tests.scheduling.booking.conftest import build_world
from tests.scheduling.booking.support import DAVE, no_person_double_booked, parse

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # SQLite's in-memory test database shares one cache between threads and answers "table is locked" instead of
    # waiting; the race is PostgreSQL's to test (the issue asks for it there).
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency is tested on PostgreSQL"),
]


@pytest.fixture
def world(transactional_db, google_fake, mail_fake, frozen):
    return build_world(google_fake, mail_fake)


def _race(jobs: list) -> list:
    """Run every job in its own thread, all released at once; their results (or exceptions), in order."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(i: int, job) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = job()
        except Exception as e:  # noqa: BLE001 - reported by the test
            results[i] = e
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _rooms_double_booked() -> list[tuple]:
    rows = list(InterviewSession.objects.filter(active=True, room__isnull=False).order_by("room_id", "start")
                .values_list("room_id", "start", "end"))
    return [(a, b) for a, b in zip(rows, rows[1:], strict=False) if a[0] == b[0] and b[1] < a[2]]


def test_it_never_double_books_when_twenty_candidates_book_overlapping_times_at_once(world):
    requests = [world.request() for _ in range(20)]
    freebusy_refresh()
    for r in requests:
        booking.request_solve(request=r)
    first_day = [o for o in requests[0].options if parse(o["start"]).date() == parse(requests[0].options[0]["start"])
                 .date()]
    picks = [first_day[i % 4] for i in range(20)]  # four start times half an hour apart: all overlap

    results = _race([lambda r=r, o=o: booking.interview_book(request=r, option=o) for r, o in zip(requests, picks,
                                                                                               strict=True)])

    assert not [r for r in results if isinstance(r, BaseException)], results
    winners = [r for r in results if r.interview is not None]
    losers = [r for r in results if r.interview is None]
    assert winners and losers and len(winners) + len(losers) == 20
    assert all(r.fresh_options is not None and not r.retry_later and r.message == booking.MSG_TAKEN for r in losers)
    assert ScheduledInterview.objects.count() == len(winners)
    assert no_person_double_booked() == []
    assert _rooms_double_booked() == []
    for pick, result in zip(picks, results, strict=True):  # a loser is never offered what it lost again
        if result.interview is None:
            assert pick not in result.fresh_options

def test_it_books_one_of_two_candidates_racing_for_the_last_interview_under_a_day_cap(world):
    dave = f.InterviewerFactory(name="Dave Dunn", email=DAVE, title="Principal Engineer", timezone="Europe/London",
                                calendar=Calendar.objects.create(connection=world.connection, external_id=DAVE),
                                max_per_day=2, max_per_week=10)
    for weekday in range(5):
        f.AvailabilityRuleFactory(interviewer=dave, weekday=weekday, start=dt.time(9), end=dt.time(18))
    plan = f.PlanFactory(requisition=world.plan.requisition, name="Chat", buffer_minutes=10, window_days=7,
                         step_minutes=30, min_notice_hours=24)
    chat = f.SessionTemplateFactory(plan=plan, position=0, name="Chat", duration_minutes=30)
    f.RoleFactory(session=chat, kind=Role.Kind.INTERVIEWER, pool=None, interviewer=dave)
    early, mine, yours = (world.request(plan=plan) for _ in range(3))
    for r in (early, mine, yours):
        booking.request_start(request=r)
        r.refresh_from_db()
    tuesday = [o for o in early.options if parse(o["start"]).date() == dt.date(2026, 12, 8)]
    assert booking.interview_book(request=early, option=tuesday[0]).interview is not None  # one of two left
    mine_pick, yours_pick = tuesday[4], tuesday[10]  # different, far apart times on the same day
    assert mine_pick in mine.options and yours_pick in yours.options

    results = _race([lambda: booking.interview_book(request=mine, option=mine_pick),
                     lambda: booking.interview_book(request=yours, option=yours_pick)])

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(r.interview is not None for r in results) == [False, True]
    loser = next(r for r in results if r.interview is None)
    assert loser.fresh_options and all(parse(o["start"]).date() != dt.date(2026, 12, 8)
                                       for o in loser.fresh_options)
    on_tuesday = SessionParticipant.objects.filter(interviewer=dave, active=True,
                                                   session__start__date=dt.date(2026, 12, 8))
    assert on_tuesday.count() == 2
