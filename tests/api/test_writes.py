"""The write endpoints on a real organisation (google fake, mail fake): create and start a request, send or
regenerate its link, cancel it, reschedule and cancel its interview; every write audited as api:<key name>."""

from __future__ import annotations

import pytest

from scheduling import booking
from scheduling.models import AuditEvent, ScheduledInterview, SchedulingLink, SchedulingRequest
from tests import factories as f
from tests.scheduling.booking.support import apart

S = SchedulingRequest.State


def _labels(obj) -> set[str]:
    return set(AuditEvent.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))
               .values_list("actor_label", flat=True))


@pytest.fixture
def booked(world):
    request = world.request()
    booking.request_start(request=request)
    request.refresh_from_db()
    booking.interview_book(request=request, option=request.options[0])
    request.refresh_from_db()
    return request


def test_it_creates_and_starts_a_request_for_an_application(world, api):
    application = f.ApplicationFactory(requisition=world.plan.requisition)
    response = api("write").post("/api/v1/scheduling-requests/",
                                 {"application_id": application.pk, "plan_id": world.plan.pk}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == S.AWAITING_CANDIDATE and body["option_count"] > 0
    request = SchedulingRequest.objects.get(pk=body["id"])
    assert "api:write-key" in _labels(request)


def test_it_creates_a_request_for_a_candidate_and_requisition(world, api):
    candidate = f.CandidateFactory()
    response = api("write").post("/api/v1/scheduling-requests/", {
        "candidate_id": candidate.pk, "requisition_id": world.plan.requisition_id, "plan_id": world.plan.pk},
        format="json")
    assert response.status_code == 201
    assert SchedulingRequest.objects.get(pk=response.json()["id"]).application.candidate == candidate


def test_it_names_the_fields_of_a_bad_create(world, api):
    client = api("write")
    response = client.post("/api/v1/scheduling-requests/", {}, format="json")
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"plan_id"}
    other = f.ApplicationFactory()
    response = client.post("/api/v1/scheduling-requests/", {"application_id": other.pk, "plan_id": world.plan.pk},
                           format="json")
    assert response.json() == {"errors": [{"field": "plan_id",
                                           "message": "the plan belongs to another requisition"}]}
    response = client.post("/api/v1/scheduling-requests/", {"plan_id": world.plan.pk}, format="json")
    assert {e["field"] for e in response.json()["errors"]} == {"candidate_id", "requisition_id"}
    response = client.post("/api/v1/scheduling-requests/", {"plan_id": "seven"}, format="json")
    assert response.json()["errors"] == [{"field": "plan_id", "message": "A valid integer is required."}]


def test_it_answers_409_for_a_second_open_request(world, api):
    request = world.request()
    response = api("write").post("/api/v1/scheduling-requests/",
                                 {"application_id": request.application_id, "plan_id": world.plan.pk}, format="json")
    assert response.status_code == 409
    assert SchedulingRequest.objects.filter(application=request.application).count() == 1


def test_it_sends_a_new_link(world, api):
    request = world.request()
    response = api("write").post(f"/api/v1/scheduling-requests/{request.pk}/link")
    assert response.status_code == 200 and response.json()["state"] == S.AWAITING_CANDIDATE
    assert SchedulingLink.objects.filter(request=request, revoked_at__isnull=True).count() == 1
    assert "api:write-key" in _labels(request)
    assert "token" not in response.json()


def test_it_cancels_a_request(world, api):
    request = world.request()
    response = api("write").post(f"/api/v1/scheduling-requests/{request.pk}/cancel", {"reason": "filled"},
                                 format="json")
    assert response.status_code == 200 and response.json()["state"] == S.CANCELLED
    again = api("write").post(f"/api/v1/scheduling-requests/{request.pk}/link")
    assert again.status_code == 409 and again.json()["errors"][0]["field"] is None


def test_it_reschedules_to_a_stored_option(world, api, booked):
    live = booking.live_interview(booked)
    target = apart(booked.options, live.option)
    response = api("write").post(f"/api/v1/scheduled-interviews/{live.pk}/reschedule", {"start": target["start"]},
                                 format="json")
    assert response.status_code == 200, response.json()
    new = response.json()["interview"]
    assert new["revision"] == 2 and new["state"] == "active"
    live.refresh_from_db()
    assert live.state == ScheduledInterview.State.SUPERSEDED
    assert "api:write-key" in _labels(ScheduledInterview.objects.get(pk=new["id"]))


def test_it_names_a_start_that_is_not_on_offer(world, api, booked):
    live = booking.live_interview(booked)
    client = api("write")
    response = client.post(f"/api/v1/scheduled-interviews/{live.pk}/reschedule",
                           {"start": "2030-01-01T03:07:00Z"}, format="json")
    assert response.json() == {"errors": [{"field": "start", "message": "no stored option starts at this time"}]}
    response = client.post(f"/api/v1/scheduled-interviews/{live.pk}/reschedule", {}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "start"
    response = client.post(f"/api/v1/scheduled-interviews/{live.pk}/reschedule",
                           {"option": {"start": "x", "sessions": [{}]}}, format="json")
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"option.start", "option.end", "option.sessions[0].id"} <= fields


def test_it_cancels_an_interview(world, api, booked):
    live = booking.live_interview(booked)
    response = api("write").post(f"/api/v1/scheduled-interviews/{live.pk}/cancel", {}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    booked.refresh_from_db()
    assert booked.state == S.CANCELLED
    again = api("write").post(f"/api/v1/scheduled-interviews/{live.pk}/cancel", {}, format="json")
    assert again.status_code == 409
