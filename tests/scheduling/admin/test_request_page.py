"""A request is added by hand from its application and plan; its state is never edited on the page."""

from __future__ import annotations

from django.urls import reverse

from scheduling.models import SchedulingRequest
from tests import factories as f

from .helpers import form_data


def test_it_adds_a_request_in_the_new_state(staff_client):
    application = f.ApplicationFactory()
    plan = f.PlanFactory(requisition=application.requisition)

    response = staff_client.post(reverse("admin:scheduling_schedulingrequest_add"), {
        "application": application.pk, "plan": plan.pk, "candidate_timezone": "Asia/Kolkata"})

    assert response.status_code == 302, response.context["adminform"].form.errors
    request = SchedulingRequest.objects.get()
    assert (request.state, request.plan, request.candidate_timezone) == ("new", plan, "Asia/Kolkata")


def test_it_refuses_a_plan_of_another_requisition_and_a_made_up_zone(staff_client):
    application = f.ApplicationFactory()
    other_plan = f.PlanFactory()

    response = staff_client.post(reverse("admin:scheduling_schedulingrequest_add"), {
        "application": application.pk, "plan": other_plan.pk, "candidate_timezone": "Mars/Olympus"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "This plan belongs to" in html
    assert "is not an IANA time zone name" in html
    assert not SchedulingRequest.objects.exists()


def test_it_does_not_let_the_state_be_edited(staff_client):
    request = f.SchedulingRequestFactory(state=SchedulingRequest.State.AWAITING_CANDIDATE)
    url = reverse("admin:scheduling_schedulingrequest_change", args=[request.pk])
    data = form_data(staff_client.get(url))
    data["state"] = "booked"
    data["coordinator"] = str(f.UserFactory(username="new-coordinator").pk)

    assert staff_client.post(url, data).status_code == 302

    request.refresh_from_db()
    assert request.state == SchedulingRequest.State.AWAITING_CANDIDATE
    assert request.coordinator.username == "new-coordinator"


def test_it_adds_a_candidate_without_the_history_tables_of_a_saved_one(staff_client):
    response = staff_client.post(reverse("admin:scheduling_candidate_add"), {
        "first_name": "Noor", "last_name": "Andersson", "email": "noor@example.org", "timezone": "Europe/Stockholm"})

    assert response.status_code == 302, response.context["adminform"].form.errors
