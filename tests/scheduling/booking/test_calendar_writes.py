"""Calendar writes through the outbox when the provider misbehaves: a transient failure is retried and ends in one
event per session; a revoked grant turns the connection red, the item goes dead, the coordinator hears of it, and
the candidate still gets their confirmation. Without a calendar connection nothing is written."""

from __future__ import annotations

import datetime as dt

import pytest

from integrations.models import CalendarConnection, Health
from scheduling import booking
from scheduling.models import Notice, OrganisationSettings, OutboxItem, WorkState
from tests.scheduling.booking.support import SERVICE_ACCOUNT, deliver, events, messages


@pytest.fixture
def started(world):
    request = world.request()
    booking.request_start(request=request)
    request.refresh_from_db()
    return request


def test_it_retries_a_failed_write_and_writes_each_event_once(world, started, frozen):
    booking.interview_book(request=started, option=started.options[0])
    world.fake.add_fault(kind="error", target="/calendar/v3/calendars/", count=6)

    deliver()
    write = OutboxItem.objects.get(kind="calendar.write_interview")
    assert write.state == WorkState.FAILED and write.attempts == 1

    frozen.shift(dt.timedelta(minutes=5))
    deliver()

    write.refresh_from_db()
    assert write.state == WorkState.DONE
    assert len(events(world.fake)) == 2 and len(world.fake.state()["conferences"]) == 1


def test_it_gives_up_on_a_revoked_grant_and_tells_the_coordinator(world, started, frozen):
    booking.interview_book(request=started, option=started.options[0])
    world.fake.add_fault(kind="revoke", target=SERVICE_ACCOUNT)

    deliver()

    write = OutboxItem.objects.get(kind="calendar.write_interview")
    assert write.state == WorkState.DEAD and "refused" in write.last_error
    world.connection.refresh_from_db()
    assert world.connection.health == Health.RED
    assert Notice.objects.filter(kind="outbox.dead", recipient="casey@acme.test").exists()
    assert events(world.fake) == []
    frozen.shift(dt.timedelta(minutes=3))  # the confirmation waited for the video link, then went without it
    deliver()
    confirmation = [m for m in messages(world.mail, started.application.candidate.email) if "booked" in m["subject"]]
    assert len(confirmation) == 1 and "meet.google.com" not in confirmation[0]["text"]


def test_it_writes_nothing_without_a_calendar_connection_and_still_confirms(world, started):
    retired = CalendarConnection.objects.create(name="Old Workspace", provider="google", auth_mode="service_account",
                                                organiser_calendar="interviews@old.test", active=False)
    OrganisationSettings.objects.filter(pk=1).update(scheduling_connection=retired)

    interview = booking.interview_book(request=started, option=started.options[0]).interview
    deliver()

    assert interview is not None
    assert not OutboxItem.objects.filter(kind="calendar.write_interview").exists()
    assert events(world.fake) == []
    assert [m["subject"] for m in messages(world.mail, started.application.candidate.email)][-1] == \
        "Acme: your Backend Engineer interview is booked"


def test_it_writes_to_the_chosen_scheduling_connection(world, started):
    OrganisationSettings.objects.filter(pk=1).update(scheduling_connection=world.connection)

    booking.interview_book(request=started, option=started.options[0])
    deliver()

    write = OutboxItem.objects.get(kind="calendar.write_interview")
    assert write.payload == {"interview_id": write.payload["interview_id"], "request_id": started.pk,
                             "connection_id": world.connection.pk}
    assert len(events(world.fake)) == 2
