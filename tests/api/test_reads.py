"""The read endpoints: lists with filters, details with what is nested, errors naming the filter at fault."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from integrations.models import Health
from scheduling.models import SchedulingRequest
from tests import factories as f

S = SchedulingRequest.State


def test_it_lists_requisitions_and_filters_them(api):
    f.RequisitionFactory(title="Backend Engineer", open=True)
    f.RequisitionFactory(title="Designer", open=False)
    body = api("read").get("/api/v1/requisitions/", {"open": "true"}).json()
    assert body["count"] == 1 and body["results"][0]["title"] == "Backend Engineer"
    assert api("read").get("/api/v1/requisitions/", {"q": "desi"}).json()["results"][0]["title"] == "Designer"


def test_it_nests_sessions_and_roles_in_plans(api):
    plan = f.PlanFactory(name="Onsite")
    session = f.SessionTemplateFactory(plan=plan, name="Coding", duration_minutes=60)
    pool = f.PoolFactory(name="Backend")
    f.RoleFactory(session=session, pool=pool)
    body = api("read").get(f"/api/v1/interview-plans/{plan.pk}/").json()
    assert body["requisition"] == {"id": plan.requisition_id, "title": plan.requisition.title}
    assert body["sessions"][0]["name"] == "Coding"
    assert body["sessions"][0]["roles"][0]["pool"] == {"id": pool.pk, "name": "Backend"}


def test_it_shows_interviewers_with_rules_and_pools_with_members(api):
    alice = f.InterviewerFactory(name="Alice", timezone="Europe/London")
    f.AvailabilityRuleFactory(interviewer=alice, weekday=0, start=dt.time(9), end=dt.time(17))
    pool = f.PoolFactory(name="Backend")
    f.MembershipFactory(pool=pool, interviewer=alice)
    body = api("read").get(f"/api/v1/interviewers/{alice.pk}/").json()
    assert body["rules"] == [{"weekday": 0, "start": "09:00:00", "end": "17:00:00"}]
    assert body["pools"] == [{"id": pool.pk, "name": "Backend"}]
    assert api("read").get("/api/v1/interviewers/", {"pool_id": pool.pk}).json()["count"] == 1
    members = api("read").get(f"/api/v1/pools/{pool.pk}/").json()["members"]
    assert members[0]["interviewer"] == {"id": alice.pk, "name": "Alice"}


def test_it_filters_requests_by_state_requisition_and_date(api):
    a = f.SchedulingRequestFactory(state=S.BOOKED)
    b = f.SchedulingRequestFactory(state=S.NEW)
    SchedulingRequest.objects.filter(pk=b.pk).update(created_at=timezone.now() - dt.timedelta(days=10))
    client = api("read")
    ids = lambda **q: [r["id"] for r in client.get("/api/v1/scheduling-requests/", q).json()["results"]]  # noqa: E731
    assert ids(state="booked") == [a.pk]
    assert ids(requisition_id=b.application.requisition_id) == [b.pk]
    assert ids(created_after=(timezone.now() - dt.timedelta(days=1)).isoformat()) == [a.pk]
    assert ids(created_before=(timezone.now() - dt.timedelta(days=5)).isoformat()) == [b.pk]


def test_it_names_the_bad_filter(api):
    response = api("read").get("/api/v1/scheduling-requests/", {"state": "bogus", "created_after": "soon"})
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"state", "created_after"}


def test_it_gives_a_request_with_its_history_and_no_personal_data(api):
    request = f.SchedulingRequestFactory(state=S.NEW)
    f.RequestTransitionFactory(request=request, old_state="new", new_state="awaiting_candidate", cause="link sent")
    response = api("read").get(f"/api/v1/scheduling-requests/{request.pk}/")
    body = response.json()
    assert body["candidate_id"] == request.application.candidate_id
    assert body["transitions"][0]["cause"] == "link sent"
    assert body["transitions"][0]["at"].endswith(("+00:00", "Z"))
    assert request.application.candidate.email.encode() not in response.content


def test_it_answers_404_in_the_error_shape(api):
    response = api("read").get("/api/v1/scheduling-requests/999999/")
    assert response.status_code == 404
    assert response.json() == {"errors": [{"field": None, "message": "Not found."}]}


def test_it_lists_and_gives_scheduled_interviews(api):
    interview = f.ScheduledInterviewFactory()
    session = f.InterviewSessionFactory(interview=interview, name="Coding")
    f.SessionParticipantFactory(session=session)
    listed = api("read").get("/api/v1/scheduled-interviews/", {"request_id": interview.request_id}).json()
    assert [i["id"] for i in listed["results"]] == [interview.pk]
    body = api("read").get(f"/api/v1/scheduled-interviews/{interview.pk}/").json()
    assert body["sessions"][0]["name"] == "Coding" and len(body["sessions"][0]["participants"]) == 1


def test_it_reports_connection_health(api):
    calendar = f.CalendarFactory(health=Health.RED, last_error="notFound", last_error_at=timezone.now())
    f.CalendarFactory(health=Health.OK)
    component = f.AtsComponentHealthFactory(health=Health.DEGRADED)
    body = api("read").get("/api/v1/connection-health").json()
    assert [c["id"] for c in body["unhealthy_calendars"]] == [calendar.pk]
    assert body["unhealthy_calendars"][0]["last_error"] == "notFound"
    assert body["ats_connections"][0]["components"][0]["health"] == "degraded"
    assert component.connection.name == body["ats_connections"][0]["name"]
    assert {c["id"] for c in body["calendar_connections"]} >= {calendar.connection_id}


def test_it_paginates(api):
    for i in range(3):
        f.RequisitionFactory(title=f"Role {i}")
    body = api("read").get("/api/v1/requisitions/", {"page_size": 2}).json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]


def test_a_time_filter_with_an_offset_postgresql_refuses_is_turned_into_utc_not_a_server_error(api):
    # Found by schemathesis: Python accepts offsets up to 23:59, PostgreSQL only to 15:59.
    read_client = api("read")
    resp = read_client.get("/api/v1/scheduled-interviews/", {"start_after": "8370-08-22T20:52:00+18:45"})
    assert resp.status_code == 200
    resp = read_client.get("/api/v1/scheduled-interviews/", {"start_after": "0001-01-01T00:30:00+18:45"})
    assert resp.status_code == 400 and "start_after" in resp.content.decode()
