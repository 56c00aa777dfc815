"""The home page leads to the common tasks; organisation settings is one row edited in place."""

from __future__ import annotations

from django.urls import reverse

from integrations.models import Health
from scheduling.models import OrganisationSettings, SchedulingRequest, User
from tests import factories as f


def test_it_leads_to_the_common_tasks_from_the_home_page(staff_client):
    f.SchedulingRequestFactory(state=SchedulingRequest.State.NEEDS_ATTENTION)
    f.CalendarFactory(health=Health.RED)

    response = staff_client.get(reverse("admin:index"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "<title>Home | Loopwise admin</title>" in html
    assert ">Loopwise</a>" in html
    assert "Start here" in html
    for name in ("scheduling_interviewplan", "scheduling_interviewerpool", "scheduling_interviewer",
                 "integrations_atsconnection", "integrations_calendarconnection",
                 "scheduling_organisationsettings"):
        assert reverse(f"admin:{name}_changelist") in html, name
    assert reverse("admin:scheduling_schedulingrequest_changelist") + "?state__exact=needs_attention" in html
    assert '<span class="lw-count lw-badge lw-badge-red">1</span>' in html  # one request needs attention
    assert "calendars failing" in html


def test_it_filters_requests_needing_attention_from_the_home_page_link(staff_client):
    stuck = f.SchedulingRequestFactory(state=SchedulingRequest.State.NEEDS_ATTENTION)
    f.SchedulingRequestFactory(state=SchedulingRequest.State.AWAITING_CANDIDATE)

    response = staff_client.get(reverse("admin:scheduling_schedulingrequest_changelist"),
                                {"state__exact": "needs_attention"})

    assert [r.pk for r in response.context["cl"].result_list] == [stuck.pk]


def test_it_opens_the_one_settings_row_from_the_list_page(staff_client):
    response = staff_client.get(reverse("admin:scheduling_organisationsettings_changelist"))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:scheduling_organisationsettings_change", args=[1])
    assert OrganisationSettings.objects.count() == 1


def test_it_neither_adds_a_second_settings_row_nor_deletes_the_first(staff_client):
    OrganisationSettings.load()

    assert staff_client.get(reverse("admin:scheduling_organisationsettings_add")).status_code == 403
    assert staff_client.get(reverse("admin:scheduling_organisationsettings_delete", args=[1])).status_code == 403
    assert OrganisationSettings.objects.count() == 1


def test_it_saves_the_settings(staff_client):
    OrganisationSettings.load()
    url = reverse("admin:scheduling_organisationsettings_change", args=[1])

    response = staff_client.post(url, {"company_name": "Acme Robotics", "sender_email": "jobs@acme.example",
                                       "logo_url": "", "reply_to_email": "", "support_contact": ""})

    assert response.status_code == 302
    assert OrganisationSettings.load().company_name == "Acme Robotics"


def test_it_adds_a_staff_user_with_a_time_zone(staff_client):
    response = staff_client.post(reverse("admin:scheduling_user_add"), {
        "username": "sam", "email": "sam@example.com", "first_name": "Sam", "last_name": "Lee",
        "timezone": "America/New_York", "usable_password": "true",
        "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42",
    })

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert User.objects.get(username="sam").timezone == "America/New_York"
