"""iCIMS pushes through Loopwise's webhook view (issue 9; contract §1.4), authenticated as the connection is configured
(Basic or HMAC; OAuth is in test_icims_push_token.py): a gzipped push, sent three times as iCIMS may, is stored once,
decompressed, and processed into one request; a push authenticated another way than configured is refused and
stores nothing."""

from __future__ import annotations

import pytest

from integrations.models import AtsConnection
from scheduling.models import InboundEvent, SchedulingRequest
from tests.integrations.ats_flow.conftest import ZOE_APP

MODES = {
    "basic": ({"auth": "basic", "username": "icims-push", "password": "push-password"},
              {"push_auth": "basic", "push_username": "icims-push", "push_password": "push-password"}),
    "hmac": ({"auth": "hmac", "user": "icims-events", "secret": "push-secret"},
             {"push_auth": "hmac", "push_hmac_user": "icims-events", "push_hmac_secret": "push-secret"}),
}


def configure(flow, fake_push: dict, ours: dict) -> None:
    flow.fake.seed({"push": fake_push})
    flow.connection.credentials = {**flow.connection.credentials, **ours}
    flow.connection.save(update_fields=["credentials"])


@pytest.mark.parametrize("mode", list(MODES))
def test_it_stores_a_gzipped_push_once_decompressed_and_makes_one_request(icims_flow, post_webhook, run_queued,
                                                                         mode):
    configure(icims_flow, *MODES[mode])

    answer = icims_flow.fake.stage_change(ZOE_APP, "Onsite", duplicates=2)
    sent = icims_flow.receiver.deliveries[-3:]
    responses = [post_webhook(icims_flow, d.body, d.headers) for d in sent]
    run_queued()

    assert len(answer["deliveries"]) == 3 and all(d.body[:2] == b"\x1f\x8b" for d in sent)
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.json()["duplicate"] for r in responses] == [False, True, True]
    [event] = InboundEvent.objects.all()
    assert event.raw_body.startswith('{"eventType":"WorkFlowStatusChangeEvent"') and event.state == "done"
    [request] = SchedulingRequest.objects.all()
    assert request.application.external_id == str(ZOE_APP) and request.options


@pytest.mark.parametrize(("sent_as", "configured_as"), [("basic", "hmac"), ("hmac", "basic")])
def test_it_refuses_a_push_authenticated_another_way_than_configured(icims_flow, post_webhook, sent_as,
                                                                     configured_as):
    configure(icims_flow, MODES[sent_as][0], MODES[configured_as][1])

    icims_flow.fake.stage_change(ZOE_APP, "Onsite")
    sent = icims_flow.receiver.deliveries[-1]
    response = post_webhook(icims_flow, sent.body, sent.headers)

    assert response.status_code == 401 and InboundEvent.objects.count() == 0


def test_it_refuses_a_push_with_the_wrong_password(icims_flow, post_webhook):
    configure(icims_flow, {**MODES["basic"][0], "password": "an-old-password"}, MODES["basic"][1])

    icims_flow.fake.stage_change(ZOE_APP, "Onsite")
    sent = icims_flow.receiver.deliveries[-1]
    response = post_webhook(icims_flow, sent.body, sent.headers)

    assert response.status_code == 401 and response.json() == {"error": "push credentials do not match"}
    assert InboundEvent.objects.count() == 0
    assert AtsConnection.objects.get(pk=icims_flow.connection.pk).inbound_events.count() == 0
