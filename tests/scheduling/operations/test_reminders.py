"""Reminder sequences: a step goes out once, when it is due, with a fresh link and times in the candidate's zone;
it stops when the candidate books or the request is cancelled; the plan's own sequence wins over the global one;
a coordinator step tells the coordinator; a refused email leaves the candidate's old link working."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from scheduling import booking, clock
from scheduling.candidate_mail import format_local
from scheduling.models import AuditEvent, Notice, OutboxItem, ReminderSend, ReminderStep, WorkState
from scheduling.reminders import reminders_run
from tests.scheduling.booking.support import deliver, parse
from tests.scheduling.operations.support import candidate_mail, sequence, started, token_in

Action = ReminderStep.Action
Status = ReminderSend.Status
IST = zoneinfo.ZoneInfo("Asia/Kolkata")


def _run() -> None:
    """One run of the periodic task, then the outbox, as the workers would."""
    reminders_run()
    deliver()


def _reminders(world, request) -> list[dict]:
    return [m for m in candidate_mail(world, request) if "reminder" in m["subject"]]


def _later_option(request) -> dict:
    return next(o for o in request.options if parse(o["start"]) > clock.now() + dt.timedelta(days=2))


def test_it_sends_a_reminder_once_at_the_right_time_and_not_after_booking(world, frozen):
    sequence((24, Action.REMIND_CANDIDATE), (72, Action.BOTH))
    request = started(world)
    first_token = token_in(candidate_mail(world, request)[0])

    frozen.move_to(request.link_sent_at + dt.timedelta(hours=23, minutes=50))
    _run()
    assert _reminders(world, request) == [] and not ReminderSend.objects.exists()

    frozen.move_to(request.link_sent_at + dt.timedelta(hours=24, minutes=1))
    _run()
    _run()  # a second run, or a second worker, finds the step claimed
    (reminder,) = _reminders(world, request)
    assert ReminderSend.objects.get().status == Status.SENT
    new_token = token_in(reminder)
    old_link, new_link = booking.link_resolve(token=first_token), booking.link_resolve(token=new_token)
    assert new_token != first_token
    assert old_link.revoked_at is not None and new_link.is_usable(at=clock.now())
    assert new_link.expires_at == old_link.expires_at
    request.refresh_from_db()
    assert request.link_sent_at < clock.now() - dt.timedelta(hours=24)  # the sequence keeps its timing
    assert AuditEvent.objects.filter(action="reminder.sent", object_id=str(request.pk)).count() == 1

    result = booking.interview_book(request=request, option=_later_option(request))
    assert result.interview is not None

    frozen.move_to(request.link_sent_at + dt.timedelta(hours=80))
    _run()
    assert len(_reminders(world, request)) == 1
    assert ReminderSend.objects.count() == 1  # the 72-hour step was never claimed
    assert not Notice.objects.filter(kind="reminder.coordinator").exists()


def test_it_sends_nothing_once_the_request_is_cancelled(world, frozen):
    sequence((24, Action.BOTH))
    request = started(world)
    booking.interview_cancel(request=request, by="coordinator", actor=world.coordinator)

    frozen.move_to(request.link_sent_at + dt.timedelta(hours=30))
    _run()

    assert _reminders(world, request) == [] and not ReminderSend.objects.exists()


def test_it_skips_a_claimed_step_when_the_candidate_books_before_it_goes_out(world, frozen):
    sequence((24, Action.REMIND_CANDIDATE))
    request = started(world)
    frozen.move_to(request.link_sent_at + dt.timedelta(hours=25))
    reminders_run()  # claimed; the outbox has not sent it yet
    booking.interview_book(request=request, option=_later_option(request))

    deliver()

    assert _reminders(world, request) == []
    send = ReminderSend.objects.get()
    assert send.status == Status.SKIPPED and "booked" in send.note


def test_it_writes_the_reminder_in_the_candidates_zone_with_the_link(world, frozen):
    sequence((24, Action.REMIND_CANDIDATE))
    request = started(world, timezone="Asia/Kolkata")
    frozen.move_to(request.link_sent_at + dt.timedelta(hours=24, minutes=5))

    _run()

    (reminder,) = _reminders(world, request)
    link = booking.link_resolve(token=token_in(reminder))
    assert f"works until {format_local(link.expires_at, IST)} (Asia/Kolkata)" in reminder["text"]
    assert "replaces the one we sent earlier" in reminder["text"]
    example = next(o for o in request.options if parse(o["start"]) > clock.now())
    assert format_local(parse(example["start"]), IST) in reminder["text"]
    assert token_in(reminder) in reminder["html"] and "Choose a time" in reminder["html"]
    assert reminder["headers"]["Reply-To"] == "recruiting@acme.test"


def test_it_tells_the_coordinator_on_a_coordinator_step_and_leaves_the_link_alone(world, frozen):
    sequence((48, Action.NOTIFY_COORDINATOR))
    request = started(world)
    token = token_in(candidate_mail(world, request)[0])
    frozen.move_to(request.link_sent_at + dt.timedelta(hours=48, minutes=1))

    _run()

    notice = Notice.objects.get(kind="reminder.coordinator")
    assert notice.recipient == "casey@acme.test" and f"Request #{request.pk}" in notice.subject
    assert request.application.candidate.email not in notice.body
    assert _reminders(world, request) == []
    assert booking.link_resolve(token=token).is_usable(at=clock.now())


def test_it_uses_the_plans_own_sequence_instead_of_the_global_one(world, frozen):
    sequence((24, Action.REMIND_CANDIDATE), name="Everyone")
    own = sequence((30, Action.REMIND_CANDIDATE), plan=world.plan, name="Onsite loop")
    request = started(world)

    frozen.move_to(request.link_sent_at + dt.timedelta(hours=26))
    _run()
    assert _reminders(world, request) == []

    frozen.move_to(request.link_sent_at + dt.timedelta(hours=31))
    _run()
    assert len(_reminders(world, request)) == 1
    assert ReminderSend.objects.get().step.sequence == own


def test_it_sends_only_the_latest_of_several_steps_due_at_once(world, frozen):
    sequence((24, Action.REMIND_CANDIDATE), (48, Action.REMIND_CANDIDATE))
    request = started(world)
    frozen.move_to(request.link_sent_at + dt.timedelta(hours=50))  # the workers were down for two days

    _run()

    assert len(_reminders(world, request)) == 1
    by_delay = {s.step.delay_hours: s.status for s in ReminderSend.objects.select_related("step")}
    assert by_delay == {24: Status.SKIPPED, 48: Status.SENT}


def test_it_keeps_the_old_link_working_when_the_mail_server_refuses_and_sends_once_later(world, frozen):
    sequence((24, Action.REMIND_CANDIDATE))
    request = started(world)
    token = token_in(candidate_mail(world, request)[0])
    frozen.move_to(request.link_sent_at + dt.timedelta(hours=24, minutes=5))
    world.mail.add_fault(kind="error", target=request.application.candidate.email, status=451, count=1)

    _run()

    item = OutboxItem.objects.get(kind="mail.reminder")
    assert item.state == WorkState.FAILED and "451" in item.last_error
    assert ReminderSend.objects.get().status == Status.QUEUED
    assert booking.link_resolve(token=token).is_usable(at=clock.now())  # nothing was rotated
    assert _reminders(world, request) == []

    frozen.move_to(item.next_attempt_at + dt.timedelta(seconds=1))
    deliver()
    deliver()

    assert len(_reminders(world, request)) == 1
    assert ReminderSend.objects.get().status == Status.SENT
    assert not booking.link_resolve(token=token).is_usable(at=clock.now())


def test_it_skips_the_step_while_the_candidate_is_on_their_booking_page(world, frozen):
    sequence((24, Action.REMIND_CANDIDATE))
    request = started(world)
    token = token_in(candidate_mail(world, request)[0])
    frozen.move_to(request.link_sent_at + dt.timedelta(hours=24, minutes=1))
    booking.link_touch(link=booking.link_resolve(token=token))  # the candidate opens the page

    _run()

    assert _reminders(world, request) == []
    send = ReminderSend.objects.get()
    assert send.status == Status.SKIPPED and "booking page" in send.note
    assert booking.link_resolve(token=token).is_usable(at=clock.now())
