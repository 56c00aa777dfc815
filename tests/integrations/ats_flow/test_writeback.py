"""Booking, rescheduling and cancelling write back to Greenhouse through the outbox: one note with the schedule
(times in the candidate's and each interviewer's zone, the interviewers, the video link) and, on a first booking,
one move to the plan's next stage, also when Greenhouse fails first, when it stays down across outbox attempts,
and when the worker dies between the two writes. Payloads carry ids only."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from integrations.ats.sync import stage_change_handle
from integrations.ats.writeback import MOVE, NOTE, move_stage
from integrations.models import AtsComponentHealth, Health
from scheduling import booking, clock
from scheduling.models import Notice, OutboxItem, SchedulingRequest, WorkState
from scheduling.work import STALE_AFTER, outbox_deliver, work_sweep
from tests.integrations.ats_flow.conftest import ZOE_APP, later
from tests.scheduling.booking.support import deliver

S = SchedulingRequest.State


@pytest.fixture
def booked(flow, django_capture_on_commit_callbacks):
    """Zoë entered Onsite, got her link, and booked the first time offered (from Kolkata)."""
    flow.move("Onsite")
    with django_capture_on_commit_callbacks(execute=True):
        request = stage_change_handle(connection=flow.connection, application_external_id=str(ZOE_APP))
    SchedulingRequest.objects.filter(pk=request.pk).update(candidate_timezone="Asia/Kolkata")
    request.refresh_from_db()
    interview = booking.interview_book(request=request, option=request.options[0]).interview
    assert interview is not None
    return interview


def notes(flow) -> list[dict]:
    return [n for n in flow.fake.state()["notes"] if n["application_id"] == ZOE_APP]


def api_moves(flow) -> list[dict]:
    return [m for m in flow.fake.state()["moves"] if m["source"] == "api"]


def items(kind: str) -> list[OutboxItem]:
    return list(OutboxItem.objects.filter(kind=kind).order_by("pk"))


def test_it_writes_one_note_with_the_schedule_and_one_move(flow, booked, frozen):
    later(frozen, minutes=3)  # the note waits for the video link, as the candidate's confirmation does
    deliver()

    [note] = notes(flow)
    text = note["body"]
    assert text.startswith("Loopwise: interview booked: Backend Engineer, Onsite loop")
    assert "Asia/Kolkata" in text  # the candidate's time
    assert "Alice Archer" in text or "Bob Brown" in text
    assert "Carol Chen, Engineering Manager" in text and "America/New_York" in text and "Europe/London" in text
    booked.refresh_from_db()
    assert booked.video_link and f"Video: {booked.video_link}" in text
    assert "zoe@example.com" not in text and "+47" not in text
    assert text.endswith(f"[loopwise:ats.note:{booked.pk}:1:booked]")
    [move] = api_moves(flow)
    assert (move["application_id"], move["from_stage_id"], move["to_stage_id"]) == (ZOE_APP, 9003, 9004)
    assert {i.state for i in items(NOTE) + items(MOVE)} == {WorkState.DONE}
    writes = AtsComponentHealth.objects.get(connection=flow.connection, component="writes")
    assert writes.health == Health.OK


def test_it_puts_ids_only_in_the_outbox(flow, booked):
    for item in items(NOTE) + items(MOVE):
        assert set(item.payload) <= {"interview_id", "request_id", "application_id", "connection_id", "what",
                                     "from_stage_id", "to_stage_id"}
        assert "zoe" not in json.dumps(item.payload).lower() and item.target == f"ats:{flow.connection.pk}"


def test_it_writes_once_when_greenhouse_fails_twice_first(flow, booked, frozen):
    flow.fake.add_fault(kind="error", target="/v3/notes", count=2)
    flow.fake.add_fault(kind="error", target="/v3/applications/", count=2)
    later(frozen, minutes=3)

    deliver()

    assert len(notes(flow)) == 1 and len(api_moves(flow)) == 1
    assert {i.state for i in items(NOTE) + items(MOVE)} == {WorkState.DONE}


def test_it_writes_once_across_outbox_attempts_when_greenhouse_stays_down(flow, booked, frozen):
    flow.fake.add_fault(kind="error", target="/v3/notes", count=4)  # every try of the first attempt
    later(frozen, minutes=3)

    [note_item] = items(NOTE)
    outbox_deliver(item_id=note_item.pk)
    note_item.refresh_from_db()
    assert note_item.state == WorkState.FAILED and note_item.attempts == 1 and "503" in note_item.last_error
    writes = AtsComponentHealth.objects.get(connection=flow.connection, component="writes")
    assert writes.health == Health.DEGRADED and writes.consecutive_failures == 1

    later(frozen, minutes=2)
    deliver()

    note_item.refresh_from_db()
    assert note_item.state == WorkState.DONE and note_item.attempts == 2
    assert len(notes(flow)) == 1
    writes.refresh_from_db()
    assert writes.health == Health.OK and writes.consecutive_failures == 0


def test_it_writes_once_when_the_worker_dies_between_the_note_and_the_move(flow, booked, frozen):
    later(frozen, minutes=3)
    [note_item], [move_item] = items(NOTE), items(MOVE)
    assert outbox_deliver(item_id=note_item.pk).endswith("done (note " + str(notes(flow)[0]["id"])
                                                         + f" on application {ZOE_APP})")
    # A worker claims the move as outbox_deliver does, makes the move in Greenhouse, and dies before recording it.
    OutboxItem.objects.filter(pk=move_item.pk).update(state=WorkState.RUNNING, claimed_at=clock.now(), attempts=1)
    move_stage(OutboxItem.objects.get(pk=move_item.pk))
    assert len(api_moves(flow)) == 1

    later(frozen, seconds=(STALE_AFTER + dt.timedelta(minutes=1)).total_seconds())
    assert "1 rescued" in work_sweep()
    deliver()

    move_item.refresh_from_db()
    assert move_item.state == WorkState.DONE and move_item.attempts == 2
    assert len(api_moves(flow)) == 1 and len(notes(flow)) == 1


def test_it_notes_a_reschedule_without_moving_again(flow, booked, frozen):
    later(frozen, minutes=3)
    deliver()
    request = SchedulingRequest.objects.get(pk=booked.request_id)
    other = next(o for o in booking.request_solve(request=request)["options"]
                 if o["start"] != booked.option["start"])

    moved = booking.interview_reschedule(request=request, option=other, actor_label="user").interview
    later(frozen, minutes=3)
    deliver()

    bodies = [n["body"] for n in notes(flow)]
    assert len(bodies) == 2 and bodies[1].startswith("Loopwise: interview rescheduled:")
    assert f"revision {moved.revision}" in bodies[1]
    assert len(api_moves(flow)) == 1


def test_it_notes_a_cancellation(flow, booked, frozen):
    later(frozen, minutes=3)
    deliver()

    booking.interview_cancel(request=SchedulingRequest.objects.get(pk=booked.request_id), by="coordinator")
    deliver()

    last = notes(flow)[-1]["body"]
    assert last.startswith("Loopwise: interview CANCELLED:") and "cancelled" in last
    assert len(notes(flow)) == 2


def test_it_gives_up_on_a_move_someone_made_meanwhile_and_tells_the_coordinator(flow, booked, frozen):
    flow.move("Phone Screen")  # a recruiter moved Zoë back before the move ran
    later(frozen, minutes=3)

    deliver()

    [move_item] = items(MOVE)
    assert move_item.state == WorkState.DEAD and "9002" in move_item.last_error
    assert api_moves(flow) == []
    assert Notice.objects.filter(kind="outbox.dead", recipient=flow.world.coordinator.email).count() == 1
    writes = AtsComponentHealth.objects.get(connection=flow.connection, component="writes")
    assert writes.health == Health.OK  # one application's stage is not the integration's failure


def test_it_writes_nothing_back_for_an_application_not_from_an_ats(flow, frozen):
    request = flow.world.request()
    booking.request_start(request=request)
    request.refresh_from_db()

    booking.interview_book(request=request, option=request.options[0])

    assert items(NOTE) == [] and items(MOVE) == []
