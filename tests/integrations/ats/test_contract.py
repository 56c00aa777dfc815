"""What every ATS adapter must do, through `requests` against the provider's fake, over real sockets.

Parametrised over providers: each has a harness fixture (`<provider>_harness`) that starts its fake, seeds a job
with four stages, a candidate and an application in the first stage, points the fake's deliveries at a local
receiver, and builds an unsaved AtsConnection for the fake. Lever, iCIMS and Jobvite join by adding their name to
PROVIDERS and a `<name>_harness` fixture with the same attributes (issue 9).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from integrations.ats.base import AtsProvider, ProviderError, WebhookRejected, provider_for
from integrations.ats.greenhouse import GreenhouseAts
from integrations.ats.icims import IcimsAts
from integrations.ats.jobvite import JobviteAts
from integrations.ats.lever import LeverAts
from integrations.models import AtsConnection
from scheduling import clock
from tests.integrations.ats.conftest import Delivery, Receiver

PROVIDERS = ["greenhouse", "lever", "icims", "jobvite"]
LATER = dt.datetime(2031, 3, 1, 9, 0, tzinfo=dt.UTC)  # after anything the fakes stamp with the real clock


@dataclass
class Harness:
    """One provider's fake, seeded, and an adapter factory for a connection pointing at it. Ids are ours (strings)."""

    provider: type[AtsProvider]
    fake: Any
    connection: AtsConnection
    job: str
    stages: list[str]                                          # the job's stage ids, in pipeline order
    stage_names: list[str]
    candidate: str
    candidate_email: str
    application: str                                           # the candidate's, in stages[0]
    add_jobs: Callable[[int], list[str]]                       # N more open jobs (default stages)
    add_applications: Callable[[list[dt.datetime]], list[str]]  # one per updated_at, in the job's first stage
    stage_change: Callable[[str, str], Delivery]               # moved in the ATS: the signed delivery it sent
    ping: Callable[[], Delivery] | None                        # the provider's test delivery; None: it has none
    notes_on: Callable[[str], list[str]]                       # texts written on an application (fake state)
    api_moves: Callable[[str], list[dict]]                     # moves made through the API (fake state)
    stage_of: Callable[[str], str]                             # where an application is now (fake state)
    calls: Callable[[str, str], list[dict]]                    # the fake's log: (method or "", path prefix)
    writes_made: Callable[[], list[dict]]                      # the fake's log: API calls that write (not auth)
    job_list_path: str                                         # the path that lists jobs
    fail_reads: Callable[[], None]                             # the job list answers 5xx until cleared
    fault_on_note_write: Callable[..., None]                   # a generic fault on the write itself (not a look-up)
    fault_on_move_write: Callable[..., None]
    break_credentials: Callable[[], None]                      # the provider refuses the connection's credentials
    strip_signature: Callable[[Delivery], tuple[dict, bytes]]  # the delivery without its proof of origin
    other_secret: Callable[[], dict]                           # credentials whose webhook secret is someone else's
    auth_words: str                                            # what the provider says then
    signature_covers_body: bool = True                         # Lever's does not: it re-reads instead (issue 9)
    read_component: str = "reads"
    write_component: str = "writes"
    auth_component: str = "auth"
    kwargs: dict = field(default_factory=dict)

    def adapter(self, **kwargs) -> AtsProvider:
        return self.provider(self.connection, **{**self.kwargs, **kwargs})


# ---- Greenhouse ------------------------------------------------------------------------------------------------

GH_USER, GH_JOB, GH_CANDIDATE, GH_APPLICATION = 4080001, 42, 777, 555


@pytest.fixture
def greenhouse_harness(greenhouse_fake, webhook_receiver: Receiver) -> Harness:
    fake = greenhouse_fake
    names = ["Application Review", "Phone Screen", "Onsite Interview", "Offer"]
    ids = fake.seed({
        "users": [{"id": GH_USER, "first_name": "Riley", "last_name": "Recruiter"}],
        "clients": [{"client_id": "loopwise", "client_secret": "client-secret"}],
        "webhook_secret": "hook-secret", "webhook_url": webhook_receiver.url,
        "jobs": [{"id": GH_JOB, "name": "Backend Engineer", "stages": [{"name": n} for n in names]}],
        "candidates": [{"id": GH_CANDIDATE, "first_name": "Ada", "last_name": "Lovelace",
                        "email_addresses": ["ada@example.com"], "phone_numbers": ["+44 20 7946 0000"]}],
        "applications": [{"id": GH_APPLICATION, "candidate_id": GH_CANDIDATE, "job_id": GH_JOB}],
    })["ids"]
    stages = [str(s) for s in ids["stages"][str(GH_JOB)]]
    connection = AtsConnection(name="Acme Greenhouse", provider="greenhouse", base_url=fake.url,
                               fallback_email="ops@acme.test",
                               credentials={"client_id": "loopwise", "client_secret": "client-secret",
                                            "on_behalf_of": str(GH_USER), "webhook_secret": "hook-secret"})

    def add_jobs(n: int) -> list[str]:
        made = fake.seed({"jobs": [{"name": f"Job {i}"} for i in range(n)]})["ids"]["jobs"]
        return [str(j) for j in made]

    def add_applications(times: list[dt.datetime]) -> list[str]:
        made = fake.seed({"candidates": [{"first_name": "Cand", "last_name": str(i)} for i in range(len(times))]})
        people = made["ids"]["candidates"]
        apps = fake.seed({"applications": [
            {"candidate_id": person, "job_id": GH_JOB, "updated_at": at.isoformat().replace("+00:00", "Z")}
            for person, at in zip(people, times, strict=True)]})
        return [str(a) for a in apps["ids"]["applications"]]

    def delivery(event_id: str) -> Delivery:
        found = [d for d in webhook_receiver.deliveries if d.headers.get("Greenhouse-Event-ID") == event_id]
        assert found, f"the fake sent no delivery {event_id}"
        return found[-1]

    def stage_change(application: str, stage: str) -> Delivery:
        return delivery(fake.stage_change(application, stage)["delivery"]["event_id"])

    def ping() -> Delivery:
        return delivery(fake.ping()["delivery"]["event_id"])

    def state_app(application: str) -> dict:
        return next(a for a in fake.state()["applications"] if str(a["id"]) == application)

    def calls(method: str, prefix: str) -> list[dict]:
        return [r for r in fake.requests() if method in ("", r["method"]) and r["path"].startswith(prefix)]

    def fault_on_note_write(**fault) -> None:
        # The adapter lists the application's notes (same path) before it writes: a harmless first fault lets
        # that look-up through, so that the second one hits the POST itself (faults apply in the order added).
        fake.add_fault(kind="slow", target="/v3/notes", count=1, delay_ms=0)
        fake.add_fault(target="/v3/notes", count=1, **fault)

    return Harness(
        provider=GreenhouseAts, fake=fake, connection=connection, job=str(GH_JOB), stages=stages, stage_names=names,
        candidate=str(GH_CANDIDATE), candidate_email="ada@example.com", application=str(GH_APPLICATION),
        add_jobs=add_jobs, add_applications=add_applications, stage_change=stage_change, ping=ping,
        notes_on=lambda app: [n["body"] for n in fake.state()["notes"] if str(n["application_id"]) == app],
        api_moves=lambda app: [m for m in fake.state()["moves"]
                               if str(m["application_id"]) == app and m["source"] == "api"],
        stage_of=lambda app: str(state_app(app)["stage_id"]), calls=calls, job_list_path="/v3/jobs",
        writes_made=lambda: calls("POST", "/v3/"),
        fail_reads=lambda: fake.add_fault(kind="error", target="/v3/jobs", status=503),
        fault_on_note_write=fault_on_note_write,
        fault_on_move_write=lambda app, **fault: fake.add_fault(target=f"/v3/applications/{app}/move", count=1,
                                                                **fault),
        break_credentials=lambda: fake.add_fault(kind="bad_credentials"), auth_words="invalid_client",
        other_secret=lambda: {**connection.credentials, "webhook_secret": "someone-else"},
        strip_signature=lambda d: ({k: v for k, v in d.headers.items() if k.lower() != "signature"}, d.body),
        kwargs={"page_size": 2})


# ---- Lever -----------------------------------------------------------------------------------------------------

LV_USER, LV_JOB = "5a0e0000-0000-4000-8000-000000000001", "5a0e0000-0000-4000-8000-000000000042"
LV_CONTACT, LV_APP = "5a0e0000-0000-4000-8000-000000000777", "5a0e0000-0000-4000-8000-000000000555"
LV_SIGNING = {"candidateStageChange": "sig-token"}


@pytest.fixture
def lever_harness(lever_fake, webhook_receiver: Receiver) -> Harness:
    fake = lever_fake
    names = ["New Applicant", "Phone Screen", "On-site Interview", "Offer"]
    ids = fake.seed({
        "users": [{"id": LV_USER, "name": "Riley Recruiter"}], "api_keys": [{"key": "lever-key"}],
        "stages": [{"text": n} for n in names], "postings": [{"id": LV_JOB, "text": "Backend Engineer"}],
        "opportunities": [{"id": LV_APP, "name": "Ada Lovelace", "emails": ["ada@example.com"],
                           "phones": ["+44 20 7946 0000"], "posting": LV_JOB, "contact": LV_CONTACT}],
        "webhook_url": webhook_receiver.url, "signature_tokens": LV_SIGNING,
    })["ids"]
    connection = AtsConnection(name="Acme Lever", provider="lever", base_url=fake.url, fallback_email="ops@acme.test",
                               credentials={"api_key": "lever-key", "perform_as": LV_USER,
                                            "signature_tokens": LV_SIGNING})

    def add_jobs(n: int) -> list[str]:
        return fake.seed({"postings": [{"text": f"Job {i}"} for i in range(n)]})["ids"]["postings"]

    def add_applications(times: list[dt.datetime]) -> list[str]:
        return fake.seed({"opportunities": [
            {"name": f"Cand {i}", "posting": LV_JOB, "updatedAt": int(at.timestamp() * 1000)}
            for i, at in enumerate(times)]})["ids"]["opportunities"]

    def delivery(token: str) -> Delivery:
        found = [d for d in webhook_receiver.deliveries if json.loads(d.body).get("token") == token]
        assert found, f"the fake sent no delivery {token}"
        return found[-1]

    def state_opp(application: str) -> dict:
        return next(o for o in fake.state()["opportunities"] if o["id"] == application)

    def calls(method: str, prefix: str) -> list[dict]:
        return [r for r in fake.requests() if method in ("", r["method"]) and r["path"].startswith(prefix)]

    def fault_on_note_write(**fault) -> None:
        # The adapter lists the opportunity's notes (same path) before it writes: see the Greenhouse harness.
        fake.add_fault(kind="slow", target=f"/v1/opportunities/{LV_APP}/notes", count=1, delay_ms=0)
        fake.add_fault(target=f"/v1/opportunities/{LV_APP}/notes", count=1, **fault)

    def strip_signature(d: Delivery) -> tuple[dict, bytes]:
        body = json.loads(d.body)
        body.pop("signature")
        return dict(d.headers), json.dumps(body).encode()

    return Harness(
        provider=LeverAts, fake=fake, connection=connection, job=LV_JOB, stages=ids["stages"], stage_names=names,
        candidate=LV_CONTACT, candidate_email="ada@example.com", application=LV_APP,
        add_jobs=add_jobs, add_applications=add_applications,
        stage_change=lambda app, stage: delivery(fake.stage_change(app, stage)["delivery"]["token"]),
        ping=lambda: delivery(fake.ping()["delivery"]["token"]),
        notes_on=lambda app: [n["fields"][0]["value"] for n in fake.state()["notes"] if n["opportunity"] == app],
        api_moves=lambda app: [m for m in fake.state()["moves"] if m["opportunity"] == app and m["source"] == "api"],
        stage_of=lambda app: state_opp(app)["stage"], calls=calls, job_list_path="/v1/postings",
        writes_made=lambda: [r for r in calls("", "/v1/") if r["method"] in ("POST", "PUT", "DELETE")],
        fail_reads=lambda: fake.add_fault(kind="error", target="/v1/postings", status=503),
        fault_on_note_write=fault_on_note_write,
        fault_on_move_write=lambda app, **fault: fake.add_fault(target=f"/v1/opportunities/{app}/stage", count=1,
                                                                **fault),
        break_credentials=lambda: fake.add_fault(kind="bad_credentials"), auth_words="UnauthorizedError",
        other_secret=lambda: {**connection.credentials, "signature_tokens": {"candidateStageChange": "someone-else"}},
        strip_signature=strip_signature, signature_covers_body=False, kwargs={"page_size": 2})


# ---- iCIMS -----------------------------------------------------------------------------------------------------
# iCIMS differs from the contract's shape in three ways, each expressed through the same interface: it has no notes
# API, so `add_note` writes a configured workflow field (notes_on reads that field's entries back); it has no test
# delivery, so there is no ping; and its push is proven by HMAC over the body (or Basic credentials). The push is
# sent uncompressed here, so that tampering with its bytes means something; tests/integrations/ats/test_icims.py
# covers gzip.

IC_CUSTOMER, IC_JOB, IC_PERSON, IC_WORKFLOW = "1234", 42, 777, 555
IC_STATUSES = [("D10100", "New Submissions"), ("C2005", "Phone Screen"), ("C2010", "Schedule Interview"),
               ("C2020", "Offer")]
IC_PUSH = {"push_auth": "hmac", "push_hmac_user": "icims-events", "push_hmac_secret": "push-secret"}


@pytest.fixture
def icims_harness(icims_fake, webhook_receiver: Receiver) -> Harness:
    fake = icims_fake
    fake.seed({
        "customer_id": IC_CUSTOMER, "api_users": [{"username": "loopwise", "password": "api-password"}],
        "push": {"auth": "hmac", "user": "icims-events", "secret": "push-secret"},
        "statuses": [{"id": i, "value": v} for i, v in IC_STATUSES], "workflow_fields": ["field50001"],
        "jobs": [{"id": IC_JOB, "jobtitle": "Backend Engineer"}],
        "people": [{"id": IC_PERSON, "firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com",
                    "phone": "+44 20 7946 0000"}],
        "workflows": [{"id": IC_WORKFLOW, "job": IC_JOB, "person": IC_PERSON}],
        "datastream": {"licensed": True, "subscriptions": ["loopwise"]},
        "webhook_url": webhook_receiver.url, "settings": {"push_gzip": False},
    })
    connection = AtsConnection(name="Acme iCIMS", provider="icims", base_url=fake.url, fallback_email="ops@acme.test",
                               credentials={"customer_id": IC_CUSTOMER, "username": "loopwise",
                                            "password": "api-password", "note_field": "field50001",
                                            "status_ids": [i for i, _ in IC_STATUSES], "datastream": True,
                                            **IC_PUSH})
    workflow_path = f"/customers/{IC_CUSTOMER}/applicantworkflows/"

    def add_jobs(n: int) -> list[str]:
        return [str(j) for j in fake.seed({"jobs": [{"jobtitle": f"Job {i}"} for i in range(n)]})["ids"]["jobs"]]

    def add_applications(times: list[dt.datetime]) -> list[str]:
        people = fake.seed({"people": [{"firstname": "Cand", "lastname": str(i)} for i in range(len(times))]})
        made = fake.seed({"workflows": [{"job": IC_JOB, "person": p, "updated": at.isoformat()}
                                        for p, at in zip(people["ids"]["people"], times, strict=True)]})
        return [str(w) for w in made["ids"]["workflows"]]

    def stage_change(application: str, stage: str) -> Delivery:
        answer = fake.stage_change(application, stage)
        assert answer["deliveries"], "the fake sent no push"
        return webhook_receiver.deliveries[-1]

    def workflow(application: str) -> dict:
        return next(w for w in fake.state()["workflows"] if str(w["id"]) == application)

    def notes_on(application: str) -> list[str]:
        text = workflow(application)["fields"].get("field50001", "")
        return re.findall(r".*?\[loopwise:[^\]]*\]", text, flags=re.DOTALL)

    def calls(method: str, prefix: str) -> list[dict]:
        return [r for r in fake.requests() if method in ("", r["method"]) and r["path"].startswith(prefix)]

    def fault_on_write(application: str, **fault) -> None:
        # Both writes read the workflow (same path) first: a harmless first fault lets that read through.
        fake.add_fault(kind="slow", target=workflow_path + application, count=1, delay_ms=0)
        fake.add_fault(target=workflow_path + application, count=1, **fault)

    return Harness(
        provider=IcimsAts, fake=fake, connection=connection, job=str(IC_JOB), stages=[i for i, _ in IC_STATUSES],
        stage_names=[v for _, v in IC_STATUSES], candidate=str(IC_PERSON), candidate_email="ada@example.com",
        application=str(IC_WORKFLOW), add_jobs=add_jobs, add_applications=add_applications,
        stage_change=stage_change, ping=None, notes_on=notes_on,
        api_moves=lambda app: [m for m in fake.state()["moves"]
                               if str(m["workflow_id"]) == app and m["source"] == "api"],
        stage_of=lambda app: workflow(app)["status"], calls=calls, job_list_path=f"/customers/{IC_CUSTOMER}/jobs",
        writes_made=lambda: [r for r in calls("", "/customers/") if r["method"] == "PATCH"
                             or (r["method"] == "POST" and "/search/" not in r["path"])],
        fail_reads=lambda: fake.add_fault(kind="error", target=f"/customers/{IC_CUSTOMER}/jobs", status=503),
        fault_on_note_write=lambda **fault: fault_on_write(str(IC_WORKFLOW), **fault),
        fault_on_move_write=fault_on_write,
        break_credentials=lambda: fake.add_fault(kind="bad_credentials"),
        auth_words="Invalid Username or Password",
        other_secret=lambda: {**connection.credentials, "push_hmac_secret": "someone-else"},
        strip_signature=lambda d: ({k: v for k, v in d.headers.items() if k.lower() != "authorization"}, d.body),
        read_component="profile", write_component="workflow", kwargs={"page_size": 2})


# ---- Jobvite ---------------------------------------------------------------------------------------------------
# Jobvite has no notes API either: `add_note` appends to the application's comments by read-modify-write
# (notes_on reads the entries back); its stages are workflow state NAMES; it has no test delivery (no ping); its push
# is signed over the body (X-Jobvite-Event-Signature) when a signing key is configured. Its components are key,
# candidates, webhooks and workflow_states (the write component). Every write is a PUT on /api/v2/candidate, the same
# path as the reads before it, hence the harmless first fault below.

JV_STATES = ["New", "Phone Screen", "Interview", "Offer"]
JV_JOB, JV_PERSON, JV_APP = "jvJob042", "jvCand77", "jvApp555"


@pytest.fixture
def jobvite_harness(jobvite_fake, webhook_receiver: Receiver) -> Harness:
    fake = jobvite_fake
    fake.seed({
        "api_keys": [{"key": "jobvite-key", "secret": "jobvite-secret"}], "workflow": JV_STATES,
        "jobs": [{"eId": JV_JOB, "title": "Backend Engineer"}],
        "candidates": [{"eId": JV_PERSON, "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
                        "mobile": "+44 20 7946 0000", "application": {"eId": JV_APP, "job": JV_JOB}}],
        "webhook": {"url": webhook_receiver.url, "signing_key": "sign-key"},
    })
    connection = AtsConnection(name="Acme Jobvite", provider="jobvite", base_url=fake.url,
                               fallback_email="ops@acme.test",
                               credentials={"api_key": "jobvite-key", "api_secret": "jobvite-secret",
                                            "webhook_signing_key": "sign-key", "workflow_states": JV_STATES})

    def add_jobs(n: int) -> list[str]:
        return fake.seed({"jobs": [{"title": f"Job {i}"} for i in range(n)]})["ids"]["jobs"]

    def add_applications(times: list[dt.datetime]) -> list[str]:
        made = fake.seed({"candidates": [
            {"firstName": "Cand", "lastName": str(i),
             "application": {"job": JV_JOB, "lastUpdatedDate": int(at.timestamp() * 1000)}}
            for i, at in enumerate(times)]})
        return made["ids"]["applications"]

    def stage_change(application: str, stage: str) -> Delivery:
        sent = fake.stage_change(application, stage)["delivery"]
        found = [d for d in webhook_receiver.deliveries if d.body == sent["body"].encode()]
        assert found, "the fake sent no push"
        return found[-1]

    def application(app: str) -> dict:
        return next(a for a in fake.state()["applications"] if a["eId"] == app)

    def notes_on(app: str) -> list[str]:
        return re.findall(r".*?\[loopwise:[^\]]*\]", application(app)["comments"] or "", flags=re.DOTALL)

    def calls(method: str, prefix: str) -> list[dict]:
        return [r for r in fake.requests() if method in ("", r["method"]) and r["path"].startswith(prefix)]

    def fault_on_write(app: str, **fault) -> None:
        # Both writes read the application (GET, same path) first: a harmless first fault lets that read through.
        fake.add_fault(kind="slow", target="/api/v2/candidate", count=1, delay_ms=0)
        fake.add_fault(target="/api/v2/candidate", count=1, **fault)

    return Harness(
        provider=JobviteAts, fake=fake, connection=connection, job=JV_JOB, stages=JV_STATES, stage_names=JV_STATES,
        candidate=JV_PERSON, candidate_email="ada@example.com", application=JV_APP, add_jobs=add_jobs,
        add_applications=add_applications, stage_change=stage_change, ping=None, notes_on=notes_on,
        api_moves=lambda app: [m for m in fake.state()["moves"] if m["application"] == app and m["source"] == "api"],
        stage_of=lambda app: application(app)["workflowState"], calls=calls, job_list_path="/api/v2/job",
        writes_made=lambda: [r for r in calls("", "/api/v2/") if r["method"] in ("PUT", "POST")],
        fail_reads=lambda: fake.add_fault(kind="error", target="/api/v2/job", status=503),
        fault_on_note_write=lambda **fault: fault_on_write(JV_APP, **fault), fault_on_move_write=fault_on_write,
        break_credentials=lambda: fake.add_fault(kind="bad_credentials"), auth_words="Invalid api/secret",
        other_secret=lambda: {**connection.credentials, "webhook_signing_key": "someone-else"},
        strip_signature=lambda d: ({k: v for k, v in d.headers.items()
                                    if k.lower() != "x-jobvite-event-signature"}, d.body),
        auth_component="key", read_component="candidates", write_component="workflow_states",
        kwargs={"page_size": 2})


# ---- fixtures --------------------------------------------------------------------------------------------------

@pytest.fixture(params=PROVIDERS)
def harness(request) -> Harness:
    return request.getfixturevalue(f"{request.param}_harness")


@pytest.fixture
def waits(settings):
    """Records every wait made through scheduling.clock.sleep instead of sleeping (cap raised to see the values)."""
    settings.LOOPWISE_MAX_SLEEP_SECONDS = 120
    made: list[float] = []
    with clock.use_sleeper(made.append):
        yield made


# ---- reads -----------------------------------------------------------------------------------------------------

def test_it_lists_jobs_with_their_stages_across_pages(harness):
    more = harness.add_jobs(4)

    jobs = harness.adapter().list_jobs()

    assert sorted(j.external_id for j in jobs) == sorted([harness.job, *more])
    job = next(j for j in jobs if j.external_id == harness.job)
    assert job.title == "Backend Engineer"
    assert [s.external_id for s in job.stages] == harness.stages
    assert [s.name for s in job.stages] == harness.stage_names
    assert [s.position for s in job.stages] == sorted(s.position for s in job.stages)
    assert all(j.stages for j in jobs)
    assert len(harness.calls("GET", harness.job_list_path)) > 1


def test_it_reads_a_candidate_and_an_application(harness):
    adapter = harness.adapter()

    application = adapter.get_application(harness.application)
    candidate = adapter.get_candidate(application.candidate_external_id)

    assert application.external_id == harness.application
    assert application.candidate_external_id == harness.candidate
    assert application.job_external_id == harness.job
    assert (application.stage_external_id, application.stage_name) == (harness.stages[0], harness.stage_names[0])
    assert application.status == "active"
    assert application.updated_at is not None and application.updated_at.utcoffset() == dt.timedelta(0)
    assert (candidate.external_id, candidate.first_name, candidate.last_name) == (harness.candidate, "Ada",
                                                                                  "Lovelace")
    assert candidate.email == harness.candidate_email


def test_it_says_not_found_for_an_application_the_provider_does_not_have(harness):
    with pytest.raises(ProviderError) as caught:
        harness.adapter().get_application("999999")

    assert caught.value.permanent and caught.value.scope == "request" and caught.value.reason == "not_found"


def test_it_polls_changes_since_a_watermark_across_pages(harness):
    old = harness.add_applications([LATER - dt.timedelta(hours=2), LATER - dt.timedelta(seconds=1)])
    new = harness.add_applications([LATER + dt.timedelta(minutes=m) for m in (0, 3, 1, 7, 5)])

    result = harness.adapter().poll_changes(LATER)

    found = [c.application_external_id for c in result.changes]
    assert sorted(found) == sorted(new) and not set(found) & set(old)
    assert len(found) == len(set(found))
    assert result.new_watermark == LATER + dt.timedelta(minutes=7)
    assert all(c.stage_external_id == harness.stages[0] for c in result.changes)
    assert len(harness.calls("GET", "")) > 2  # token aside, more than one page


def test_it_keeps_the_watermark_when_nothing_changed(harness):
    result = harness.adapter().poll_changes(LATER)

    assert result.changes == () and result.new_watermark == LATER


# ---- inbound ---------------------------------------------------------------------------------------------------

def test_it_verifies_and_parses_a_stage_change_the_provider_sent(harness):
    sent = harness.stage_change(harness.application, harness.stages[2])
    adapter = harness.adapter()

    adapter.verify_webhook(sent.headers, sent.body)
    event = adapter.parse_webhook(sent.body, sent.headers)

    assert event.kind == "stage_change"
    assert (event.application_external_id, event.stage_external_id) == (harness.application, harness.stages[2])
    assert event.event_key and len(event.event_key) <= 200


def test_it_gives_a_replayed_delivery_the_same_key_and_a_later_change_another(harness):
    first = harness.stage_change(harness.application, harness.stages[1])
    second = harness.stage_change(harness.application, harness.stages[2])
    adapter = harness.adapter()

    key = adapter.parse_webhook(first.body, first.headers).event_key

    assert adapter.parse_webhook(first.body, first.headers).event_key == key
    assert adapter.parse_webhook(second.body, second.headers).event_key != key


def test_it_verifies_and_parses_a_ping(harness):
    if harness.ping is None:
        pytest.skip("this provider has no test delivery (iCIMS)")
    sent = harness.ping()
    adapter = harness.adapter()

    adapter.verify_webhook(sent.headers, sent.body)
    event = adapter.parse_webhook(sent.body, sent.headers)

    assert event.kind == "ping" and event.event_key


@pytest.mark.parametrize("tamper", ["body", "signature", "missing"])
def test_it_refuses_a_delivery_that_is_not_signed_by_the_provider(harness, tamper):
    sent = harness.stage_change(harness.application, harness.stages[2])
    headers, body = dict(sent.headers), sent.body
    if tamper == "body":
        if not harness.signature_covers_body:
            pytest.skip("this provider's signature does not cover the body: the flow re-reads the application")
        body = body.replace(harness.application.encode(), b"1" + harness.application.encode(), 1)
    elif tamper == "signature":
        harness.connection.credentials = harness.other_secret()
    else:
        headers, body = harness.strip_signature(sent)

    with pytest.raises(WebhookRejected) as caught:
        harness.adapter().verify_webhook(headers, body)

    assert caught.value.status == 401 and caught.value.reason


@pytest.mark.parametrize("body", [b"{\"action\": \"candidate_stage_change\", ", b"\xff\xfe not json", b""])
def test_it_refuses_a_malformed_body_with_400_and_the_reason(harness, body):
    with pytest.raises(WebhookRejected) as caught:
        harness.adapter().parse_webhook(body, {})

    assert caught.value.status == 400 and "JSON" in caught.value.reason


def test_it_refuses_a_body_that_is_json_but_not_an_object_with_400(harness):
    with pytest.raises(WebhookRejected) as caught:
        harness.adapter().parse_webhook(b"[1, 2]", {})

    assert caught.value.status == 400


# ---- writes ----------------------------------------------------------------------------------------------------

def test_it_writes_one_note_per_key_even_from_a_new_worker(harness):
    first = harness.adapter().add_note(harness.application, "Interview booked: Tue 1 Dec, 10:00", key="b-1:r1")
    again = harness.adapter().add_note(harness.application, "Interview booked: Tue 1 Dec, 10:00", key="b-1:r1")
    other = harness.adapter().add_note(harness.application, "Interview moved: Wed 2 Dec, 11:00", key="b-1:r2")

    assert first and again == first and other != first
    notes = harness.notes_on(harness.application)
    assert len(notes) == 2
    assert "Interview booked: Tue 1 Dec, 10:00" in notes[0] and "Interview moved" in notes[1]


def test_it_writes_one_note_when_the_write_times_out_after_being_applied(harness):
    harness.fault_on_note_write(kind="timeout", delay_ms=3000)

    note_id = harness.adapter(timeout=1.0).add_note(harness.application, "Interview booked", key="b-2:r1")

    assert len(harness.notes_on(harness.application)) == 1
    assert len(harness.writes_made()) == 1  # the timed-out write; the retry found its note instead
    assert note_id == harness.adapter().add_note(harness.application, "Interview booked", key="b-2:r1")
    assert len(harness.notes_on(harness.application)) == 1


def test_it_writes_one_note_when_the_write_is_dropped_before_being_applied(harness):
    harness.fault_on_note_write(kind="drop")

    harness.adapter().add_note(harness.application, "Interview booked", key="b-3:r1")

    assert len(harness.notes_on(harness.application)) == 1


def test_it_moves_an_application_from_the_expected_stage(harness):
    harness.adapter().move_stage(harness.application, from_stage_external_id=harness.stages[0],
                                 to_stage_external_id=harness.stages[2])

    assert harness.stage_of(harness.application) == harness.stages[2]
    assert len(harness.api_moves(harness.application)) == 1


def test_it_does_not_write_when_the_application_is_already_in_the_target_stage(harness):
    harness.stage_change(harness.application, harness.stages[2])

    harness.adapter().move_stage(harness.application, from_stage_external_id=harness.stages[0],
                                 to_stage_external_id=harness.stages[2])

    assert harness.writes_made() == []
    assert harness.stage_of(harness.application) == harness.stages[2]


def test_it_refuses_to_move_an_application_someone_moved_elsewhere(harness):
    harness.stage_change(harness.application, harness.stages[1])

    with pytest.raises(ProviderError) as caught:
        harness.adapter().move_stage(harness.application, from_stage_external_id=harness.stages[0],
                                     to_stage_external_id=harness.stages[2])

    assert caught.value.permanent and caught.value.scope == "request" and caught.value.reason == "stage_mismatch"
    assert harness.writes_made() == []
    assert harness.stage_of(harness.application) == harness.stages[1]


def test_it_moves_once_when_the_move_times_out_after_being_applied(harness):
    harness.fault_on_move_write(harness.application, kind="timeout", delay_ms=3000)

    harness.adapter(timeout=1.0).move_stage(harness.application, from_stage_external_id=harness.stages[0],
                                            to_stage_external_id=harness.stages[2])

    assert len(harness.api_moves(harness.application)) == 1
    assert len(harness.writes_made()) == 1  # the timed-out move; the retry saw it applied
    assert harness.stage_of(harness.application) == harness.stages[2]


# ---- errors, retries and health ------------------------------------------------------------------------------

def test_it_raises_a_permanent_connection_error_for_bad_credentials(harness):
    harness.break_credentials()

    with pytest.raises(ProviderError) as caught:
        harness.adapter().list_jobs()

    error = caught.value
    assert error.permanent and error.scope == "connection" and error.reason == "auth"
    assert error.component == harness.auth_component and harness.auth_words in error.message


def test_it_retries_throttling_and_waits_as_long_as_the_provider_asks(harness, waits):
    harness.fake.add_fault(kind="throttle", target=harness.job_list_path, count=2, retry_after=7)

    jobs = harness.adapter().list_jobs()

    assert [j.external_id for j in jobs] == [harness.job]
    assert waits == [7, 7]


def test_it_retries_server_errors_and_recovers(harness, waits):
    harness.fake.add_fault(kind="error", target=harness.job_list_path, count=2, status=502)

    jobs = harness.adapter().list_jobs()

    assert [j.external_id for j in jobs] == [harness.job]
    assert len(waits) == 2


def test_it_gives_up_on_a_lasting_outage_with_a_transient_error(harness, waits):
    harness.fail_reads()

    with pytest.raises(ProviderError) as caught:
        harness.adapter().list_jobs()

    assert not caught.value.permanent and caught.value.component == harness.read_component
    assert len(waits) == 3  # four attempts


def test_it_checks_every_component_and_never_probes_writes(harness):
    checks = harness.adapter().check_components()

    assert [c.component for c in checks] == list(harness.provider.components)
    by_name = {c.component: c for c in checks}
    assert by_name[harness.auth_component].ok is True
    assert by_name[harness.read_component].ok is True, by_name[harness.read_component].message
    assert by_name[harness.write_component].ok is None and by_name[harness.write_component].message
    assert harness.writes_made() == []
    assert harness.notes_on(harness.application) == [] and harness.api_moves(harness.application) == []


def test_it_names_the_read_component_that_fails_while_auth_stays_ok(harness):
    harness.fail_reads()

    by_name = {c.component: c for c in harness.adapter().check_components()}

    assert by_name[harness.auth_component].ok is True
    assert by_name[harness.read_component].ok is False
    assert harness.job_list_path in by_name[harness.read_component].message
    assert "503" in by_name[harness.read_component].message


def test_it_names_auth_when_the_credentials_are_refused(harness):
    harness.break_credentials()

    by_name = {c.component: c for c in harness.adapter().check_components()}

    assert by_name[harness.auth_component].ok is False
    assert harness.auth_words in by_name[harness.auth_component].message
    assert by_name[harness.read_component].ok is not True


def test_the_registry_gives_each_connection_its_adapter(harness):
    assert isinstance(provider_for(harness.connection), harness.provider)


def test_the_registry_refuses_a_provider_without_an_adapter_with_a_permanent_error():
    connection = AtsConnection(name="Later", provider="workday", credentials={})

    with pytest.raises(ProviderError) as caught:
        provider_for(connection)

    assert caught.value.permanent and caught.value.scope == "connection"


def test_jobvite_catches_an_error_inside_a_200_on_reads_and_writes(jobvite_harness):
    # Issue 9: some Jobvite paths answer HTTP 200 with the error in the body's status.code (contract §2.8).
    harness = jobvite_harness
    harness.fake.seed({"settings": {"errors_in_200": True}})
    harness.fake.add_fault(kind="bad_credentials", status=200, count=2)  # the read, and the probe of another route
    with pytest.raises(ProviderError) as read:
        harness.adapter().get_application(harness.application)
    harness.fake.add_fault(kind="slow", target="/api/v2/candidate", count=1, delay_ms=0)  # the read before the PUT
    harness.fake.add_fault(kind="bad_credentials", status=200, target="/api/v2/candidate", count=1)
    with pytest.raises(ProviderError) as write:
        harness.adapter().move_stage(harness.application, from_stage_external_id=harness.stages[0],
                                     to_stage_external_id=harness.stages[2])

    assert (read.value.permanent, read.value.reason, read.value.component) == (True, "auth", "key")
    assert (write.value.permanent, write.value.reason, write.value.component) == (True, "forbidden",
                                                                                  "workflow_states")
    assert {r["status"] for r in harness.fake.requests()} == {200}
    assert harness.stage_of(harness.application) == harness.stages[0] and harness.api_moves(harness.application) == []
