"""The webhook endpoint: a verified delivery is stored before it is answered 200 (a ping too), a bad signature is
refused with 401 and a log line and changes nothing, a malformed body gets 400 with the reason, an unknown key
404; Greenhouse's escaped `<`, `>` and non-ASCII bytes verify as sent, end to end."""

from __future__ import annotations

import json
import logging

from integrations.ats.greenhouse import signature_for
from integrations.models import AtsComponentHealth, Health
from scheduling.models import Application, Candidate, InboundEvent, SchedulingRequest
from tests.integrations.ats_flow.conftest import SECRET, ZOE_APP


def test_it_stores_a_verified_stage_change_before_answering_200(flow, post_webhook):
    sent = flow.sent(flow.move("Phone Screen")["delivery"])

    response = post_webhook(flow, sent.body, sent.headers)

    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert response.json() == {"received": True, "event": event.pk, "duplicate": False}
    assert event.connection == flow.connection and event.kind == "stage_change"
    assert event.event_key == "gh:" + sent.headers["Greenhouse-Event-ID"]
    assert event.raw_body.encode() == sent.body and event.state == "pending"
    webhooks = AtsComponentHealth.objects.get(connection=flow.connection, component="webhooks")
    assert webhooks.health == Health.OK and webhooks.last_success_at is not None


def test_it_answers_a_ping_after_verifying_and_storing_it(flow, post_webhook):
    flow.fake.configure_webhooks(enabled=False)
    answer = flow.fake.ping()
    assert answer["webhooks_enabled"] is True  # the receiver said 200
    sent = flow.receiver.deliveries[-1]

    response = post_webhook(flow, sent.body, sent.headers)

    assert response.status_code == 200
    assert InboundEvent.objects.get().kind == "ping"


def test_it_refuses_a_bad_signature_with_401_logs_it_and_changes_nothing(flow, post_webhook, caplog):
    sent = flow.sent(flow.move("Onsite")["delivery"])
    forged = {**sent.headers, "Signature": signature_for("not-the-secret", sent.body)}

    with caplog.at_level(logging.WARNING, logger="integrations.views"):
        response = post_webhook(flow, sent.body, forged)

    assert response.status_code == 401 and response.json() == {"error": "signature does not match"}
    assert InboundEvent.objects.count() == 0 and AtsComponentHealth.objects.count() == 0
    assert Candidate.objects.count() == 0 and Application.objects.count() == 0
    assert SchedulingRequest.objects.count() == 0
    [line] = [r for r in caplog.records if r.name == "integrations.views"]
    assert f"connection #{flow.connection.pk}" in line.getMessage() and "signature" in line.getMessage()
    assert "Zo" not in line.getMessage() and "example.com" not in line.getMessage()


def test_it_refuses_a_delivery_without_a_signature(flow, post_webhook):
    sent = flow.sent(flow.move("Onsite")["delivery"])
    headers = {k: v for k, v in sent.headers.items() if k.lower() != "signature"}

    response = post_webhook(flow, sent.body, headers)

    assert response.status_code == 401 and "Signature" in response.json()["error"]
    assert InboundEvent.objects.count() == 0


def test_it_refuses_malformed_json_with_400_and_the_reason(flow, post_webhook):
    body = b'{"action":"candidate_stage_change","payload":{"application":'
    headers = {"Signature": signature_for(SECRET, body), "Greenhouse-Event-ID": "evt-broken"}

    response = post_webhook(flow, body, headers)

    assert response.status_code == 400
    assert response.json()["error"].startswith("body is not JSON")
    assert InboundEvent.objects.count() == 0


def test_it_refuses_a_stage_change_without_an_application_id_with_400(flow, post_webhook):
    body = json.dumps({"action": "candidate_stage_change", "payload": {"application": {"current_stage": {
        "id": 9003}}}}).encode()

    response = post_webhook(flow, body, {"Signature": signature_for(SECRET, body)})

    assert response.status_code == 400
    assert response.json() == {"error": "candidate_stage_change without payload.application.id"}


def test_it_answers_404_for_an_unknown_key_and_an_inactive_connection(flow, post_webhook):
    sent = flow.sent(flow.move("Onsite")["delivery"])

    assert post_webhook(flow, sent.body, sent.headers, path="/webhooks/ats/not-a-key/").status_code == 404
    flow.connection.active = False
    flow.connection.save(update_fields=["active"])
    assert post_webhook(flow, sent.body, sent.headers).status_code == 404
    assert InboundEvent.objects.count() == 0


def test_it_answers_only_post(flow, client):
    assert client.get(flow.webhook_path).status_code == 405


def test_it_verifies_greenhouses_escaped_brackets_and_non_ascii_end_to_end(flow, post_webhook, run_queued):
    sent = flow.sent(flow.move("Onsite")["delivery"])
    assert b"\\u003c" in sent.body and b"\\u003e" in sent.body and b"\\u00d8" in sent.body
    assert b"<" not in sent.body and "Ø".encode() not in sent.body

    response = post_webhook(flow, sent.body, sent.headers)
    run_queued()

    assert response.status_code == 200
    [request] = flow.requests()
    candidate = request.application.candidate
    assert (candidate.first_name, candidate.last_name) == ("Zoë", "<Ødegård> & co")
    assert request.application.external_id == str(ZOE_APP)


def test_it_stores_a_replayed_delivery_once(flow, post_webhook):
    sent = flow.sent(flow.move("Onsite")["delivery"])

    first = post_webhook(flow, sent.body, sent.headers)
    again = post_webhook(flow, sent.body, sent.headers)

    assert first.status_code == again.status_code == 200
    assert again.json() == {"received": True, "event": first.json()["event"], "duplicate": True}
    assert InboundEvent.objects.count() == 1
