"""Helpers for the portal's tests: start a request as the booking service does, and open its emailed link."""

from __future__ import annotations

import datetime as dt
import re

from scheduling import booking
from scheduling.models import SchedulingRequest
from tests.scheduling.booking.support import messages, parse

TOKEN = re.compile(r"/s/([A-Za-z0-9_-]+)/")


def started(world, **kw) -> SchedulingRequest:
    """A request started through `request_start`: solved, its link emailed, waiting for the candidate."""
    request = world.request(**kw)
    booking.request_start(request=request)
    request.refresh_from_db()
    assert request.state == SchedulingRequest.State.AWAITING_CANDIDATE, request.state
    return request


def emailed_token(world, request: SchedulingRequest) -> str:
    """The token of the last link emailed to the request's candidate (the mail fake holds the only copy)."""
    mails = messages(world.mail, request.application.candidate.email)
    return TOKEN.search(mails[-1]["text"]).group(1)


def open_link(client, world, request: SchedulingRequest):
    """Open the request's emailed link with `client`, as the candidate would; returns the response."""
    return client.get(f"/s/{emailed_token(world, request)}/")


def opened(client, world, request: SchedulingRequest):
    """`client` after opening the request's emailed link: its session acts for that link."""
    response = open_link(client, world, request)
    assert response.status_code == 303 and response["Location"] == "/schedule/", response
    return client


def roomy(request: SchedulingRequest, *, days: int = 2) -> dict:
    """An option that starts at least `days` days after the first offered one (well before any cut-off)."""
    first = parse(request.options[0]["start"])
    return next(o for o in request.options if parse(o["start"]) >= first + dt.timedelta(days=days))


def book(request: SchedulingRequest, option: dict):
    result = booking.interview_book(request=request, option=option)
    assert result.interview is not None, result
    return result.interview
