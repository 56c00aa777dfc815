"""Where events come from: a request started once (however often it is started), a reschedule, a cancel, a
connection turning red. Each makes one delivery per subscription that wants it."""

from __future__ import annotations

from integrations.calendars import health as calendar_health
from integrations.models import WebhookDelivery
from integrations.webhooks.events import emit_request_created
from scheduling import booking


def _events() -> list[str]:
    return list(WebhookDelivery.objects.order_by("id").values_list("event", flat=True))


def test_a_started_request_is_announced_once(world, subscribe):
    subscribe(["scheduling_request.created"])
    request = world.request()

    booking.request_start(request=request)
    emit_request_created(request=request)  # a second door (the ATS, the API) announcing the same request

    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.event == "scheduling_request.created"
    assert delivery.payload["scheduling_request"]["id"] == request.pk


def test_a_reschedule_and_a_cancel_are_announced(world, subscribe):
    subscribe(["interview.booked", "interview.rescheduled", "interview.cancelled"])
    request = world.request()
    booking.request_start(request=request)
    request.refresh_from_db()
    first = booking.interview_book(request=request, option=request.options[0]).interview
    second_option = next(o for o in request.options if o["start"][:10] != request.options[0]["start"][:10])
    second = booking.interview_reschedule(request=request, option=second_option, actor_label="coordinator").interview

    booking.interview_cancel(request=request, by="coordinator", reason="role filled")

    assert _events() == ["interview.booked", "interview.rescheduled", "interview.cancelled"]
    rescheduled = WebhookDelivery.objects.get(event="interview.rescheduled").payload
    assert rescheduled["interview"]["id"] == second.pk and rescheduled["previous_interview"]["id"] == first.pk
    cancelled = WebhookDelivery.objects.get(event="interview.cancelled").payload
    assert cancelled["interview"]["id"] == second.pk and cancelled["cancelled_by"] == "coordinator"


def test_a_calendar_turning_red_is_announced_without_the_providers_error_text(world, subscribe):
    subscribe(["connection.unhealthy"])
    calendar = world.people["alice"].calendar

    calendar_health.mark_failure(calendar, error="invalid_grant for alice@acme.test", permanent=True)
    calendar_health.mark_failure(calendar, error="invalid_grant for alice@acme.test", permanent=True)  # still red

    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.payload["connection"]["type"] == "calendar"
    assert delivery.payload["connection"]["id"] == calendar.pk
    assert delivery.payload["connection"]["connection_id"] == world.connection.pk
    assert "alice" not in str(delivery.payload)
