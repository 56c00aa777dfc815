"""Counts in list pages link to the filtered list they count, and the admin accepts those filters."""

from __future__ import annotations

from django.urls import reverse

from integrations.models import Health
from scheduling.models import SchedulingRequest
from tests import factories as f


def _results(client, url):
    response = client.get(url)
    assert response.status_code == 200, url  # a refused lookup would redirect with ?e=1
    return {obj.pk for obj in response.context["cl"].result_list}


def test_it_links_a_requisitions_open_requests(staff_client):
    request = f.SchedulingRequestFactory()
    f.SchedulingRequestFactory()  # another requisition
    f.SchedulingRequestFactory(application__requisition=request.application.requisition,
                               plan=request.plan, state=SchedulingRequest.State.CANCELLED)
    url = (reverse("admin:scheduling_schedulingrequest_changelist")
           + f"?application__requisition__id__exact={request.application.requisition_id}")

    html = staff_client.get(reverse("admin:scheduling_requisition_changelist")).content.decode()

    assert f'href="{url.replace("&", "&amp;")}">1</a>' in html  # the cancelled one is not open
    assert len(_results(staff_client, url)) == 2


def test_it_links_a_plans_open_requests(staff_client):
    request = f.SchedulingRequestFactory()
    url = reverse("admin:scheduling_schedulingrequest_changelist") + f"?plan__id__exact={request.plan_id}"

    assert url in staff_client.get(reverse("admin:scheduling_interviewplan_changelist")).content.decode()
    assert _results(staff_client, url) == {request.pk}


def test_it_links_a_connections_failing_calendars(staff_client):
    failing = f.CalendarFactory(health=Health.RED)
    f.CalendarFactory(connection=failing.connection, health=Health.OK)
    url = (reverse("admin:integrations_calendar_changelist")
           + f"?connection__id__exact={failing.connection_id}&unhealthy=yes")

    html = staff_client.get(reverse("admin:integrations_calendarconnection_changelist")).content.decode()

    assert url.replace("&", "&amp;") in html
    assert _results(staff_client, url) == {failing.pk}


def test_it_links_an_applications_requests(staff_client):
    request = f.SchedulingRequestFactory()
    url = (reverse("admin:scheduling_schedulingrequest_changelist")
           + f"?application__id__exact={request.application_id}")

    assert url in staff_client.get(reverse("admin:scheduling_application_changelist")).content.decode()
    assert _results(staff_client, url) == {request.pk}
