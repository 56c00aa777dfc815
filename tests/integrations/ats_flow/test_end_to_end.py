"""End to end over real HTTP: the greenhouse fake delivers its signed webhooks to Loopwise on `live_server`, which
commits each before answering; a worker then processes the stored rows. One stage change, ten redeliveries and a
poll make one request, which reaches the candidate by email."""

from __future__ import annotations

import pytest

from integrations.ats.polling import ats_poll
from scheduling.models import InboundEvent, SchedulingRequest
from tests.integrations.ats_flow.conftest import ZOE_APP

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_takes_a_stage_change_from_greenhouse_to_the_candidates_inbox(live_flow, run_queued):
    answer = live_flow.move("Onsite")
    assert answer["delivery"]["status"] == 200  # stored and committed before the fake got its answer
    assert InboundEvent.objects.count() == 1

    run_queued()
    for _ in range(10):
        [again] = live_flow.fake.redeliver(delivery=answer["delivery"]["n"])
        assert again["status"] == 200
    run_queued()
    ats_poll(connection=live_flow.connection)

    [request] = SchedulingRequest.objects.all()
    assert request.application.external_id == str(ZOE_APP)
    assert request.state == SchedulingRequest.State.AWAITING_CANDIDATE and request.options
    assert InboundEvent.objects.count() == 1
    deliveries = live_flow.fake.state()["deliveries"]
    assert len(deliveries) == 11 and {d["status"] for d in deliveries} == {200}
    assert len([m for m in live_flow.world.mail.state()["messages"] if "zoe@example.com" in m["to"]]) == 1


def test_it_answers_401_to_a_fake_with_the_wrong_secret_and_greenhouse_retries(live_flow, run_queued):
    live_flow.fake.configure_webhooks(secret="rotated-on-one-side-only")

    answer = live_flow.move("Onsite")

    assert answer["delivery"]["status"] == 401
    assert InboundEvent.objects.count() == 0 and SchedulingRequest.objects.count() == 0
    [delivery] = live_flow.fake.state()["deliveries"]
    assert delivery["attempts"][0]["status"] == 401  # a retry is scheduled by the fake, as Greenhouse would
