"""The ATS flow's world: the booking tests' organisation on the google fake (interviewers with calendars, a loop,
the mail fake), whose requisition comes from the greenhouse fake: job 42 with its stages, "Onsite" mapped to the
plan and "Offer" as its next stage, and Zoë's application 555 in "Application Review". Time stands at the
booking tests' NOW (a Monday, 06:00 UTC) and ticks on; the fakes read the same moved clock.

Webhooks reach Loopwise in two ways: through the Django test client with the exact bytes and headers the fake
sent (it delivers them to a loopback receiver that keeps them), or, end to end, to `live_server`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
import time_machine
from django.urls import reverse
from django.utils.module_loading import import_string
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from integrations.models import AtsConnection
from scheduling.models import AtsStage, SchedulingRequest
from tests.integrations.ats.conftest import Receiver
from tests.scheduling.booking.conftest import World, build_world
from tests.scheduling.booking.support import NOW

USER, JOB, ZOE, ZOE_APP, OTHER, OTHER_APP = 4080001, 42, 777, 555, 778, 556
STAGES = {"Application Review": 9001, "Phone Screen": 9002, "Onsite": 9003, "Offer": 9004}
SECRET = "hook-secret"
CLIENT = {"client_id": "loopwise", "client_secret": "client-secret"}


@dataclass
class Flow:
    world: World
    fake: object
    connection: AtsConnection
    receiver: Receiver
    plan: object
    stages: dict[str, AtsStage]

    @property
    def webhook_path(self) -> str:
        return reverse("ats_webhook", args=[self.connection.webhook_key])

    def move(self, stage: str, application: int = ZOE_APP) -> dict:
        """Moves the application in the fake, as a recruiter would; the answer names the delivery (or None)."""
        return self.fake.stage_change(application, stage)

    def sent(self, delivery: dict):
        """What the fake sent for `delivery` (headers and raw bytes), as the receiver got it."""
        return next(d for d in self.receiver.deliveries if d.headers["Greenhouse-Event-ID"] == delivery["event_id"])

    def requests(self) -> list[SchedulingRequest]:
        return list(SchedulingRequest.objects.filter(plan=self.plan))


def seed_greenhouse(fake, webhook_url: str) -> None:
    fake.seed({
        "users": [{"id": USER, "first_name": "Casey", "last_name": "Coordinator"},
                  {"id": USER + 1, "first_name": "Tom", "last_name": "Okafor", "site_admin": False}],
        "clients": [CLIENT],
        "webhook_secret": SECRET, "webhook_url": webhook_url,
        "jobs": [{"id": JOB, "name": "R&D <Platform> — Café",
                  "stages": [{"id": i, "name": n} for n, i in STAGES.items()]}],
        "candidates": [{"id": ZOE, "first_name": "Zoë", "last_name": "<Ødegård> & co",
                        "email_addresses": [{"value": "zoe@example.com", "type": "personal"}],
                        "phone_numbers": [{"value": "+47 900 00 000", "type": "mobile"}]},
                       {"id": OTHER, "first_name": "Ada", "last_name": "Lo",
                        "email_addresses": ["ada@example.com"]}],
        "applications": [{"id": ZOE_APP, "candidate_id": ZOE, "job_id": JOB},
                         {"id": OTHER_APP, "candidate_id": OTHER, "job_id": JOB}],
    })


def build_flow(google_fake, mail_fake, greenhouse_fake, receiver: Receiver, webhook_url: str | None = None) -> Flow:
    world = build_world(google_fake, mail_fake)
    seed_greenhouse(greenhouse_fake, webhook_url or receiver.url)
    connection = AtsConnection.objects.create(
        name="Acme Greenhouse", provider="greenhouse", base_url=greenhouse_fake.url, fallback_email="ops@acme.test",
        credentials={**CLIENT, "on_behalf_of": str(USER), "webhook_secret": SECRET})
    requisition = world.plan.requisition
    requisition.ats_connection, requisition.external_id = connection, str(JOB)
    requisition.save(update_fields=["ats_connection", "external_id"])
    stages = {name: AtsStage.objects.create(requisition=requisition, external_id=str(i), name=name, position=n)
              for n, (name, i) in enumerate(STAGES.items())}
    plan = world.plan
    plan.stage, plan.next_stage = stages["Onsite"], stages["Offer"]
    plan.save(update_fields=["stage", "next_stage"])
    return Flow(world=world, fake=greenhouse_fake, connection=connection, receiver=receiver, plan=plan,
                stages=stages)


@pytest.fixture(scope="session")
def _receiver_server():
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def receiver(_receiver_server) -> Receiver:
    _receiver_server.deliveries.clear()
    _receiver_server.status = 200
    return _receiver_server


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture
def flow(db, google_fake, mail_fake, greenhouse_fake, receiver, frozen) -> Flow:
    return build_flow(google_fake, mail_fake, greenhouse_fake, receiver)


@pytest.fixture
def live_flow(transactional_db, live_server, google_fake, mail_fake, greenhouse_fake, receiver, frozen) -> Flow:
    """The flow with the fake's webhooks going to the live server (the test commits for real)."""
    flow = build_flow(google_fake, mail_fake, greenhouse_fake, receiver)
    flow.fake.configure_webhooks(url=live_server.url + flow.webhook_path)
    return flow


@pytest.fixture
def post_webhook(client, django_capture_on_commit_callbacks):
    """POST a delivery to the view through the test client, byte for byte, and run what it queued after commit
    (the processing task goes onto django-q2's ORM broker, where `run_queued` finds it)."""

    def post(flow: Flow, body: bytes, headers: dict[str, str], *, path: str | None = None):
        wanted = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length", "host")}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(path or flow.webhook_path, data=body, content_type="application/json",
                               headers=wanted)

    return post


@pytest.fixture
def run_queued(django_capture_on_commit_callbacks):
    """Run every task waiting on the broker, as a worker would, until none is left (a task may queue more)."""

    def run() -> list[str]:
        results = []
        for _ in range(20):
            messages = list(OrmQ.objects.order_by("id"))
            if not messages:
                break
            for message in messages:
                task = SignedPackage.loads(message.payload)
                message.delete()
                with django_capture_on_commit_callbacks(execute=True):
                    results.append(import_string(task["func"])(*task["args"], **task.get("kwargs", {})))
        return results

    return run


def later(frozen, **delta) -> None:
    frozen.shift(dt.timedelta(**delta))


@pytest.fixture
def tx_flow(transactional_db, google_fake, mail_fake, greenhouse_fake, receiver, frozen) -> Flow:
    """The flow on a database the test commits to (for races between threads)."""
    return build_flow(google_fake, mail_fake, greenhouse_fake, receiver)
