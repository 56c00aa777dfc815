"""The hourly health check finds a broken calendar credential even when nothing else calls the provider."""

from __future__ import annotations

from integrations.checks import connections_check
from integrations.models import Health


def test_it_turns_a_broken_calendar_credential_red_and_tells_once(workspace, mail_fake):
    assert connections_check() == "connections checked: 1 healthy, 0 failing"
    workspace.connection.refresh_from_db()
    assert workspace.connection.health == Health.OK
    workspace.fake.add_fault(kind="bad_credentials", target="loopwise@acme-project.iam.gserviceaccount.com")
    assert connections_check() == "connections checked: 0 healthy, 1 failing"
    connections_check()
    workspace.connection.refresh_from_db()
    assert workspace.connection.health == Health.RED and "unauthorized_client" in workspace.connection.last_error
    assert len(mail_fake.state()["messages"]) == 1
