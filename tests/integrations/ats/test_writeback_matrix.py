"""The write-back contract, for every provider: a booking writes the provider's row of the write-back matrix
(integrations/ats/matrix.py) into its fake exactly once, through the outbox and the real adapter, also when the
provider fails the first two attempts of each write, when a worker dies in the middle of a write, and when a write
times out after the provider applied it. "Exactly once" is read twice: in the fake's state (one note or field entry,
one stage move) and in the fake's request log (one successful write request for each one the row names).

Each provider comes with its contract harness (tests/integrations/ats/test_contract.py: the seeded fake and its
readers); the booking organisation is the booking tests' one, on the google and mail fakes, with the harness's job as
its requisition, the job's third stage mapped to the plan and the fourth as the plan's next stage. A provider joins
by adding its harness name to WRITEBACK_PROVIDERS.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter
from dataclasses import dataclass

import pytest
import time_machine

from integrations.ats import matrix
from integrations.ats.base import provider_class
from integrations.ats.matrix import KINDS, MATRIX, MOVE, NOTE
from integrations.ats.sync import stage_change_handle
from integrations.ats.writeback import WHATS, add_note, move_stage
from integrations.models import AtsComponentHealth, AtsConnection, Health
from scheduling import booking, clock
from scheduling.models import AtsStage, OutboxItem, ScheduledInterview, SchedulingRequest, WorkState
from scheduling.work import STALE_AFTER, outbox_deliver, work_sweep
from tests.integrations.ats import test_contract as contract
from tests.scheduling.booking.conftest import World, build_world
from tests.scheduling.booking.support import NOW, deliver

WRITEBACK_PROVIDERS = ["greenhouse", "lever", "icims", "jobvite"]  # a new provider: its harness name here

# The harnesses are fixtures of the contract module; pytest finds a fixture by its name in this module.
globals().update({f"{name}_harness": getattr(contract, f"{name}_harness") for name in WRITEBACK_PROVIDERS})

HANDLERS = {NOTE: add_note, MOVE: move_stage}


@dataclass
class Flow:
    harness: contract.Harness
    world: World
    connection: AtsConnection
    row: matrix.Row

    @property
    def application(self) -> str:
        return self.harness.application

    def observed(self, kind: str) -> list:
        """What the fake holds of writes of `kind` on the application."""
        if kind == NOTE:
            return self.harness.notes_on(self.application)
        return self.harness.api_moves(self.application)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture(params=WRITEBACK_PROVIDERS)
def flow(request, db, google_fake, mail_fake, frozen) -> Flow:
    harness: contract.Harness = request.getfixturevalue(f"{request.param}_harness")
    world = build_world(google_fake, mail_fake)
    connection = harness.connection
    connection.save()
    requisition = world.plan.requisition
    requisition.ats_connection, requisition.external_id = connection, harness.job
    requisition.save(update_fields=["ats_connection", "external_id"])
    stages = [AtsStage.objects.create(requisition=requisition, external_id=sid, name=name, position=n)
              for n, (sid, name) in enumerate(zip(harness.stages, harness.stage_names, strict=True))]
    world.plan.stage, world.plan.next_stage = stages[2], stages[3]
    world.plan.save(update_fields=["stage", "next_stage"])
    return Flow(harness=harness, world=world, connection=connection, row=MATRIX[request.param])


@pytest.fixture
def booked(flow, django_capture_on_commit_callbacks) -> ScheduledInterview:
    """The application entered the mapped stage in the ATS, Loopwise sent the link, and the candidate booked."""
    flow.harness.stage_change(flow.application, flow.harness.stages[2])
    with django_capture_on_commit_callbacks(execute=True):
        request = stage_change_handle(connection=flow.connection, application_external_id=flow.application)
    assert request is not None
    request.refresh_from_db()
    interview = booking.interview_book(request=request, option=request.options[0]).interview
    assert interview is not None
    return interview


def later(frozen, **delta) -> None:
    frozen.shift(dt.timedelta(**delta))


def items() -> dict[str, OutboxItem]:
    found = list(OutboxItem.objects.filter(kind__in=KINDS).order_by("pk"))
    assert len(found) == len({i.kind for i in found}), [i.key for i in found]
    return {i.kind: i for i in found}


def deliver_all_but_the_ats() -> None:
    """Run the calendar write and the emails, leaving the ATS items to the test."""
    for pk in OutboxItem.objects.exclude(kind__in=KINDS).values_list("pk", flat=True):
        outbox_deliver(item_id=pk)


def _pattern(template: str) -> re.Pattern:
    return re.compile("[^/]+".join(re.escape(part) for part in re.split(r"\{[^}]*\}", template)))


def write_requests(flow: Flow, *, ok: bool = True) -> list[tuple[str, str]]:
    """(method, path) of the write requests the fake answered with a 2xx (`ok`), or with anything else."""
    return [(r["method"], r["path"]) for r in flow.harness.writes_made()
            if (r["status"] is not None and 200 <= r["status"] < 300) == ok]


def assert_row_written_once(flow: Flow, interview: ScheduledInterview) -> None:
    row, harness = flow.row, flow.harness
    # The outbox queued the row's kinds for a booking, and each is done.
    assert sorted(items()) == sorted(row.kinds_on("booked"))
    assert {i.state for i in items().values()} == {WorkState.DONE}
    # The fake's state holds each write of the row once.
    for write in row.writes:
        assert len(flow.observed(write.kind)) == 1, f"{row.name} {write.short}: {flow.observed(write.kind)}"
    [text] = flow.observed(NOTE)
    assert text.lstrip().startswith("Loopwise: interview booked: Backend Engineer, Onsite loop")
    assert f"[loopwise:ats.note:{interview.pk}:1:booked]" in text
    assert harness.stage_of(flow.application) == harness.stages[3]
    # The fake's log holds one successful write request for each one the row names, and no other.
    templates = [t for write in row.writes for t in write.writes_made]
    made = Counter()
    for method, path in write_requests(flow):
        matched = [t for t in templates if t[0] == method and _pattern(t[1]).fullmatch(path)]
        assert matched, f"{method} {path} is not a write of the {row.name} row: {templates}"
        made[matched[0]] += 1
    assert made == Counter(templates)
    writes = AtsComponentHealth.objects.get(connection=flow.connection, component=harness.write_component)
    assert writes.health == Health.OK


# ---- the matrix itself -----------------------------------------------------------------------------------------

def test_the_matrix_has_a_row_for_every_provider_a_connection_can_name():
    assert sorted(MATRIX) == sorted(AtsConnection.Provider.values)
    for provider, row in MATRIX.items():
        assert row.provider == provider and row.name == AtsConnection.Provider(provider).label
        assert sorted(w.kind for w in row.writes) == sorted(KINDS)
        assert row.not_done and all(w.writes_made for w in row.writes)
        assert all(set(w.on) <= set(WHATS) and w.on for w in row.writes)
        configurable = {s.key for s in row.settings}
        assert all(set(w.settings) <= configurable for w in row.writes)


def test_each_adapter_says_what_it_writes_in_the_matrix_words():
    for provider, row in MATRIX.items():
        adapter = provider_class(provider)
        if adapter is not None:
            assert adapter.write_back == tuple(w.short for w in row.writes), provider


# ---- a booking writes the row once -----------------------------------------------------------------------------

def test_it_writes_the_providers_row_once(flow, booked, frozen):
    later(frozen, minutes=3)  # the text waits for the video link

    deliver()

    assert_row_written_once(flow, booked)
    assert write_requests(flow, ok=False) == []


def test_it_writes_the_row_once_when_the_provider_fails_the_first_two_attempts(flow, booked, frozen):
    later(frozen, minutes=3)
    deliver_all_but_the_ats()
    queued = items()

    # Each write's own request fails twice (503), then goes through; the faults of one write are added once the
    # other is done, since iCIMS writes both on the same path.
    for _ in range(2):
        flow.harness.fault_on_note_write(kind="error", status=503)
    assert outbox_deliver(item_id=queued[NOTE].pk).endswith(f" on application {flow.application})")
    for _ in range(2):
        flow.harness.fault_on_move_write(flow.application, kind="error", status=503)
    assert "moved to stage" in outbox_deliver(item_id=queued[MOVE].pk)

    assert_row_written_once(flow, booked)
    assert len(write_requests(flow, ok=False)) == 4  # the faults did hit the writes
    assert {i.attempts for i in items().values()} == {1}  # absorbed within one outbox attempt


def test_it_writes_the_row_once_when_the_worker_dies_mid_write(flow, booked, frozen):
    later(frozen, minutes=3)
    deliver_all_but_the_ats()
    # A worker claims each item as outbox_deliver does, makes the write in the ATS, and dies before recording it.
    for kind, item in items().items():
        OutboxItem.objects.filter(pk=item.pk).update(state=WorkState.RUNNING, claimed_at=clock.now(), attempts=1)
        HANDLERS[kind](OutboxItem.objects.get(pk=item.pk))
    assert {i.state for i in items().values()} == {WorkState.RUNNING}
    assert all(len(flow.observed(kind)) == 1 for kind in KINDS)

    later(frozen, seconds=(STALE_AFTER + dt.timedelta(minutes=1)).total_seconds())
    assert "2 rescued" in work_sweep()
    deliver()

    assert_row_written_once(flow, booked)
    assert {i.attempts for i in items().values()} == {2}


def test_it_writes_the_row_once_when_a_write_times_out_after_the_provider_applied_it(flow, booked, frozen, settings):
    settings.ATS_WRITE_TIMEOUT_SECONDS = 1.0
    later(frozen, minutes=3)
    deliver_all_but_the_ats()
    queued = items()

    for kind, add_fault in ((NOTE, flow.harness.fault_on_note_write),
                            (MOVE, lambda **f: flow.harness.fault_on_move_write(flow.application, **f))):
        add_fault(kind="timeout", delay_ms=5000)  # applied at once, answered after 5 s
        started = time.perf_counter()
        outbox_deliver(item_id=queued[kind].pk)
        assert time.perf_counter() - started < 4, "the write waited for the answer instead of timing out"

    assert_row_written_once(flow, booked)  # the timed-out writes were applied; their retries found them


def test_it_adds_text_but_never_moves_again_when_the_interview_is_cancelled(flow, booked, frozen):
    later(frozen, minutes=3)
    deliver()

    booking.interview_cancel(request=SchedulingRequest.objects.get(pk=booked.request_id), by="coordinator")
    deliver()

    texts = flow.observed(NOTE)
    assert len(texts) == 2 and texts[1].lstrip().startswith("Loopwise: interview CANCELLED:")
    assert f"[loopwise:ats.note:{booked.pk}:1:cancelled]" in texts[1]
    assert len(flow.observed(MOVE)) == 1
    assert sorted(OutboxItem.objects.filter(kind__in=KINDS).values_list("kind", flat=True)) == sorted(
        [*flow.row.kinds_on("booked"), *flow.row.kinds_on("cancelled")])
