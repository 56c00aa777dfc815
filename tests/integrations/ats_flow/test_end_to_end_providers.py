"""End to end over real HTTP, for every ATS (issue 9): the provider's fake sends its real delivery (Greenhouse's and
Lever's signed webhooks; iCIMS's gzipped push, three times, after fetching a token from the connection's token URL
on Loopwise) to `live_server`, which stores it before answering; then, all at once, a worker processes the stored
row, the provider replays the delivery, and a poll runs. The result is one stored event and one request with
options, which reaches the candidate by one email."""

from __future__ import annotations

import threading

import pytest
from django.db import connection as db_connection

from integrations.ats.polling import ats_poll
from scheduling.models import InboundEvent, SchedulingRequest
from scheduling.work import inbound_process

pytestmark = pytest.mark.django_db(transaction=True)


def together(*jobs) -> list[BaseException]:
    """Runs each job in its own thread, released at the same moment; the exceptions they raised."""
    barrier, errors = threading.Barrier(len(jobs)), []

    def run(job) -> None:
        try:
            barrier.wait(timeout=10)
            job()
        except BaseException as e:  # noqa: BLE001 - reported to the test
            errors.append(e)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def test_it_takes_a_stage_change_to_one_request_with_replays_and_polling_at_the_same_time(live_provider_flow,
                                                                                           run_queued):
    flow = live_provider_flow
    answer = flow.move("Onsite")
    first = flow.statuses(answer)
    assert first and set(first) == {200}  # each attempt stored and committed before the fake got its answer
    [event] = InboundEvent.objects.all()
    assert event.kind == "stage_change" and event.raw_body.lstrip().startswith("{")  # iCIMS: stored gunzipped

    replayed, processed = [], []
    errors = together(lambda: processed.append(inbound_process(event_id=event.pk)),
                      lambda: replayed.extend(flow.redeliver(answer) + flow.redeliver(answer)),
                      lambda: ats_poll(connection=flow.connection))
    run_queued()

    assert errors == []
    assert replayed and set(replayed) == {200}
    assert InboundEvent.objects.count() == 1
    event.refresh_from_db()
    assert event.state == "done" and f"application {flow.application}: request #" in processed[0]
    [request] = SchedulingRequest.objects.all()
    assert request.application.external_id == flow.application
    assert request.state == SchedulingRequest.State.AWAITING_CANDIDATE and request.options
    assert request.application.candidate.email == "zoe@example.com"
    links = [m for m in flow.world.mail.state()["messages"] if "zoe@example.com" in m["to"]]
    assert len(links) == 1


def test_it_answers_within_the_providers_limit_without_calling_it(live_provider_flow):
    flow = live_provider_flow
    before = len([r for r in flow.fake.requests() if not r["path"].startswith("/_fake/")])

    answer = flow.move("Phone Screen")

    assert set(flow.statuses(answer)) == {200}
    calls = [r for r in flow.fake.requests() if not r["path"].startswith("/_fake/")]
    assert len(calls) == before  # the delivery is stored and answered: nothing is read from the ATS meanwhile
