"""The hourly health check records each ATS read component, and a failing one counts without a webhook."""

from __future__ import annotations

from integrations.checks import connections_check
from integrations.models import AtsComponentHealth, Health


def components(flow) -> dict:
    return dict(AtsComponentHealth.objects.filter(connection=flow.connection).values_list("component", "health"))


def test_it_records_each_read_component_of_the_ats(flow):
    connections_check()
    found = components(flow)
    assert found["auth"] == Health.OK and found["reads"] == Health.OK


def test_a_failing_read_component_is_counted_while_auth_stays_healthy(flow):
    flow.fake.add_fault(kind="error", status=503, target="/v3/jobs")
    connections_check()
    found = components(flow)
    assert found["auth"] == Health.OK and found["reads"] in (Health.DEGRADED, Health.RED)
