"""The recruiting team's side: test a connection (each read part, and why one fails; writes are never probed), see
its webhook URL, import jobs and stages, poll now, and try a stage mapping ("who is in this stage now?")."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin import helpers
from django.urls import reverse

from integrations.models import AtsComponentHealth, Health
from scheduling.models import AtsStage, Requisition
from tests.integrations.ats_flow.conftest import CLIENT, JOB, SECRET, USER, ZOE_APP


def act(client, url_name: str, action: str, pk: int) -> list:
    response = client.post(reverse(url_name), {"action": action, helpers.ACTION_CHECKBOX_NAME: [pk]}, follow=True)
    assert response.status_code == 200
    return list(response.context["messages"])


def test_it_tests_each_part_of_a_working_connection_without_writing(flow, staff_client):
    [message] = act(staff_client, "admin:integrations_atsconnection_changelist", "test_connection",
                    flow.connection.pk)

    assert message.level == messages.SUCCESS
    assert message.message.startswith("Acme Greenhouse: all checked parts work.")
    assert "auth works" in message.message and "reads works" in message.message
    assert "writes not checked" in message.message and "webhooks not checked" in message.message
    assert [r for r in flow.fake.requests() if r["method"] == "POST" and r["path"] != "/token"] == []
    assert AtsComponentHealth.objects.get(connection=flow.connection, component="reads").health == Health.OK


def test_it_names_the_part_that_fails_and_why(flow, staff_client):
    flow.connection.credentials = {**CLIENT, "on_behalf_of": str(USER + 1), "webhook_secret": SECRET}
    flow.connection.save(update_fields=["credentials"])  # Tom is not a Site Admin: every read is refused

    [message] = act(staff_client, "admin:integrations_atsconnection_changelist", "test_connection",
                    flow.connection.pk)

    assert message.level == messages.ERROR
    assert message.message.startswith("Acme Greenhouse: reads, writes failing.")
    assert "auth works" in message.message
    assert "The acting user must be a Site Admin to use list endpoints" in message.message
    reads = AtsComponentHealth.objects.get(connection=flow.connection, component="reads")
    assert reads.health == Health.DEGRADED and "403" in reads.last_error


def test_it_shows_the_webhook_url_on_the_connection(flow, staff_client, settings):
    settings.PUBLIC_BASE_URL = "https://loopwise.acme.test"

    html = staff_client.get(reverse("admin:integrations_atsconnection_change", args=[flow.connection.pk])).content

    assert f"https://loopwise.acme.test/webhooks/ats/{flow.connection.webhook_key}/".encode() in html
    assert SECRET.encode() not in html and CLIENT["client_secret"].encode() not in html


def test_it_imports_jobs_and_stages(flow, staff_client):
    flow.fake.seed({"jobs": [{"id": 43, "name": "Data Scientist", "stages": [{"id": 9101, "name": "Screen"},
                                                                             {"id": 9102, "name": "Onsite"}]}]})

    [message] = act(staff_client, "admin:integrations_atsconnection_changelist", "import_jobs", flow.connection.pk)

    assert message.level == messages.SUCCESS and "2 open jobs and 6 stages imported" in message.message
    new = Requisition.objects.get(ats_connection=flow.connection, external_id="43")
    assert new.title == "Data Scientist"
    assert list(AtsStage.objects.filter(requisition=new).values_list("external_id", "name", "position")) == [
        ("9101", "Screen", 0), ("9102", "Onsite", 1)]
    assert AtsStage.objects.filter(requisition__external_id=str(JOB)).count() == 4  # the mapped ones, unchanged


def test_it_polls_now(flow, staff_client):
    flow.fake.remove_webhooks()
    flow.move("Onsite")

    [message] = act(staff_client, "admin:integrations_atsconnection_changelist", "poll_now", flow.connection.pk)

    assert "1 handled" in message.message and len(flow.requests()) == 1


def test_it_lists_who_is_in_a_mapped_stage_now(flow, staff_client):
    flow.move("Onsite")

    [message] = act(staff_client, "admin:scheduling_interviewplan_changelist", "who_is_in_stage", flow.plan.pk)

    assert message.level == messages.INFO
    assert "1 application(s) in this stage in the ATS now" in message.message
    assert f"#{ZOE_APP} (not in Loopwise yet)" in message.message
    assert flow.requests() == []  # trying a mapping changes nothing


def test_it_says_when_a_plan_has_no_ats_stage(flow, staff_client):
    flow.plan.stage = None
    flow.plan.save(update_fields=["stage"])

    [message] = act(staff_client, "admin:scheduling_interviewplan_changelist", "who_is_in_stage", flow.plan.pk)

    assert message.level == messages.ERROR and "no stage from an ATS" in message.message
