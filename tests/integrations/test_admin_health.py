"""Connection and calendar health is visible in the admin: badge in words, last error, when, failures in a row."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils.html import strip_tags

from integrations.models import Health
from tests import factories as f

ERROR = "invalid_grant: Token has been expired or revoked."


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def red_calendar(db):
    calendar = f.CalendarFactory(external_id="alex@example.com", health=Health.RED, last_error=ERROR,
                                 last_error_at=dt.datetime(2030, 5, 6, 7, 8, tzinfo=dt.UTC), consecutive_failures=4)
    f.InterviewerFactory(name="Alex Chen", calendar=calendar)
    return calendar


def test_it_shows_a_red_calendars_last_error_in_the_calendar_list(staff_client, red_calendar):
    f.CalendarFactory(external_id="sam@example.com", health=Health.OK)

    html = staff_client.get(reverse("admin:integrations_calendar_changelist")).content.decode()

    assert '<span class="lw-badge lw-badge-red"><span aria-hidden="true">✕</span> Broken: needs action</span>' in html
    assert ERROR in html
    assert "2030-05-06 08:08 BST" in strip_tags(html)  # the staff user is in Europe/London
    assert "4 failure(s) in a row" in html
    assert '<span aria-hidden="true">✓</span> Healthy</span>' in html


def test_it_filters_calendars_by_health(staff_client, red_calendar):
    f.CalendarFactory(health=Health.OK)

    response = staff_client.get(reverse("admin:integrations_calendar_changelist"), {"health__exact": "red"})

    assert [c.pk for c in response.context["cl"].result_list] == [red_calendar.pk]


def test_it_shows_the_calendars_health_on_the_interviewer(staff_client, red_calendar):
    interviewer = red_calendar.interviewer
    f.InterviewerFactory(name="No Calendar")

    html = staff_client.get(reverse("admin:scheduling_interviewer_changelist")).content.decode()
    assert '<span aria-hidden="true">✕</span> Broken: needs action</span>' in html
    assert '<span class="lw-muted">No calendar</span>' in html

    html = staff_client.get(reverse("admin:scheduling_interviewer_change", args=[interviewer.pk])).content.decode()
    assert ERROR in html

    response = staff_client.get(reverse("admin:scheduling_interviewer_changelist"), {"calendar_health": "red"})
    assert [i.pk for i in response.context["cl"].result_list] == [interviewer.pk]


def test_it_counts_failing_calendars_on_their_connection(staff_client, red_calendar):
    f.CalendarFactory(connection=red_calendar.connection, health=Health.OK)

    response = staff_client.get(reverse("admin:integrations_calendarconnection_changelist"))

    row = response.context["cl"].result_list[0]
    assert (row._calendars, row._unhealthy) == (2, 1)


def test_it_shows_ats_component_health_on_the_connection(staff_client):
    conn = f.AtsConnectionFactory(health=Health.DEGRADED, last_error="HTTP 503 from Harvest", consecutive_failures=2)
    f.AtsComponentHealthFactory(connection=conn, component="webhooks", health=Health.RED,
                                last_error="No webhook for 3 hours")

    html = staff_client.get(reverse("admin:integrations_atsconnection_changelist")).content.decode()
    assert '<span aria-hidden="true">!</span> Failing (retrying)</span>' in html
    assert "HTTP 503 from Harvest" in html

    html = staff_client.get(reverse("admin:integrations_atsconnection_change", args=[conn.pk])).content.decode()
    assert "webhooks" in html and "No webhook for 3 hours" in html


def test_a_service_account_connection_is_told_to_reauthorise_not_sent_a_link(staff_client):
    # A consent link is for one interviewer's own grant; a service account is fixed in the provider's console.
    conn = f.CalendarConnectionFactory(health=Health.RED, last_error="unauthorized_client")

    response = staff_client.post(reverse("admin:integrations_calendarconnection_changelist"),
                                 {"action": "send_consent_link", ACTION_CHECKBOX_NAME: [conn.pk]}, follow=True)

    [message] = list(response.context["messages"])
    assert message.level == messages.WARNING and "re-authorise a service account" in message.message
    conn.refresh_from_db()
    assert (conn.health, conn.last_error) == (Health.RED, "unauthorized_client")
