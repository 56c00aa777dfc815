"""A stage change into a mapped stage creates exactly one scheduling request, which goes through the portal flow,
however many times and ways the change is seen: the webhook, ten replays of it, a retry under another event id,
polling; the application is re-read from the API, never taken from the payload."""

from __future__ import annotations

import json

from integrations.ats.greenhouse import signature_for
from integrations.ats.polling import ats_poll
from integrations.ats.sync import stage_change_handle
from scheduling import booking
from scheduling.models import Application, AuditEvent, Candidate, InboundEvent, SchedulingRequest
from tests.integrations.ats_flow.conftest import OTHER_APP, SECRET, ZOE_APP

S = SchedulingRequest.State


def test_it_creates_one_request_from_a_webhook_ten_replays_and_a_poll(flow, post_webhook, run_queued):
    delivery = flow.move("Onsite")["delivery"]
    sent = flow.sent(delivery)
    post_webhook(flow, sent.body, sent.headers)
    run_queued()

    for _ in range(10):
        flow.fake.redeliver(delivery=delivery["n"])
        again = flow.receiver.deliveries[-1]
        assert again.body == sent.body and again.headers["Greenhouse-Event-ID"] == delivery["event_id"]
        assert post_webhook(flow, again.body, again.headers).json()["duplicate"] is True
    run_queued()
    with_poll = ats_poll(connection=flow.connection)

    [request] = flow.requests()
    assert InboundEvent.objects.count() == 1 and InboundEvent.objects.get().state == "done"
    assert request.application.external_id == str(ZOE_APP)
    assert request.application.stage == flow.stages["Onsite"] and request.coordinator == flow.world.coordinator
    assert with_poll.endswith("2 changed, 0 handled, 0 skipped, 0 failed")  # nothing left to do: no API call
    assert Candidate.objects.count() == 1 and Application.objects.count() == 1


def test_it_creates_nothing_more_for_a_retry_under_a_new_event_id(flow, post_webhook, run_queued):
    sent = flow.sent(flow.move("Onsite")["delivery"])
    post_webhook(flow, sent.body, sent.headers)
    retry = {**sent.headers, "Greenhouse-Event-ID": "a-new-id-for-the-same-change"}
    post_webhook(flow, sent.body, retry)
    run_queued()

    assert InboundEvent.objects.filter(state="done").count() == 2
    assert len(flow.requests()) == 1


def test_it_sends_the_request_through_the_portal_flow(flow, post_webhook, run_queued):
    sent = flow.sent(flow.move("Onsite")["delivery"])

    post_webhook(flow, sent.body, sent.headers)
    run_queued()

    [request] = flow.requests()
    assert request.state == S.AWAITING_CANDIDATE and request.options and request.link_sent_at is not None
    [mail] = [m for m in flow.world.mail.state()["messages"] if "zoe@example.com" in m["to"]]
    assert "/s/" in mail["text"] or "http" in mail["text"]
    assert AuditEvent.objects.filter(action="request.created", actor_label="webhook").count() == 1


def test_it_trusts_the_api_not_the_payload(flow, post_webhook, run_queued):
    """A signed payload saying "Onsite" for an application the API says is still in Application Review makes no
    request: the payload is a hint."""
    body = json.dumps({"action": "candidate_stage_change", "payload": {"application": {
        "id": OTHER_APP, "current_stage": {"id": 9003, "name": "Onsite"}}}}).encode()

    assert post_webhook(flow, body, {"Signature": signature_for(SECRET, body)}).status_code == 200
    run_queued()

    assert flow.requests() == [] and Candidate.objects.count() == 0
    assert InboundEvent.objects.get().state == "done"


def test_it_pulls_no_candidate_for_a_stage_no_plan_maps(flow, post_webhook, run_queued):
    sent = flow.sent(flow.move("Phone Screen")["delivery"])

    post_webhook(flow, sent.body, sent.headers)
    run_queued()

    assert flow.requests() == [] and Candidate.objects.count() == 0 and Application.objects.count() == 0


def test_it_needs_the_stage_to_be_left_and_entered_again_after_a_request_closed(
        flow, django_capture_on_commit_callbacks):
    flow.move("Onsite")
    with django_capture_on_commit_callbacks(execute=True):
        request = stage_change_handle(connection=flow.connection, application_external_id=str(ZOE_APP))
    booking.interview_cancel(request=request, by="coordinator")

    with django_capture_on_commit_callbacks(execute=True):
        assert stage_change_handle(connection=flow.connection, application_external_id=str(ZOE_APP)) is None
        ats_poll(connection=flow.connection)
    assert len(flow.requests()) == 1

    flow.move("Phone Screen")
    with django_capture_on_commit_callbacks(execute=True):
        assert stage_change_handle(connection=flow.connection, application_external_id=str(ZOE_APP)) is None
    flow.move("Onsite")
    with django_capture_on_commit_callbacks(execute=True):
        again = stage_change_handle(connection=flow.connection, application_external_id=str(ZOE_APP))

    assert again is not None and again.pk != request.pk
    assert [r.state for r in SchedulingRequest.objects.order_by("pk")] == [S.CANCELLED, S.AWAITING_CANDIDATE]
    entries = AuditEvent.objects.filter(action="application.stage_entered").order_by("pk")
    assert [e.summary for e in entries] == ["stage 9003 (Onsite)", "stage 9002 (Phone Screen)", "stage 9003 (Onsite)"]


def test_it_makes_no_request_for_an_application_that_is_not_active(flow, django_capture_on_commit_callbacks):
    flow.fake.seed({"applications": [{"id": ZOE_APP, "candidate_id": 777, "job_id": 42, "stage": "Onsite",
                                      "status": "rejected"}]})

    with django_capture_on_commit_callbacks(execute=True):
        assert stage_change_handle(connection=flow.connection, application_external_id=str(ZOE_APP)) is None

    assert flow.requests() == []


def test_it_makes_no_request_while_the_plan_is_switched_off(flow, django_capture_on_commit_callbacks):
    flow.plan.active = False
    flow.plan.save(update_fields=["active"])
    flow.move("Onsite")

    with django_capture_on_commit_callbacks(execute=True):
        assert stage_change_handle(connection=flow.connection, application_external_id=str(ZOE_APP)) is None

    assert SchedulingRequest.objects.count() == 0


def test_it_starts_a_request_a_killed_worker_left_new_when_the_change_is_seen_again(
        flow, django_capture_on_commit_callbacks):
    flow.move("Onsite")
    stage_change_handle(connection=flow.connection, application_external_id=str(ZOE_APP))  # start never ran
    [request] = flow.requests()
    assert request.state == S.NEW

    with django_capture_on_commit_callbacks(execute=True):
        ats_poll(connection=flow.connection)

    request.refresh_from_db()
    assert request.state == S.AWAITING_CANDIDATE and len(flow.requests()) == 1
