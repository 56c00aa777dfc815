"""The recruiting team's side of a calendar connection: "Test the connection" reads (never writes) and records the
answer on the connection's health, and the list names whose calendars hang on each connection, so a red one
says who is left out."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin import helpers
from django.urls import reverse
from django.utils.html import strip_tags

from integrations.models import CalendarConnection, Health
from tests import factories as f
from tests.integrations.calendars.conftest import SA_EMAIL


def act(client, action: str, pk: int) -> list:
    response = client.post(reverse("admin:integrations_calendarconnection_changelist"),
                           {"action": action, helpers.ACTION_CHECKBOX_NAME: [pk]}, follow=True)
    assert response.status_code == 200
    return list(response.context["messages"])


def test_it_tests_a_working_connection_with_one_read_and_marks_it_healthy(workspace, staff_client):
    [message] = act(staff_client, "test_connection", workspace.connection.pk)

    assert message.level == messages.SUCCESS
    assert message.message == ("Acme Workspace: the connection works (Google Calendar reachable; free/busy of "
                               "interviews@acme.test read).")
    workspace.connection.refresh_from_db()
    assert workspace.connection.health == Health.OK and workspace.connection.last_success_at is not None
    calls = [(r["method"], r["path"]) for r in workspace.fake.requests()]
    assert calls == [("POST", "/token"), ("POST", "/calendar/v3/freeBusy")]  # a token and one read: no write


def test_it_says_why_a_broken_connection_fails_and_turns_it_red(workspace, staff_client, mail_fake):
    workspace.fake.add_fault(kind="bad_credentials", target=SA_EMAIL)

    [message] = act(staff_client, "test_connection", workspace.connection.pk)

    assert message.level == messages.ERROR
    assert message.message.startswith("Acme Workspace: the connection FAILS (")
    assert "unauthorized_client" in message.message and message.message.endswith("it is now “Broken: needs action”.")
    workspace.connection.refresh_from_db()
    assert workspace.connection.health == Health.RED and "unauthorized_client" in workspace.connection.last_error
    [notice] = mail_fake.state()["messages"]
    assert notice["subject"] == "Calendar connection broken: Acme Workspace"


def test_it_names_the_interviewers_whose_calendars_each_connection_holds(workspace, staff_client):
    alice, bob, _ = workspace.interviewers
    own = CalendarConnection.objects.create(name="bob@acme.test (google)", provider="google", auth_mode="user_oauth",
                                            health=Health.RED, last_error="invalid_grant")
    workspace.interviewers[1].calendar.connection = own
    workspace.interviewers[1].calendar.save(update_fields=["connection"])
    f.InterviewerFactory(name="Zed Extra", calendar=f.CalendarFactory(connection=workspace.connection))

    response = staff_client.get(reverse("admin:integrations_calendarconnection_changelist"))

    rows = {cl.name: cl for cl in response.context["cl"].result_list}
    admin_ = response.context["cl"].model_admin
    assert admin_.interviewers(rows["bob@acme.test (google)"]) == "Bob Example"
    assert admin_.interviewers(rows["Acme Workspace"]) == "Alice Example, Carol Example, Zed Extra"
    html = strip_tags(staff_client.get(reverse("admin:integrations_calendarconnection_change",
                                               args=[own.pk])).content.decode())
    assert "Interviewers" in html and "Bob Example" in html


def test_it_counts_the_interviewers_it_does_not_list(workspace, staff_client):
    for n in range(2):
        f.InterviewerFactory(name=f"Extra {n}", calendar=f.CalendarFactory(connection=workspace.connection))

    response = staff_client.get(reverse("admin:integrations_calendarconnection_changelist"))

    [row] = response.context["cl"].result_list
    assert (response.context["cl"].model_admin.interviewers(row)
            == "Alice Example, Bob Example, Carol Example and 2 more")
