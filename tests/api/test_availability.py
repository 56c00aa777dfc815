"""`GET /api/v1/scheduling-requests/{id}/availability`: the stored options, recomputed when stale."""

from __future__ import annotations

import datetime as dt

from scheduling import booking, clock
from scheduling.models import SchedulingRequest


def test_it_computes_options_for_a_request_that_has_none(world, api):
    request = world.request()
    body = api("read").get(f"/api/v1/scheduling-requests/{request.pk}/availability").json()
    assert body["options"] and body["computed_at"] is not None
    request.refresh_from_db()
    assert body["options"] == request.options


def test_it_answers_fresh_options_as_stored(world, api):
    request = world.request()
    booking.request_solve(request=request)
    SchedulingRequest.objects.filter(pk=request.pk).update(options=[])  # marks what is served: the stored set
    body = api("read").get(f"/api/v1/scheduling-requests/{request.pk}/availability").json()
    assert body["options"] == []


def test_it_recomputes_stale_options(world, api, settings):
    request = world.request()
    booking.request_solve(request=request)
    old = clock.now() - dt.timedelta(minutes=settings.API_OPTIONS_MAX_AGE_MINUTES + 1)
    SchedulingRequest.objects.filter(pk=request.pk).update(options=[], options_computed_at=old)
    body = api("read").get(f"/api/v1/scheduling-requests/{request.pk}/availability").json()
    assert body["options"]
    request.refresh_from_db()
    assert request.options_computed_at > old
