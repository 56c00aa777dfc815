"""Stored option sets follow the people's calendars and bookings: booking one request's time takes it from another
request that shares its people (cancelling gives it back), busy time seen in the google fake takes times away,
a change that involves nobody of the plan re-solves nothing, and a set that empties tells the coordinator without
moving the request. Tasks are queued on commit (django-q2's ORM broker) and run here as a worker would."""

from __future__ import annotations

import datetime as dt

from django.utils.module_loading import import_string
from django_q.models import OrmQ

from integrations.calendars.freebusy import freebusy_refresh
from integrations.models import Calendar
from scheduling import booking
from scheduling.models import Notice, SchedulingRequest
from scheduling.recompute import options_recompute_for
from scheduling.tasks import recompute_stale_options
from tests import factories as f
from tests.scheduling.booking.support import CAROL, DAVE, parse

S = SchedulingRequest.State
RECOMPUTE = "scheduling.tasks.recompute_options"


def _started(world) -> SchedulingRequest:
    request = world.request()
    booking.request_start(request=request)
    request.refresh_from_db()
    return request


def queued(func: str = RECOMPUTE) -> list[dict]:
    return [row.task for row in OrmQ.objects.order_by("pk") if row.task.get("func") == func]


def run_queued(func: str = RECOMPUTE) -> list[str]:
    """Run the queued tasks of `func` as a worker would, and take them off the queue."""
    out = []
    for row in list(OrmQ.objects.order_by("pk")):
        task = row.task
        if task.get("func") == func:
            out.append(import_string(func)(*task["args"], **task["kwargs"]))
            row.delete()
    return out


def _refresh(*calendar_ids: int) -> None:
    freebusy_refresh(calendars=list(Calendar.objects.filter(pk__in=calendar_ids).select_related("connection")))


def _starts(request: SchedulingRequest) -> set[str]:
    request.refresh_from_db()
    return {o["start"] for o in request.options}


def _busy(option: dict) -> list[tuple[str, dt.datetime, dt.datetime]]:
    buffer = dt.timedelta(minutes=10)
    return [(rid, parse(s["start"]), parse(s["end"]) + (buffer if rid.startswith("i") else dt.timedelta()))
            for s in option["sessions"] for ids in s["roles"] for rid in ids]


def _clash(one: dict, other: dict) -> bool:
    return any(r1 == r2 and a1 < b2 and a2 < b1 for r1, a1, b1 in _busy(one) for r2, a2, b2 in _busy(other))


def _book(request: SchedulingRequest, option: dict, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        interview = booking.interview_book(request=request, option=option).interview
    assert interview is not None
    return interview


def test_it_takes_a_booked_time_from_another_request_with_the_same_people(world, django_capture_on_commit_callbacks):
    a, b = _started(world), _started(world)
    taken = a.options[0]
    assert taken["start"] in _starts(b)
    before, computed = _starts(b), b.options_computed_at

    _book(a, taken, django_capture_on_commit_callbacks)
    assert queued(), "the booking queues a recompute after commit"
    run_queued()

    after = _starts(b)
    b.refresh_from_db()
    assert taken["start"] not in after and after < before and b.options_computed_at > computed
    # No time left for B puts a person (buffer included) or the room into two places with A's loop.
    assert not [o for o in b.options if _clash(o, taken)]
    assert b.state == S.AWAITING_CANDIDATE


def test_it_gives_the_times_back_when_the_booking_is_cancelled(world, django_capture_on_commit_callbacks):
    a, b = _started(world), _started(world)
    before = _starts(b)
    _book(a, a.options[0], django_capture_on_commit_callbacks)
    run_queued()
    assert _starts(b) != before

    with django_capture_on_commit_callbacks(execute=True):
        booking.interview_cancel(request=a, by="coordinator")
    run_queued()

    assert _starts(b) == before


def test_it_drops_times_made_busy_in_the_calendar(world, django_capture_on_commit_callbacks):
    b = _started(world)
    first = b.options[0]
    design = next(s for s in first["sessions"] if s["roles"] == [[f"i{world.people['carol'].pk}"]])
    world.fake.seed({"busy": {CAROL: [[design["start"], design["end"]]]}})

    with django_capture_on_commit_callbacks(execute=True):
        _refresh(world.people["carol"].calendar_id)
    (task,) = queued()
    assert task["args"][0] == [world.people["carol"].pk]
    run_queued()

    after = _starts(b)
    assert first["start"] not in after and after


def test_it_queues_nothing_when_a_refresh_finds_the_same_busy_times(world, django_capture_on_commit_callbacks):
    _started(world)
    world.fake.seed({"busy": {CAROL: [["2026-12-09T14:00:00Z", "2026-12-09T15:00:00Z"]]}})
    with django_capture_on_commit_callbacks(execute=True):
        _refresh(world.people["carol"].calendar_id)
    assert len(queued()) == 1
    run_queued()

    with django_capture_on_commit_callbacks(execute=True):
        _refresh(world.people["carol"].calendar_id)

    assert queued() == []


def test_it_does_not_resolve_a_request_when_the_change_involves_nobody_of_its_plan(
        world, django_capture_on_commit_callbacks):
    b = _started(world)
    dave = f.InterviewerFactory(name="Dave Dunn", email=DAVE, timezone="Europe/London", calendar=Calendar.objects
                                .create(connection=world.connection, external_id=DAVE, kind="person"))
    _refresh(dave.calendar_id)  # his first read
    computed = b.options_computed_at
    world.fake.seed({"busy": {DAVE: [["2026-12-08T09:00:00Z", "2026-12-08T18:00:00Z"]]}})

    with django_capture_on_commit_callbacks(execute=True):
        _refresh(dave.calendar_id)
    (task,) = queued()
    assert list(task["args"][:2]) == [[dave.pk], []]
    assert run_queued() == ["0 option set(s) re-solved"]

    b.refresh_from_db()
    assert b.options_computed_at == computed


def test_it_keeps_an_empty_set_and_tells_the_coordinator_once(world, django_capture_on_commit_callbacks):
    b = _started(world)
    world.fake.seed({"busy": {CAROL: [["2026-12-07T00:00:00Z", "2026-12-31T00:00:00Z"]]}})
    with django_capture_on_commit_callbacks(execute=True):
        _refresh(world.people["carol"].calendar_id)
    run_queued()

    b.refresh_from_db()
    assert b.options == [] and b.state == S.AWAITING_CANDIDATE
    notices = Notice.objects.filter(kind="request.options_gone", object_id=str(b.pk))
    assert notices.count() == 1 and notices.get().recipient == world.coordinator.email
    # Re-solving an empty set again says nothing more.
    assert options_recompute_for(interviewer_ids={world.people["carol"].pk}, reason="test") == 1
    assert notices.count() == 1


def test_the_catch_all_resolves_sets_older_than_the_busy_times_of_their_people(
        world, django_capture_on_commit_callbacks):
    b = _started(world)
    first = b.options[0]
    world.fake.seed({"busy": {CAROL: [[first["start"], first["end"]]]}})
    _refresh(world.people["carol"].calendar_id)  # the queued task is lost: no on-commit callback runs

    assert recompute_stale_options() == "1 of 1 stale option set(s) re-solved"
    assert first["start"] not in _starts(b)
    assert recompute_stale_options() == "0 of 0 stale option set(s) re-solved"


def test_a_burst_of_changes_re_solves_each_involved_request_once(world, django_capture_on_commit_callbacks):
    """Two bookings queue two recomputes before a worker runs either: the first re-solves B from a database that
    holds both bookings, and the second finds B's set already newer than its change."""
    a, b, c = _started(world), _started(world), _started(world)
    _book(a, a.options[0], django_capture_on_commit_callbacks)
    c.refresh_from_db()
    free = [o for o in c.options if not _clash(o, a.options[0])]
    _book(c, free[0], django_capture_on_commit_callbacks)
    assert len(queued()) == 2

    # A, B and C (the booked ones offer their set for rescheduling) once each, then nothing.
    assert run_queued() == ["3 option set(s) re-solved", "0 option set(s) re-solved"]
    # The one re-solve saw both bookings.
    assert not [o for o in _options(b) if _clash(o, a.options[0]) or _clash(o, free[0])]


def test_a_change_after_the_last_re_solve_is_not_skipped(world, django_capture_on_commit_callbacks, frozen):
    a, _b = _started(world), _started(world)
    _book(a, a.options[0], django_capture_on_commit_callbacks)
    assert run_queued() == ["2 option set(s) re-solved"]  # A (booked: its reschedule set) and B
    frozen.shift(dt.timedelta(seconds=5))

    with django_capture_on_commit_callbacks(execute=True):
        booking.interview_cancel(request=a, by="coordinator")
    assert run_queued() == ["1 option set(s) re-solved"]  # B again; A is closed


def _options(request: SchedulingRequest) -> list[dict]:
    request.refresh_from_db()
    return request.options
