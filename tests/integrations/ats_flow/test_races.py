"""Deliveries racing: a webhook and a poll (or two webhooks under different event ids) handled at the same moment
by two workers create one request, started once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection as db_connection

from integrations.ats.sync import stage_change_handle
from scheduling.models import Application, Candidate, SchedulingRequest
from tests.integrations.ats_flow.conftest import ZOE_APP

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_creates_and_starts_one_request_when_two_workers_race(tx_flow):
    tx_flow.move("Onsite")
    barrier = threading.Barrier(4)
    results, errors = [], []

    def handle(source: str) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(stage_change_handle(connection=tx_flow.connection,
                                               application_external_id=str(ZOE_APP), source=source))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=handle, args=(s,)) for s in ("webhook", "poll", "webhook", "poll")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    [request] = SchedulingRequest.objects.all()
    assert {r.pk for r in results} == {request.pk}
    assert request.state == SchedulingRequest.State.AWAITING_CANDIDATE
    assert Candidate.objects.count() == 1 and Application.objects.count() == 1
    links = [m for m in tx_flow.world.mail.state()["messages"] if "zoe@example.com" in m["to"]]
    assert len(links) == 1  # started once
