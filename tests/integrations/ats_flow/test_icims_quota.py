"""The iCIMS daily call quota (issue 9; contract §1.10, §1.12): read from the rate-limit headers, kept on the
connection, shown in the admin (list and page) and on the dashboard, amber once 20 % or less is left, and red,
saying when it resets, once it is spent (the fake's `quota_exhausted`): the "quota" part turns red and the
coordinators hear of it once, while auth stays as it was; no worker calls iCIMS again before the reset; the first
answer after the reset turns it green."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils.html import strip_tags

from integrations.ats.base import provider_for
from integrations.ats.polling import ats_poll
from integrations.models import AtsComponentHealth, AtsConnection, Health
from scheduling.models import Notice
from tests.integrations.ats_flow.conftest import OTHER, ZOE, later

MIDNIGHT = dt.datetime(2026, 12, 8, 0, 0, tzinfo=dt.UTC)  # the reset after the flow's NOW (Monday 06:00 UTC)


def quota_row(flow) -> AtsComponentHealth | None:
    return AtsComponentHealth.objects.filter(connection=flow.connection, component="quota").first()


def connection(flow) -> AtsConnection:
    return AtsConnection.objects.get(pk=flow.connection.pk)


def calls(flow, n: int) -> None:
    with provider_for(connection(flow)) as ats:
        for i in range(n):
            ats.get_candidate(str(ZOE if i % 2 else OTHER))


def api_calls(flow) -> list[dict]:
    return [r for r in flow.fake.requests() if r["path"].startswith("/customers/")]


def test_it_keeps_what_the_rate_limit_headers_say_on_the_connection(icims_flow):
    icims_flow.fake.seed({"settings": {"daily_limit": 10_000}})

    calls(icims_flow, 3)

    conn = connection(icims_flow)
    assert (conn.api_quota_limit, conn.api_quota_remaining) == (10_000, 9_997)
    assert abs(conn.api_quota_resets_at - MIDNIGHT) < dt.timedelta(seconds=5)
    assert conn.api_quota_seen_at is not None
    assert quota_row(icims_flow).health == Health.OK


def test_it_warns_once_a_fifth_or_less_is_left(icims_flow):
    icims_flow.fake.seed({"settings": {"daily_limit": 10}})

    calls(icims_flow, 7)
    assert quota_row(icims_flow).health == Health.OK  # 3 of 10 left: above the warning
    calls(icims_flow, 1)

    row = quota_row(icims_flow)
    assert row.health == Health.DEGRADED
    assert "2 of 10 calls left" in row.last_error and "resets at 2026-12-08 00:00 UTC" in row.last_error
    assert Notice.objects.filter(kind="ats.red").count() == 0  # a warning in the admin, not an alarm


def test_a_spent_quota_turns_the_quota_part_red_and_says_when_it_resets(icims_flow, django_capture_on_commit_callbacks):
    icims_flow.fake.add_fault(kind="quota_exhausted")

    summary = ats_poll(connection=icims_flow.connection)

    assert "poll failed (quota_exhausted)" in summary
    row = quota_row(icims_flow)
    assert row.health == Health.RED
    assert "Daily API quota exhausted: 0 of 10,000 calls left" in row.last_error
    assert "resets at 2026-12-08 00:00 UTC (in 17 h 59 min)" in row.last_error
    auth = AtsComponentHealth.objects.filter(connection=icims_flow.connection, component="auth").first()
    assert auth is None or auth.health != Health.RED  # the credentials are fine
    told = Notice.objects.filter(kind="ats.red")
    assert sorted(n.recipient for n in told) == sorted([icims_flow.world.coordinator.email, "ops@acme.test"])
    assert all("(quota)" in n.subject and "resets at" in n.body for n in told)
    conn = connection(icims_flow)
    assert conn.api_quota_remaining == 0 and conn.api_quota_resets_at is not None


def test_no_worker_calls_icims_again_before_the_reset(icims_flow):
    icims_flow.fake.add_fault(kind="quota_exhausted")
    ats_poll(connection=icims_flow.connection)
    spent = len(api_calls(icims_flow))

    for _ in range(3):
        assert "quota_exhausted" in ats_poll(connection=connection(icims_flow))

    assert len(api_calls(icims_flow)) == spent == 1
    assert Notice.objects.filter(kind="ats.red").count() == 2  # told once (two recipients)
    assert quota_row(icims_flow).health == Health.RED
    assert not AtsComponentHealth.objects.filter(connection=icims_flow.connection, component="auth",
                                                 health=Health.RED).exists()


def test_the_first_answer_after_the_reset_turns_it_green(icims_flow, frozen):
    icims_flow.fake.add_fault(kind="quota_exhausted")
    ats_poll(connection=icims_flow.connection)
    icims_flow.fake.clear_faults()

    later(frozen, hours=18, minutes=1)
    assert "poll failed" not in ats_poll(connection=connection(icims_flow))

    assert quota_row(icims_flow).health == Health.OK
    conn = connection(icims_flow)
    assert conn.api_quota_remaining > 0 and conn.api_quota_resets_at > MIDNIGHT


def test_the_admin_shows_the_quota_and_its_warning(icims_flow, staff_client):
    icims_flow.fake.add_fault(kind="quota_exhausted")
    ats_poll(connection=icims_flow.connection)

    page = staff_client.get(reverse("admin:integrations_atsconnection_change", args=[icims_flow.connection.pk]))
    listing = staff_client.get(reverse("admin:integrations_atsconnection_changelist"))

    assert page.status_code == listing.status_code == 200
    text = " ".join(strip_tags(page.content.decode()).split())
    assert "API quota (calls left today)" in text
    assert "Daily API quota exhausted: 0 of 10,000 calls left; resets at 2026-12-08 00:00 UTC" in text
    assert "warns when 20% or less of the day's calls are left" in text
    listed = " ".join(strip_tags(listing.content.decode()).split())
    assert "Broken: needs action 0 / 10,000" in listed


def test_the_admin_shows_a_healthy_quota_plainly(icims_flow, staff_client):
    calls(icims_flow, 2)

    listing = staff_client.get(reverse("admin:integrations_atsconnection_changelist"))

    listed = " ".join(strip_tags(listing.content.decode()).split())
    assert "9,998 / 10,000" in listed and "Broken: needs action 9,998" not in listed


def test_the_dashboard_lists_a_spent_quota_with_its_reset(icims_flow, staff_client):
    icims_flow.fake.add_fault(kind="quota_exhausted")
    ats_poll(connection=icims_flow.connection)

    page = staff_client.get("/dashboard/")

    assert page.status_code == 200
    text = " ".join(strip_tags(page.content.decode()).split())
    assert f"ATS {icims_flow.connection.name}: quota" in text
    assert f"ATS connection {icims_flow.connection.name}" in text  # the connection itself is failing too
    assert "Daily API quota exhausted: 0 of 10,000 calls left; resets at 2026-12-08 00:00 UTC" in text


@pytest.mark.parametrize("provider", ["greenhouse", "lever"])
def test_the_admin_says_other_providers_report_no_quota(db, staff_client, provider):
    conn = AtsConnection.objects.create(name=f"Acme {provider}", provider=provider, fallback_email="ops@acme.test")

    page = staff_client.get(reverse("admin:integrations_atsconnection_change", args=[conn.pk]))

    assert "This provider reports no call quota." in page.content.decode()
