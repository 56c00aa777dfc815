"""Polling finds what webhooks did not deliver, through the same idempotent path, keeps its watermark behind
anything that failed for a reason that may pass, and flags webhooks quiet when it finds a mapped-stage change no
webhook delivered within ATS_QUIET_WEBHOOK_MINUTES: a subscription removed on the Greenhouse side."""

from __future__ import annotations

from integrations.ats.polling import POLL_OVERLAP, ats_poll, ats_poll_all
from integrations.models import AtsComponentHealth, AtsConnection, Health
from scheduling.models import Notice, SchedulingRequest
from scheduling.schedules import SCHEDULES
from tests.integrations.ats_flow.conftest import later


def webhooks(flow) -> AtsComponentHealth | None:
    return AtsComponentHealth.objects.filter(connection=flow.connection, component="webhooks").first()


def quiet_notices() -> list[Notice]:
    return list(Notice.objects.filter(kind="ats.webhooks_quiet"))


def test_it_polls_every_five_minutes():
    assert ("ats-poll", "integrations.tasks.poll_ats", "*/5 * * * *") in [s[:3] for s in SCHEDULES]


def test_it_finds_a_change_no_webhook_delivered_and_creates_its_request(flow, django_capture_on_commit_callbacks):
    flow.fake.remove_webhooks()
    assert flow.move("Onsite")["delivery"] is None

    with django_capture_on_commit_callbacks(execute=True):
        summary = ats_poll_all()

    assert "1 handled" in summary
    [request] = flow.requests()
    assert request.state == SchedulingRequest.State.AWAITING_CANDIDATE
    flow.connection.refresh_from_db()
    assert flow.connection.poll_watermark is not None


def test_it_moves_the_watermark_forward_with_a_little_overlap(flow, frozen, django_capture_on_commit_callbacks):
    flow.fake.remove_webhooks()
    flow.move("Onsite")
    with django_capture_on_commit_callbacks(execute=True):
        ats_poll(connection=flow.connection)
    flow.connection.refresh_from_db()
    first = flow.connection.poll_watermark
    later(frozen, minutes=5)

    flow.move("Phone Screen")
    with django_capture_on_commit_callbacks(execute=True):
        ats_poll(connection=flow.connection)

    flow.connection.refresh_from_db()
    assert flow.connection.poll_watermark > first
    queries = [r["query"] for r in flow.fake.requests() if r["path"] == "/v3/applications" and "updated_at" in
               r["query"]]
    assert len(queries) == 2 and POLL_OVERLAP.total_seconds() == 120


def test_it_keeps_the_watermark_behind_a_change_it_could_not_handle(flow, frozen):
    flow.fake.remove_webhooks()
    flow.move("Onsite")
    flow.fake.add_fault(kind="error", target="/v3/candidates", count=50)

    summary = ats_poll(connection=flow.connection)

    assert "1 failed" in summary and flow.requests() == []
    flow.connection.refresh_from_db()
    zoe = next(a for a in flow.fake.state()["applications"] if a["id"] == 555)
    assert flow.connection.poll_watermark.isoformat().replace("+00:00", "Z") < zoe["updated_at"]
    flow.fake.clear_faults()
    later(frozen, minutes=5)
    assert "1 handled" in ats_poll(connection=flow.connection)
    assert len(flow.requests()) == 1


def test_it_flags_webhooks_quiet_when_the_subscription_was_removed(flow, frozen, django_capture_on_commit_callbacks):
    flow.fake.remove_webhooks()
    flow.move("Onsite")
    later(frozen, minutes=11)

    with django_capture_on_commit_callbacks(execute=True):
        summary = ats_poll(connection=flow.connection)

    assert summary.endswith("; webhooks quiet")
    row = webhooks(flow)
    assert row.quiet_since is not None and row.health == Health.DEGRADED and "no webhook" in row.last_error
    told = quiet_notices()
    assert sorted(n.recipient for n in told) == sorted([flow.world.coordinator.email, "ops@acme.test"])
    assert all("zoe" not in n.body.lower() and n.status == Notice.Status.SENT for n in told)
    assert len(flow.requests()) == 1  # polling did the webhook's work meanwhile

    later(frozen, minutes=5)
    ats_poll(connection=flow.connection)
    assert len(quiet_notices()) == 2  # told once


def test_it_flags_a_change_found_early_once_the_webhook_is_overdue(flow, frozen, django_capture_on_commit_callbacks):
    flow.fake.remove_webhooks()
    flow.move("Onsite")
    later(frozen, minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert not ats_poll(connection=flow.connection).endswith("quiet")

    later(frozen, minutes=10)
    assert ats_poll(connection=flow.connection).endswith("; webhooks quiet")


def test_it_does_not_flag_webhooks_that_delivered(flow, frozen, post_webhook, run_queued):
    sent = flow.sent(flow.move("Onsite")["delivery"])
    post_webhook(flow, sent.body, sent.headers)
    run_queued()
    later(frozen, minutes=11)

    assert not ats_poll(connection=flow.connection).endswith("quiet")
    assert webhooks(flow).quiet_since is None and quiet_notices() == []


def test_it_clears_the_quiet_flag_when_a_delivery_arrives(flow, frozen, post_webhook,
                                                        django_capture_on_commit_callbacks):
    flow.fake.remove_webhooks()
    flow.move("Onsite")
    later(frozen, minutes=11)
    with django_capture_on_commit_callbacks(execute=True):
        ats_poll(connection=flow.connection)
    assert webhooks(flow).quiet_since is not None

    flow.fake.configure_webhooks(enabled=True)
    sent = flow.sent(flow.move("Phone Screen", application=556)["delivery"])
    post_webhook(flow, sent.body, sent.headers)

    row = webhooks(flow)
    assert row.quiet_since is None and row.health == Health.OK
    later(frozen, minutes=5)
    assert not ats_poll(connection=flow.connection).endswith("quiet")


def test_it_reports_and_counts_a_poll_that_fails(flow):
    flow.fake.add_fault(kind="error", target="/v3/applications", count=100)

    for _ in range(3):
        assert "poll failed" in ats_poll(connection=flow.connection)

    reads = AtsComponentHealth.objects.get(connection=flow.connection, component="reads")
    assert reads.health == Health.RED and reads.consecutive_failures == 3
    assert Notice.objects.filter(kind="ats.red").count() == len({flow.world.coordinator.email, "ops@acme.test"})
    assert AtsConnection.objects.get(pk=flow.connection.pk).poll_watermark is None
