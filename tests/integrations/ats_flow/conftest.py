"""The ATS flow's world: the booking tests' organisation on the google fake (interviewers with calendars, a loop,
the mail fake), whose requisition comes from an ATS fake: a job with the stages "Application Review", "Phone
Screen", "Onsite" (mapped to the plan) and "Offer" (its next stage), and Zoë's application in "Application Review".
Time stands at the booking tests' NOW (a Monday, 06:00 UTC) and ticks on; the fakes read the same moved clock.

The ATS is Greenhouse in `flow`, `live_flow` and `tx_flow`; `provider_flow` and `live_provider_flow` take the
provider as their parameter (`PROVIDERS`: greenhouse, lever, icims, jobvite), each seeded by its `ProviderSetup`
with the same names, so one test covers them all (issue 9).

Webhooks reach Loopwise in two ways: through the Django test client with the exact bytes and headers the fake
sent (it delivers them to a loopback receiver that keeps them), or, end to end, to `live_server`. An iCIMS flow's
pushes are gzipped and authenticated by OAuth: the fake first fetches a token from the connection's own token URL
on Loopwise, so it only pushes end to end (`live_provider_flow`). A Jobvite flow's pushes are signed with the
connection's `webhook_signing_key` and are hints: they name the application, which is re-read through the API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

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
    setup: ProviderSetup | None = None

    @property
    def provider(self) -> str:
        return self.connection.provider

    @property
    def application(self) -> str:
        """Zoë's application, as the provider names it."""
        return self.setup.application if self.setup else str(ZOE_APP)

    @property
    def webhook_path(self) -> str:
        return reverse("ats_webhook", args=[self.connection.webhook_key])

    def move(self, stage: str, application: Any = None) -> dict:
        """Moves the application (Zoë's by default) in the fake, as a recruiter would; the answer names what the
        fake delivered."""
        if self.setup is None:
            return self.fake.stage_change(ZOE_APP if application is None else application, stage)
        return self.setup.move(self.fake, application or self.setup.application, stage)

    def statuses(self, answer: dict) -> list[int | None]:
        """Loopwise's answers to what the fake delivered for a move (every attempt, duplicates included)."""
        return self.setup.statuses(answer)

    def redeliver(self, answer: dict) -> list[int | None]:
        """The provider sends the move's delivery again, byte for byte; Loopwise's answers."""
        return self.setup.redeliver(self.fake, answer)

    def point_webhooks_at(self, url: str) -> None:
        self.setup.point_at(self.fake, url)

    def sent(self, delivery: dict):
        """What the fake sent for `delivery` (headers and raw bytes), as the receiver got it."""
        return next(d for d in self.receiver.deliveries if d.headers["Greenhouse-Event-ID"] == delivery["event_id"])

    def api_reads(self, application: Any = None) -> list[dict]:
        """Loopwise's reads of an application (Zoë's by default) through the provider's API, as the fake logged
        them: its id in the path (Greenhouse, Lever, iCIMS) or in the query (Jobvite's `applicationId=`)."""
        wanted = str(application or self.application)
        return [r for r in self.fake.requests() if r["method"] == "GET" and not r["path"].startswith("/_fake/")
                and (wanted in unquote(r["path"]).split("/") or wanted in unquote(r["query"]).replace("&", "=")
                     .split("="))]

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


# ---- one setup per provider (issue 9) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderSetup:
    """How one provider's fake is seeded for the flow, and how it moves, delivers and redelivers. Every provider gets
    the same job, stage names, people and applications, under its own ids."""

    name: str
    fake_fixture: str
    job: str
    stages: dict[str, str]                 # stage name -> the provider's id, in pipeline order
    application: str                       # Zoë's
    other_application: str                 # Ada's
    seed: Callable[[Any, str], None]       # (fake, webhook URL)
    credentials: dict
    move: Callable[[Any, Any, str], dict]  # (fake, application, stage name) -> the fake's answer
    statuses: Callable[[dict], list]       # the fake's answer -> Loopwise's answer to each delivery attempt
    redeliver: Callable[[Any, dict], list]
    point_at: Callable[[Any, str], None]   # (fake, webhook URL)
    extra: dict = field(default_factory=dict)


def _greenhouse_redeliver(fake, answer: dict) -> list:
    return [d["status"] for d in fake.redeliver(delivery=answer["delivery"]["n"])]


GREENHOUSE = ProviderSetup(
    name="greenhouse", fake_fixture="greenhouse_fake", job=str(JOB), stages={n: str(i) for n, i in STAGES.items()},
    application=str(ZOE_APP), other_application=str(OTHER_APP), seed=lambda fake, url: seed_greenhouse(fake, url),
    credentials={**CLIENT, "on_behalf_of": str(USER), "webhook_secret": SECRET},
    move=lambda fake, app, stage: fake.stage_change(int(app), stage),
    statuses=lambda answer: [answer["delivery"]["status"]] if answer["delivery"] else [],
    redeliver=_greenhouse_redeliver, point_at=lambda fake, url: fake.configure_webhooks(url=url))

LV_USER, LV_JOB = "5a0e0000-0000-4000-8000-000004080001", "5a0e0000-0000-4000-8000-000000000042"
LV_STAGES = {name: f"5a0e0000-0000-4000-8000-00000000900{n + 1}" for n, name in enumerate(STAGES)}
LV_ZOE, LV_ZOE_APP = "5a0e0000-0000-4000-8000-000000000777", "5a0e0000-0000-4000-8000-000000000555"
LV_OTHER, LV_OTHER_APP = "5a0e0000-0000-4000-8000-000000000778", "5a0e0000-0000-4000-8000-000000000556"
LV_TOKENS = {"candidateStageChange": "lever-signature-token"}


def seed_lever(fake, webhook_url: str) -> None:
    fake.seed({
        "users": [{"id": LV_USER, "name": "Casey Coordinator"}], "api_keys": [{"key": "lever-key"}],
        "stages": [{"id": i, "text": n} for n, i in LV_STAGES.items()],
        "postings": [{"id": LV_JOB, "text": "R&D <Platform> — Café"}],
        "opportunities": [{"id": LV_ZOE_APP, "contact": LV_ZOE, "name": "Zoë <Ødegård> & co",
                           "emails": ["zoe@example.com"], "phones": ["+47 900 00 000"], "posting": LV_JOB},
                          {"id": LV_OTHER_APP, "contact": LV_OTHER, "name": "Ada Lo", "emails": ["ada@example.com"],
                           "posting": LV_JOB}],
        "webhook_url": webhook_url, "signature_tokens": LV_TOKENS})


LEVER = ProviderSetup(
    name="lever", fake_fixture="lever_fake", job=LV_JOB, stages=LV_STAGES, application=LV_ZOE_APP,
    other_application=LV_OTHER_APP, seed=seed_lever,
    credentials={"api_key": "lever-key", "perform_as": LV_USER, "signature_tokens": LV_TOKENS},
    move=lambda fake, app, stage: fake.stage_change(app, stage),
    statuses=lambda answer: [answer["delivery"]["status"]] if answer["delivery"] else [],
    redeliver=lambda fake, answer: [d["status"] for d in fake.redeliver(delivery=answer["delivery"]["n"])],
    point_at=lambda fake, url: fake.configure_webhooks(url=url))

IC_CUSTOMER = "1234"
IC_STAGES = {"Application Review": "D10100", "Phone Screen": "C2005", "Onsite": "C2010", "Offer": "C2020"}
IC_PUSH_CLIENT = {"push_client_id": "icims-push-client", "push_client_secret": "icims-push-secret"}
IC_DUPLICATES = 2  # iCIMS sends the same push again now and then (§1.4): every move here is sent three times


def seed_icims(fake, webhook_url: str) -> None:
    fake.seed({
        "customer_id": IC_CUSTOMER, "api_users": [{"username": "loopwise", "password": "api-password"}],
        "statuses": [{"id": i, "value": n} for n, i in IC_STAGES.items()], "workflow_fields": ["field50001"],
        "jobs": [{"id": JOB, "jobtitle": "R&D <Platform> — Café"}],
        "people": [{"id": ZOE, "firstname": "Zoë", "lastname": "<Ødegård> & co", "email": "zoe@example.com",
                    "phone": "+47 900 00 000"},
                   {"id": OTHER, "firstname": "Ada", "lastname": "Lo", "email": "ada@example.com"}],
        "workflows": [{"id": ZOE_APP, "job": JOB, "person": ZOE}, {"id": OTHER_APP, "job": JOB, "person": OTHER}],
        "datastream": {"licensed": False, "subscriptions": []}})
    icims_point_at(fake, webhook_url)


def icims_point_at(fake, webhook_url: str) -> None:
    """Pushes to `webhook_url`, authenticated by a token from the token URL beside it (`<webhook url>token`)."""
    fake.seed({"webhook_url": webhook_url, "push": {"auth": "oauth", "token_url": webhook_url + "token",
                                                    "client_id": IC_PUSH_CLIENT["push_client_id"],
                                                    "client_secret": IC_PUSH_CLIENT["push_client_secret"]}})


ICIMS = ProviderSetup(
    name="icims", fake_fixture="icims_fake", job=str(JOB), stages=IC_STAGES, application=str(ZOE_APP),
    other_application=str(OTHER_APP), seed=seed_icims,
    credentials={"customer_id": IC_CUSTOMER, "username": "loopwise", "password": "api-password",
                 "note_field": "field50001", "status_ids": list(IC_STAGES.values()), "push_auth": "oauth",
                 **IC_PUSH_CLIENT},
    move=lambda fake, app, stage: fake.stage_change(int(app), stage, duplicates=IC_DUPLICATES),
    statuses=lambda answer: [d["status"] for d in answer["deliveries"]],
    redeliver=lambda fake, answer: [d["status"] for d in fake.redeliver(last=len(answer["deliveries"]))],
    point_at=icims_point_at)

JV_JOB, JV_ZOE, JV_ZOE_APP, JV_OTHER, JV_OTHER_APP = "jvJob042", "jvZoe777", "jvApp555", "jvAda778", "jvApp556"
JV_STAGES = {name: name for name in STAGES}  # Jobvite's stage ids are its workflow state names (§2.4)
JV_KEY = {"api_key": "jobvite-key", "api_secret": "jobvite-secret"}
JV_SIGNING_KEY = "jobvite-signing-key"


def seed_jobvite(fake, webhook_url: str) -> None:
    fake.seed({
        "api_keys": [{"key": JV_KEY["api_key"], "secret": JV_KEY["api_secret"]}], "workflow": list(JV_STAGES),
        "jobs": [{"eId": JV_JOB, "title": "R&D <Platform> — Café"}],
        "candidates": [{"eId": JV_ZOE, "firstName": "Zoë", "lastName": "<Ødegård> & co", "email": "zoe@example.com",
                        "mobile": "+47 900 00 000", "application": {"eId": JV_ZOE_APP, "job": JV_JOB}},
                       {"eId": JV_OTHER, "firstName": "Ada", "lastName": "Lo", "email": "ada@example.com",
                        "application": {"eId": JV_OTHER_APP, "job": JV_JOB}}]})
    jobvite_point_at(fake, webhook_url)


def jobvite_point_at(fake, webhook_url: str) -> None:
    """Pushes to `webhook_url`, signed with the connection's `webhook_signing_key`."""
    fake.seed({"webhook": {"url": webhook_url, "signing_key": JV_SIGNING_KEY, "enabled": True}})


def _jobvite_redeliver(fake, answer: dict) -> list:
    """Jobvite's push again, byte for byte (the fake resends its last pushes: this move's must be the last)."""
    again = fake.redeliver(last=1)
    assert [d["redelivery_of"] for d in again] == [answer["delivery"]["n"]], "not the move's push"
    return [d["status"] for d in again]


JOBVITE = ProviderSetup(
    name="jobvite", fake_fixture="jobvite_fake", job=JV_JOB, stages=JV_STAGES, application=JV_ZOE_APP,
    other_application=JV_OTHER_APP, seed=seed_jobvite,
    credentials={**JV_KEY, "webhook_signing_key": JV_SIGNING_KEY, "workflow_states": list(JV_STAGES)},
    move=lambda fake, app, stage: fake.stage_change(app, stage),
    statuses=lambda answer: [answer["delivery"]["status"]] if answer["delivery"] else [],
    redeliver=_jobvite_redeliver, point_at=jobvite_point_at)

PROVIDERS = {s.name: s for s in (GREENHOUSE, LEVER, ICIMS, JOBVITE)}


def build_flow(google_fake, mail_fake, ats_fake, receiver: Receiver, webhook_url: str | None = None,
               setup: ProviderSetup = GREENHOUSE) -> Flow:
    world = build_world(google_fake, mail_fake)
    setup.seed(ats_fake, webhook_url or receiver.url)
    connection = AtsConnection.objects.create(
        name=f"Acme {setup.name.capitalize()}", provider=setup.name, base_url=ats_fake.url,
        fallback_email="ops@acme.test", credentials=dict(setup.credentials))
    requisition = world.plan.requisition
    requisition.ats_connection, requisition.external_id = connection, setup.job
    requisition.save(update_fields=["ats_connection", "external_id"])
    stages = {name: AtsStage.objects.create(requisition=requisition, external_id=i, name=name, position=n)
              for n, (name, i) in enumerate(setup.stages.items())}
    plan = world.plan
    plan.stage, plan.next_stage = stages["Onsite"], stages["Offer"]
    plan.save(update_fields=["stage", "next_stage"])
    return Flow(world=world, fake=ats_fake, connection=connection, receiver=receiver, plan=plan, stages=stages,
                setup=None if setup is GREENHOUSE else setup)


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


@pytest.fixture(params=list(PROVIDERS))
def provider_flow(request, db, google_fake, mail_fake, receiver, frozen) -> Flow:
    """The flow on each provider in turn (`PROVIDERS`), its deliveries going to the receiver."""
    setup = PROVIDERS[request.param]
    flow = build_flow(google_fake, mail_fake, request.getfixturevalue(setup.fake_fixture), receiver, setup=setup)
    flow.setup = setup
    return flow


@pytest.fixture
def icims_flow(db, google_fake, mail_fake, icims_fake, receiver, frozen) -> Flow:
    """The flow on iCIMS, its pushes going to the receiver gzipped and without authentication (a test adds it)."""
    flow = build_flow(google_fake, mail_fake, icims_fake, receiver, setup=ICIMS)
    flow.setup = ICIMS
    icims_fake.seed({"push": {"auth": "none"}, "webhook_url": receiver.url})
    return flow


@pytest.fixture
def lever_flow(db, google_fake, mail_fake, lever_fake, receiver, frozen) -> Flow:
    """The flow on Lever, its webhooks going to the receiver."""
    flow = build_flow(google_fake, mail_fake, lever_fake, receiver, setup=LEVER)
    flow.setup = LEVER
    return flow


@pytest.fixture(params=list(PROVIDERS))
def live_provider_flow(request, transactional_db, live_server, google_fake, mail_fake, receiver, frozen) -> Flow:
    """The flow on each provider in turn, its deliveries going to Loopwise on the live server (committed for real):
    Greenhouse's and Lever's signed webhooks, iCIMS's gzipped pushes after a token from Loopwise's token URL,
    Jobvite's signed pushes."""
    setup = PROVIDERS[request.param]
    flow = build_flow(google_fake, mail_fake, request.getfixturevalue(setup.fake_fixture), receiver, setup=setup)
    flow.setup = setup
    flow.point_webhooks_at(live_server.url + flow.webhook_path)
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
