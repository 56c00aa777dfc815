"""End to end over real HTTP, for every ATS (issue 9): the provider's fake sends its real delivery (Greenhouse's and
Lever's signed webhooks; iCIMS's gzipped push, three times, after fetching a token from the connection's token URL
on Loopwise; Jobvite's signed push) to `live_server`, which stores it before answering; then, all at once, a worker
processes the stored row, the provider replays the delivery, and a poll runs. The result is one stored event and one
request with options, which reaches the candidate by one email. A delivery is only a hint: the worker acts on what
the provider's API says when it handles it."""

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


def test_a_delivery_is_a_hint_the_request_follows_what_the_api_says_when_it_is_handled(live_provider_flow,
                                                                                         run_queued):
    # The delivery only names the application: the worker re-reads it through the API, and the request exists
    # because the API agrees (a Jobvite push is a hint, and may be unsigned: issue 9).
    flow = live_provider_flow
    assert set(flow.statuses(flow.move("Onsite"))) == {200}
    [hint] = InboundEvent.objects.all()
    assert set(flow.statuses(flow.move("Offer"))) == {200}  # the recruiter moves on before the worker gets to it
    assert flow.api_reads() == []

    outcome = inbound_process(event_id=hint.pk)

    assert flow.api_reads()  # the application was read again through the API...
    assert f"application {flow.application}: nothing to schedule" in outcome  # ...which says Offer, not Onsite
    assert SchedulingRequest.objects.count() == 0

    assert set(flow.statuses(flow.move("Onsite"))) == {200}  # back in the mapped stage: now the API agrees
    run_queued()
    [request] = SchedulingRequest.objects.all()
    assert request.application.external_id == flow.application and request.options
    assert request.application.stage.external_id == flow.setup.stages["Onsite"]
