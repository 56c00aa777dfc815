import pytest

from scheduling.notifications import coordinator_emails, fallback_emails, recipients_for
from tests.factories import (
    AtsConnectionFactory,
    RequisitionFactory,
    SchedulingRequestFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_it_prefers_the_requests_own_coordinator():
    request = SchedulingRequestFactory(coordinator=UserFactory(email="own@example.com"))
    assert coordinator_emails(request) == ["own@example.com"]


def test_it_falls_back_to_the_requisitions_coordinator():
    request = SchedulingRequestFactory(coordinator=None)
    assert coordinator_emails(request) == [request.plan.requisition.coordinator.email]


def test_it_skips_an_inactive_coordinator_for_the_ats_connections_address():
    connection = AtsConnectionFactory(fallback_email="ats-ops@example.com")
    requisition = RequisitionFactory(coordinator=UserFactory(is_active=False), ats_connection=connection)
    request = SchedulingRequestFactory(coordinator=None, application__requisition=requisition)
    assert coordinator_emails(request) == ["ats-ops@example.com"]
    assert coordinator_emails(requisition) == ["ats-ops@example.com"]
    assert coordinator_emails(request.application) == ["ats-ops@example.com"]


def test_it_ends_with_admins_then_superusers(settings):
    requisition = RequisitionFactory(coordinator=None)
    UserFactory(username="root", email="root@example.com", is_superuser=True)
    UserFactory(username="staff", email="staff@example.com", is_superuser=False)
    settings.ADMINS = []
    assert coordinator_emails(requisition) == ["root@example.com"]
    settings.ADMINS = [("Ops", "ops-team@example.com")]
    assert coordinator_emails(requisition) == ["ops-team@example.com"]
    assert fallback_emails() == ["ops-team@example.com"]


def test_it_finds_the_owner_of_work_named_by_ids(settings):
    settings.ADMINS = [("Ops", "ops-team@example.com")]
    request = SchedulingRequestFactory(coordinator=UserFactory(email="own@example.com"))
    connection = AtsConnectionFactory(fallback_email="ats-ops@example.com")
    assert recipients_for(payload={"request_id": request.pk}) == ["own@example.com"]
    assert recipients_for(payload={"requisition_id": request.plan.requisition_id}) == [
        request.plan.requisition.coordinator.email]
    assert recipients_for(payload={}, target=f"ats:{connection.pk}") == ["ats-ops@example.com"]
    assert recipients_for(payload={"request_id": 999999}, target="calendar:3") == ["ops-team@example.com"]
