"""Health per component: last success, last error and the run of failures; refused credentials turn auth (and the
connection) red at once, transient trouble after three in a row; the coordinators are told once; a success
ends it all. A webhook that cannot be processed because the connection is broken is retried, not lost."""

from __future__ import annotations

from integrations.ats import health
from integrations.ats.polling import ats_poll
from integrations.models import AtsComponentHealth, AtsConnection, Health
from scheduling.models import AuditEvent, InboundEvent, Notice, WorkState
from tests.integrations.ats_flow.conftest import CLIENT, SECRET, USER


def component(flow, name: str) -> AtsComponentHealth:
    return AtsComponentHealth.objects.get(connection=flow.connection, component=name)


def break_credentials(flow) -> None:
    flow.connection.credentials = {**CLIENT, "client_secret": "wrong", "on_behalf_of": str(USER),
                                   "webhook_secret": SECRET}
    flow.connection.save(update_fields=["credentials"])


def test_it_turns_auth_and_the_connection_red_at_once_on_refused_credentials(flow):
    break_credentials(flow)

    ats_poll(connection=flow.connection)
    ats_poll(connection=flow.connection)

    auth = component(flow, "auth")
    assert auth.health == Health.RED and auth.consecutive_failures == 2 and "invalid_client" in auth.last_error
    connection = AtsConnection.objects.get(pk=flow.connection.pk)
    assert connection.health == Health.RED and connection.last_error_at is not None
    told = Notice.objects.filter(kind="ats.red")
    assert sorted(n.recipient for n in told) == sorted([flow.world.coordinator.email, "ops@acme.test"])
    assert AuditEvent.objects.filter(action="ats_component.red").count() == 1


def test_it_ends_the_run_of_failures_on_the_next_success(flow):
    break_credentials(flow)
    ats_poll(connection=flow.connection)
    flow.connection.credentials = {**CLIENT, "on_behalf_of": str(USER), "webhook_secret": SECRET}
    flow.connection.save(update_fields=["credentials"])

    ats_poll(connection=flow.connection)

    auth = component(flow, "auth")
    assert auth.health == Health.OK and auth.consecutive_failures == 0 and auth.last_success_at is not None
    assert AtsConnection.objects.get(pk=flow.connection.pk).health == Health.OK
    assert AuditEvent.objects.filter(action="ats_connection.recovered").count() == 1


def test_it_waits_for_three_transient_failures_in_a_row_before_turning_red(flow):
    error = health.ProviderError("Greenhouse 503 on GET /v3/applications", permanent=False, scope="request",
                                 component="reads")

    assert health.mark_error(connection=flow.connection, error=error) is False
    assert health.mark_error(connection=flow.connection, error=error) is False
    assert component(flow, "reads").health == Health.DEGRADED
    assert health.mark_error(connection=flow.connection, error=error) is True
    assert health.mark_error(connection=flow.connection, error=error) is False

    assert component(flow, "reads").health == Health.RED
    assert AtsConnection.objects.get(pk=flow.connection.pk).health == Health.UNKNOWN  # not its credentials
    assert Notice.objects.filter(kind="ats.red").count() == 2  # coordinator and fallback, once each


def test_it_counts_nothing_for_an_error_about_one_call(flow):
    gone = health.ProviderError("Greenhouse has no application 1", permanent=True, scope="request",
                                reason="not_found", component="reads")

    assert health.mark_error(connection=flow.connection, error=gone) is False
    assert AtsComponentHealth.objects.count() == 0


def test_it_retries_a_stored_webhook_while_the_connection_is_broken(flow, post_webhook, run_queued):
    sent = flow.sent(flow.move("Onsite")["delivery"])
    post_webhook(flow, sent.body, sent.headers)
    break_credentials(flow)

    run_queued()

    event = InboundEvent.objects.get()
    assert event.state == WorkState.FAILED and "401 on POST /token" in event.last_error
    assert component(flow, "auth").health == Health.RED and flow.requests() == []
