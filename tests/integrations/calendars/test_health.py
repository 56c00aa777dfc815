"""Health marks: transient trouble turns nothing red until it persists; a permanent failure turns red at once,
records the provider's error, tells the coordinators whose plans use the people once, and success recovers."""

from __future__ import annotations

import pytest

from integrations.calendars import health
from integrations.models import Health
from scheduling.models import AuditEvent, Notice
from tests import factories as f


@pytest.fixture
def alice_calendar(db):
    coordinator = f.UserFactory(username="coord", email="coord@example.com")
    plan = f.PlanFactory(requisition__coordinator=coordinator)
    session = f.SessionTemplateFactory(plan=plan)
    pool = f.PoolFactory()
    f.RoleFactory(session=session, pool=pool)
    cal = f.CalendarFactory(external_id="alice@example.com")
    f.MembershipFactory(pool=pool, interviewer=f.InterviewerFactory(name="Alice Ng", calendar=cal))
    return cal


def test_it_turns_a_calendar_red_at_once_on_a_permanent_error_and_tells_the_coordinator(alice_calendar, mail_fake):
    assert health.mark_failure(alice_calendar, error="notFound: calendar not found", permanent=True)
    alice_calendar.refresh_from_db()
    assert alice_calendar.health == Health.RED and alice_calendar.last_error == "notFound: calendar not found"
    assert alice_calendar.last_error_at is not None
    [msg] = mail_fake.state()["messages"]
    assert msg["to"] == ["coord@example.com"] and "Alice Ng" in msg["subject"]
    assert "calendar unknown" in msg["text"]
    assert AuditEvent.objects.filter(action="calendar.red", object_id=str(alice_calendar.pk)).count() == 1


def test_it_tells_only_once_while_the_calendar_stays_red(alice_calendar, mail_fake):
    health.mark_failure(alice_calendar, error="notFound", permanent=True)
    assert not health.mark_failure(alice_calendar, error="notFound", permanent=True)
    assert len(mail_fake.state()["messages"]) == 1
    assert Notice.objects.filter(kind="calendar.red").count() == 1


def test_it_keeps_transient_trouble_amber_until_it_persists(alice_calendar, mail_fake):
    for n in range(health.RED_AFTER - 1):
        assert not health.mark_failure(alice_calendar, error="503 backendError", permanent=False)
        alice_calendar.refresh_from_db()
        assert alice_calendar.health == Health.DEGRADED and alice_calendar.consecutive_failures == n + 1
    assert mail_fake.state()["messages"] == []
    assert health.mark_failure(alice_calendar, error="503 backendError", permanent=False)
    alice_calendar.refresh_from_db()
    assert alice_calendar.health == Health.RED


def test_it_recovers_on_success(alice_calendar, mail_fake):
    health.mark_failure(alice_calendar, error="notFound", permanent=True)
    health.mark_success(alice_calendar)
    alice_calendar.refresh_from_db()
    assert alice_calendar.health == Health.OK and alice_calendar.consecutive_failures == 0
    assert alice_calendar.last_success_at is not None
