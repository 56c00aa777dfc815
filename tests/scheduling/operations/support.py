"""Helpers for the operations tests: start a request as the worker would, and read the emails it produced."""

from __future__ import annotations

import re

from scheduling import booking
from scheduling.models import ReminderSequence, ReminderStep, SchedulingRequest
from tests.scheduling.booking.support import messages

TOKEN = re.compile(r"/s/([A-Za-z0-9_-]{20,})/")


def started(world, **kw) -> SchedulingRequest:
    """A request whose link has been emailed: it waits for the candidate."""
    request = world.request(**kw)
    booking.request_start(request=request)
    request.refresh_from_db()
    assert request.state == SchedulingRequest.State.AWAITING_CANDIDATE
    return request


def sequence(*steps: tuple[int, str], plan=None, name: str = "Reminders") -> ReminderSequence:
    """A sequence with steps (delay hours, action)."""
    seq = ReminderSequence.objects.create(name=name, plan=plan)
    for position, (hours, action) in enumerate(steps):
        ReminderStep.objects.create(sequence=seq, position=position, delay_hours=hours, action=action)
    return seq


def candidate_mail(world, request: SchedulingRequest) -> list[dict]:
    return messages(world.mail, request.application.candidate.email)


def token_in(mail: dict) -> str:
    return TOKEN.search(mail["text"]).group(1)
