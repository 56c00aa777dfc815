"""Jobvite's own quirks, through `requests` against the jobvite fake: errors inside HTTP 200 (reads and writes), the
comment appended by read-modify-write and read back (and what happens when a colleague writes around us), paging
under both counting bases, pushes that are only hints (signed, stale, forged, unsigned), per-endpoint access, the
daily quota, throttling and 5xx, and the four health components."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs

import pytest
import time_machine
from django.urls import reverse

from integrations.ats import health
from integrations.ats.base import ProviderError, WebhookRejected, component_names, own_component
from integrations.ats.jobvite import JobviteAts, note_marker
from integrations.ats.sync import inbound_handle
from integrations.models import AtsComponentHealth, AtsConnection, Health
from scheduling import clock
from scheduling.models import InboundEvent, SchedulingRequest
from tests import factories as f

STATES = ["New", "Phone Screen", "Interview", "Offer"]
JOB, ADA, ADA_APP, BEN, BEN_APP = "jvJob042", "jvCand77", "jvApp555", "jvCand78", "jvApp556"
T0 = dt.datetime(2031, 3, 1, 9, 0, tzinfo=dt.UTC)  # after anything the fake stamps with the real clock
CANDIDATE = "/api/v2/candidate"


@pytest.fixture
def jobvite(jobvite_fake, webhook_receiver):
    jobvite_fake.seed({
        "api_keys": [{"key": "jv-key", "secret": "jv-secret"},
                     {"key": "no-candidates", "secret": "s2", "entitlements": ["job:get", "workflow:get"]},
                     {"key": "read-only", "secret": "s3", "entitlements": ["job:get", "workflow:get",
                                                                           "candidate:get"]}],
        "workflow": STATES, "jobs": [{"eId": JOB, "title": "Teacher"}, {"title": "Old", "jobState": "Closed"}],
        "candidates": [{"eId": ADA, "firstName": "Zoë", "lastName": "Ødegård", "email": "zoe@example.com",
                        "homePhone": "555-0100",
                        "application": {"eId": ADA_APP, "job": JOB, "comments": "Strong referral."}},
                       {"eId": BEN, "firstName": "Ben", "lastName": "Okafor",
                        "application": {"eId": BEN_APP, "job": JOB}}],
        "webhook": {"url": webhook_receiver.url, "signing_key": "sign-key"},
        "settings": {"webhook_on_api_move": False},
    })
    return jobvite_fake


def connection(fake, **changes) -> AtsConnection:
    credentials = {"api_key": "jv-key", "api_secret": "jv-secret", "webhook_signing_key": "sign-key",
                   "workflow_states": ["Interview", "Offer"], **changes}
    return AtsConnection(name="Acme Jobvite", provider="jobvite", base_url=fake.url,
                         credentials={k: v for k, v in credentials.items() if v is not None})


def adapter(fake, **changes) -> JobviteAts:
    return JobviteAts(connection(fake, **changes))


@pytest.fixture
def waits(settings):
    """Every wait made through scheduling.clock.sleep, recorded instead of slept."""
    settings.LOOPWISE_MAX_SLEEP_SECONDS = 10**6
    made: list[float] = []
    with clock.use_sleeper(made.append):
        yield made


def calls(fake, method: str, path: str = CANDIDATE) -> list[dict]:
    return [r for r in fake.requests() if r["method"] == method and r["path"] == path]


def comments(fake, app: str = ADA_APP) -> str:
    return next(a for a in fake.state()["applications"] if a["eId"] == app)["comments"] or ""


def moved(fake, receiver, app: str, state: str):
    body = fake.stage_change(app, state)["delivery"]["body"].encode()
    return next(d for d in receiver.deliveries if d.body == body)


# ---- errors inside HTTP 200 ------------------------------------------------------------------------------------

def test_it_catches_an_auth_error_inside_a_200_on_a_read(jobvite):
    jobvite.add_fault(kind="bad_credentials", status=200)

    with pytest.raises(ProviderError) as caught:
        adapter(jobvite).get_application(ADA_APP)

    error = caught.value
    assert (error.permanent, error.scope, error.reason, error.component) == (True, "connection", "auth", "key")
    assert "inside HTTP 200" in error.message and "Invalid api/secret" in error.message
    assert {r["status"] for r in jobvite.requests()} == {200}


def test_it_catches_an_error_inside_a_200_on_the_comment_write_and_writes_nothing(jobvite):
    jobvite.seed({"settings": {"errors_in_200": True}})

    with pytest.raises(ProviderError) as caught:
        JobviteAts(connection(jobvite, api_key="read-only", api_secret="s3")).add_note(ADA_APP, "Booked", key="n-1")

    error = caught.value
    assert (error.permanent, error.scope, error.reason, error.component) == (True, "component", "forbidden",
                                                                             "workflow_states")
    assert "PUT /api/v2/candidate is not granted" in error.message
    assert [r["status"] for r in calls(jobvite, "PUT")] == [200]  # the trap: HTTP 200, code 401
    assert comments(jobvite) == "Strong referral."


def test_it_catches_an_unknown_state_inside_a_200_on_the_move(jobvite):
    jobvite.seed({"settings": {"errors_in_200": [CANDIDATE]}})

    with pytest.raises(ProviderError) as caught:
        adapter(jobvite).move_stage(ADA_APP, from_stage_external_id="New", to_stage_external_id="Onsite")

    error = caught.value
    assert (error.permanent, error.scope, error.reason, error.component) == (True, "component", "unknown_state",
                                                                             "workflow_states")
    assert "Cannot determine a workflow state" in error.message
    assert jobvite.state()["moves"] == []


def test_it_retries_a_server_error_inside_a_200_and_writes_once(jobvite, waits):
    jobvite.seed({"settings": {"errors_in_200": True}})
    jobvite.add_fault(kind="slow", target=CANDIDATE, count=1, delay_ms=0)  # the read before the write
    jobvite.add_fault(kind="error", target=CANDIDATE, count=1, status=503)

    adapter(jobvite).add_note(ADA_APP, "Booked", key="n-2")

    assert len(waits) == 1
    assert [r["status"] for r in calls(jobvite, "PUT")] == [200, 200]
    assert comments(jobvite).count(note_marker("n-2")) == 1


# ---- the comment: read, append, write, read back ---------------------------------------------------------------

def test_it_appends_to_the_comments_and_never_drops_what_was_there(jobvite):
    ats = adapter(jobvite)

    first = ats.add_note(ADA_APP, "Interview booked: Tue 10:00", key="b-1:r1")
    again = ats.add_note(ADA_APP, "Interview booked: Tue 10:00", key="b-1:r1")
    ats.add_note(ADA_APP, "Interview moved: Wed 11:00", key="b-1:r2")

    assert first == again
    assert comments(jobvite) == ("Strong referral.\n\nInterview booked: Tue 10:00\n[loopwise:b-1:r1]\n\n"
                                 "Interview moved: Wed 11:00\n[loopwise:b-1:r2]")
    trail = [(r["method"], parse_qs(r["query"]).get("applicationId")) for r in jobvite.requests()]
    assert trail[:3] == [("GET", [ADA_APP]), ("PUT", None), ("GET", [ADA_APP])]  # read, write, read back
    assert len(calls(jobvite, "PUT")) == 2  # the repeated key wrote nothing


def test_it_appends_again_when_a_colleague_overwrites_our_entry_after_our_write(jobvite):
    # A colleague saved a copy of the comments taken before our write: right after our PUT, the field holds their
    # text without our entry. The read-back sees the entry gone and appends it again.
    jobvite.edit_comments(ADA_APP, comments="Strong referral.\nCalled her today.", after={"method": "PUT"})

    adapter(jobvite).add_note(ADA_APP, "Interview booked", key="b-2:r1")

    assert comments(jobvite) == "Strong referral.\nCalled her today.\n\nInterview booked\n[loopwise:b-2:r1]"
    assert len(calls(jobvite, "PUT")) == 2


def test_it_keeps_a_colleague_edit_made_before_its_read(jobvite):
    jobvite.edit_comments(ADA_APP, append="Called her today.")

    adapter(jobvite).add_note(ADA_APP, "Interview booked", key="b-3:r1")

    assert comments(jobvite) == "Strong referral.\nCalled her today.\n\nInterview booked\n[loopwise:b-3:r1]"


def test_an_edit_inside_the_round_trip_between_read_and_put_is_lost_under_the_replace_reading(jobvite):
    # The documented limit (module docstring): Jobvite has no compare-and-set on the comments, so an edit that lands
    # after our read and before our PUT is overwritten, and nothing in the API shows it afterwards. Everything we
    # read, and our entry, stand.
    jobvite.edit_comments(ADA_APP, append="Called her today.", after={"method": "GET"})

    adapter(jobvite).add_note(ADA_APP, "Interview booked", key="b-4:r1")

    assert comments(jobvite) == "Strong referral.\n\nInterview booked\n[loopwise:b-4:r1]"
    assert [w.get("by") for w in jobvite.state()["comment_writes"]] == ["colleague", None]


def test_it_says_so_when_jobvite_appends_instead_and_loses_nothing(jobvite):
    jobvite.seed({"settings": {"comments_mode": "append"}})

    with pytest.raises(ProviderError) as caught:
        adapter(jobvite).add_note(ADA_APP, "Interview booked", key="b-5:r1")

    assert (caught.value.permanent, caught.value.reason, caught.value.component) == (True, "comments_appended",
                                                                                     "workflow_states")
    assert comments(jobvite) == "Strong referral.\nStrong referral.\n\nInterview booked\n[loopwise:b-5:r1]"
    assert adapter(jobvite).add_note(ADA_APP, "Interview booked", key="b-5:r1")  # found: not written again
    assert len(calls(jobvite, "PUT")) == 1


def test_it_writes_an_empty_field_the_same_under_either_reading(jobvite):
    jobvite.seed({"settings": {"comments_mode": "append"}})

    adapter(jobvite).add_note(BEN_APP, "Interview booked", key="b-6:r1")

    assert comments(jobvite, BEN_APP) == "Interview booked\n[loopwise:b-6:r1]"


def test_it_refuses_to_write_comments_it_cannot_see(jobvite):
    jobvite.seed({"settings": {"hide_comments": True}})

    with pytest.raises(ProviderError) as caught:
        adapter(jobvite).add_note(ADA_APP, "Interview booked", key="b-7:r1")

    assert (caught.value.permanent, caught.value.reason) == (True, "comments_hidden")
    assert calls(jobvite, "PUT") == [] and comments(jobvite) == "Strong referral."


def test_it_refuses_a_key_it_could_not_find_again():
    ats = JobviteAts(AtsConnection(provider="jobvite", credentials={}))

    for key in ("", "a]b", "a\nb", "x" * 151):
        with pytest.raises(ValueError):
            ats.add_note(ADA_APP, "text", key=key)


# ---- reads and paging ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("base", [0, 1])
def test_it_polls_every_change_once_whichever_base_start_counts_from(jobvite, base):
    jobvite.seed({"settings": {"start_base": base}})
    made = jobvite.seed({"candidates": [
        {"firstName": "C", "lastName": str(i), "application": {"job": JOB, "lastUpdatedDate": int(
            (T0 + dt.timedelta(minutes=i)).timestamp() * 1000)}} for i in range(7)]})["ids"]["applications"]

    result = JobviteAts(connection(jobvite), page_size=3).poll_changes(T0)

    assert [c.application_external_id for c in result.changes] == made
    assert result.new_watermark == T0 + dt.timedelta(minutes=6)
    # From 0, stepping by count: read as 1-based, each page repeats the previous one's last row (dropped by its id);
    # starting from 1 instead would lose the first row under the 0-based reading.
    assert [parse_qs(r["query"])["start"][0] for r in calls(jobvite, "GET")] == ["0", "3", "6"]


def test_it_asks_for_changes_a_day_early_and_keeps_only_those_since_the_watermark(jobvite):
    times = [T0 - dt.timedelta(hours=3), T0 - dt.timedelta(milliseconds=1), T0, T0 + dt.timedelta(seconds=1)]
    made = jobvite.seed({"candidates": [
        {"firstName": "C", "lastName": str(i), "application": {"job": JOB,
                                                               "lastUpdatedDate": int(t.timestamp() * 1000)}}
        for i, t in enumerate(times)]})["ids"]["applications"]

    result = adapter(jobvite).poll_changes(T0)

    query = parse_qs(calls(jobvite, "GET")[0]["query"])
    assert query["datestart"] == ["02-28-2031T09:00:00+0000"] and query["dateFormat"] == ["MM-dd-yyyy'T'HH:mm:ssZ"]
    assert [c.application_external_id for c in result.changes] == made[2:]


def test_it_reads_the_application_and_the_candidate_behind_it(jobvite):
    ats = adapter(jobvite)

    app = ats.get_application(ADA_APP)
    person = ats.get_candidate(app.candidate_external_id)

    assert (app.candidate_external_id, app.job_external_id, app.stage_external_id, app.status) == (
        ADA, JOB, "New", "active")
    assert (person.first_name, person.last_name, person.email, person.phone) == ("Zoë", "Ødegård", "zoe@example.com",
                                                                                 "555-0100")


def test_it_reads_rejected_and_hired_states_by_the_companys_names(jobvite):
    jobvite.seed({"workflow": [*STATES, "Declined"]})
    jobvite.stage_change(BEN_APP, "Declined")

    assert adapter(jobvite).get_application(BEN_APP).status == "active"
    assert adapter(jobvite, rejected_states=["Declined"]).get_application(BEN_APP).status == "rejected"


def test_it_lists_open_jobs_only_with_the_companys_states(jobvite):
    jobs = adapter(jobvite).list_jobs()

    assert [j.external_id for j in jobs] == [JOB]
    assert [s.external_id for s in jobs[0].stages] == STATES


def test_it_signs_its_calls_when_asked(jobvite):
    app = adapter(jobvite, auth_mode="signed").get_application(ADA_APP)

    assert app.external_id == ADA_APP


# ---- access, quota, throttling ---------------------------------------------------------------------------------

def test_it_blames_the_endpoint_not_the_key_when_only_candidates_are_refused(jobvite):
    ats = JobviteAts(connection(jobvite, api_key="no-candidates", api_secret="s2"))

    with pytest.raises(ProviderError) as caught:
        ats.get_application(ADA_APP)
    checks = {c.component: c for c in ats.check_components()}

    assert (caught.value.scope, caught.value.reason, caught.value.component) == ("component", "forbidden",
                                                                                 "candidates")
    assert checks["key"].ok is True and checks["candidates"].ok is False
    assert "not granted" in checks["candidates"].message


def test_it_treats_a_redirect_to_the_login_page_as_the_keys_failure(jobvite):
    jobvite.add_fault(kind="bad_credentials", status=302)

    with pytest.raises(ProviderError) as caught:
        adapter(jobvite).list_jobs()

    assert (caught.value.permanent, caught.value.scope, caught.value.component) == (True, "connection", "key")
    assert "app.jobvite.com" in caught.value.message


def test_it_stops_calling_once_the_daily_quota_is_spent(jobvite, waits):
    jobvite.add_fault(kind="quota_exhausted")
    ats = adapter(jobvite)

    with pytest.raises(ProviderError) as first:
        ats.get_application(ADA_APP)
    with pytest.raises(ProviderError) as second:
        ats.list_jobs()

    error = first.value
    assert (error.permanent, error.scope, error.reason, error.component) == (False, "connection",
                                                                             "quota_exhausted", "key")
    assert 0 < error.retry_after <= 24 * 3600
    assert second.value.reason == "quota_exhausted"
    assert len(jobvite.requests()) == 1 and waits == []


def test_it_backs_off_on_throttling_without_retry_after_and_recovers(jobvite, waits):
    jobvite.add_fault(kind="throttle", target=CANDIDATE, count=2)

    app = adapter(jobvite).get_application(ADA_APP)

    assert app.external_id == ADA_APP
    assert len(waits) == 2 and all(0 <= w <= 30 for w in waits)


def test_it_gives_up_on_a_lasting_outage_of_one_component_with_a_transient_error(jobvite, waits):
    jobvite.add_fault(kind="error", target=CANDIDATE, status=500)

    with pytest.raises(ProviderError) as caught:
        adapter(jobvite).get_application(ADA_APP)

    assert (caught.value.permanent, caught.value.reason, caught.value.component) == (False, "server_error",
                                                                                     "candidates")
    assert len(waits) == 3


# ---- health ----------------------------------------------------------------------------------------------------

def test_it_checks_key_candidates_webhooks_and_workflow_states(jobvite):
    checks = adapter(jobvite).check_components()

    assert [(c.component, c.ok) for c in checks] == [("key", True), ("candidates", True), ("webhooks", None),
                                                     ("workflow_states", None)]
    assert "signing key configured" in checks[2].message
    assert [r for r in jobvite.requests() if r["method"] != "GET"] == []


def test_it_turns_workflow_states_red_when_a_configured_state_was_renamed(jobvite):
    jobvite.seed({"workflow": ["New", "Phone Screen", "Interview Scheduled", "Offer"]})

    checks = {c.component: c for c in adapter(jobvite).check_components()}

    assert checks["workflow_states"].ok is False and "'Interview'" in checks["workflow_states"].message
    assert checks["key"].ok is True and checks["candidates"].ok is True


@pytest.mark.django_db
def test_health_rows_use_jobvites_own_component_names(jobvite):
    conn = connection(jobvite)
    conn.save()

    health.mark_success(connection=conn, component="auth")
    health.mark_success(connection=conn, component="reads")
    health.mark_error(connection=conn, error=ProviderError("refused", permanent=True, scope="connection",
                                                           reason="auth", component="key"))
    conn.refresh_from_db()
    red = conn.health
    health.mark_success(connection=conn, component="auth")
    conn.refresh_from_db()

    rows = dict(AtsComponentHealth.objects.filter(connection=conn).values_list("component", "health"))
    assert rows == {"key": Health.OK, "candidates": Health.OK}
    assert red == Health.RED and conn.health == Health.OK
    assert component_names(conn) == ("webhooks", "workflow_states")
    assert own_component(conn, "writes") == "workflow_states"


# ---- pushes are hints ------------------------------------------------------------------------------------------

def test_it_verifies_the_signature_over_the_body_and_refuses_a_stale_push(jobvite, webhook_receiver):
    sent = moved(jobvite, webhook_receiver, ADA_APP, "Interview")
    ats = adapter(jobvite)
    date = dt.datetime.fromtimestamp(json.loads(sent.body)["date"] / 1000, tz=dt.UTC)
    expected = base64.b64encode(hmac.new(b"sign-key", sent.body, hashlib.sha256).digest()).decode()

    ats.verify_webhook(sent.headers, sent.body)
    event = ats.parse_webhook(sent.body)

    with time_machine.travel(date + dt.timedelta(minutes=16), tick=False):
        with pytest.raises(WebhookRejected) as stale:
            ats.verify_webhook(sent.headers, sent.body)

    assert sent.headers["X-Jobvite-Event-Signature"] == expected
    assert (event.kind, event.application_external_id, event.stage_external_id) == ("stage_change", ADA_APP,
                                                                                    "Interview")
    assert stale.value.status == 401 and "stale" in stale.value.reason


def test_it_refuses_every_push_without_a_signing_key_unless_unsigned_pushes_are_accepted(jobvite, webhook_receiver):
    jobvite.seed({"webhook": {"signing_key": None, "id_field": "candidateId"}})
    sent = moved(jobvite, webhook_receiver, ADA_APP, "Interview")

    with pytest.raises(WebhookRejected) as refused:
        adapter(jobvite, webhook_signing_key=None).verify_webhook(sent.headers, sent.body)
    with pytest.raises(WebhookRejected) as unsigned:
        adapter(jobvite).verify_webhook(sent.headers, sent.body)
    accepting = adapter(jobvite, webhook_signing_key=None, accept_unsigned_pushes=True)
    accepting.verify_webhook(sent.headers, sent.body)

    assert refused.value.status == 401 and "no webhook_signing_key" in refused.value.reason
    assert unsigned.value.status == 401 and "missing X-Jobvite-Event-Signature" in unsigned.value.reason
    assert accepting.parse_webhook(sent.body).application_external_id == ADA_APP  # candidateId read as well


def test_it_keys_a_push_on_application_state_and_date(jobvite):
    body = {"eventType": "workflowUpdate", "id": ADA, "applicationId": ADA_APP, "oldValue": "New",
            "newValue": "Interview", "date": 1930000000000}
    ats = adapter(jobvite)

    event = ats.parse_webhook(json.dumps(body).encode())
    job_event = ats.parse_webhook(json.dumps({"eventType": "jobUpdate", "id": JOB, "date": 1}).encode())

    assert event.event_key == f"jv:{ADA_APP}:Interview:1930000000000"
    assert (job_event.kind, job_event.application_external_id) == ("other", "")
    with pytest.raises(WebhookRejected) as caught:
        ats.parse_webhook(b"{}")
    assert caught.value.status == 400


@pytest.fixture
def mapped(db, jobvite):
    """A saved connection that accepts unsigned pushes, with the job's "Interview" state mapped to a plan."""
    conn = connection(jobvite, webhook_signing_key=None, accept_unsigned_pushes=True)
    conn.save()
    requisition = f.RequisitionFactory(ats_connection=conn, external_id=JOB)
    stage = f.StageFactory(requisition=requisition, external_id="Interview", name="Interview")
    f.PlanFactory(requisition=requisition, stage=stage, active=True)
    return conn


def push(client, conn, body: dict) -> InboundEvent | None:
    answer = client.post(reverse("ats_webhook", args=[conn.webhook_key]), data=json.dumps(body).encode(),
                         content_type="application/json")
    assert answer.status_code == 200, answer.content
    return InboundEvent.objects.get(pk=answer.json()["event"])


def test_a_forged_push_changes_nothing_until_the_api_agrees(mapped, jobvite, webhook_receiver, client):
    forged = {"eventType": "workflowUpdate", "id": ADA, "applicationId": ADA_APP, "oldValue": "New",
              "newValue": "Interview", "date": int(time.time() * 1000)}

    outcome = inbound_handle(push(client, mapped, forged))
    reread = [parse_qs(r["query"]).get("applicationId") for r in calls(jobvite, "GET")]
    jobvite.stage_change(ADA_APP, "Interview")  # now the recruiter does move her
    real = json.loads(webhook_receiver.deliveries[-1].body)
    after = inbound_handle(push(client, mapped, real))

    assert outcome.endswith("nothing to schedule") and reread == [[ADA_APP]]
    assert "request #" in after
    assert SchedulingRequest.objects.filter(application__external_id=ADA_APP).count() == 1


@pytest.mark.django_db
def test_a_signed_connection_refuses_an_unsigned_or_tampered_push_and_stores_nothing(jobvite, webhook_receiver, client):
    conn = connection(jobvite)
    conn.save()
    path = reverse("ats_webhook", args=[conn.webhook_key])
    sent = moved(jobvite, webhook_receiver, ADA_APP, "Interview")
    forged = sent.body.replace(b"Interview", b"Offer")

    unsigned = client.post(path, data=sent.body, content_type="application/json")
    tampered = client.post(path, data=forged, content_type="application/json",
                           HTTP_X_JOBVITE_EVENT_SIGNATURE=sent.headers["X-Jobvite-Event-Signature"])
    good = client.post(path, data=sent.body, content_type="application/json",
                       HTTP_X_JOBVITE_EVENT_SIGNATURE=sent.headers["X-Jobvite-Event-Signature"])

    assert (unsigned.status_code, tampered.status_code, good.status_code) == (401, 401, 200)
    assert InboundEvent.objects.filter(connection=conn).count() == 1
