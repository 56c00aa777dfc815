"""iCIMS's own quirks, through `requests` against the icims fake: one health row per component, each broken alone
(outright and in its silent forms: fields hidden from the API user, access denied answered as 404, a configured
status gone from the list), gzip pushes under Basic and HMAC, duplicate pushes, the daily quota read from the
rate-limit headers, and the schedule text written once into the configured workflow field."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib

import pytest

from integrations.ats.base import ProviderError, WebhookRejected
from integrations.ats.icims import IcimsAts, hmac_authorization
from integrations.models import AtsConnection
from scheduling import clock

CID, JOB, ADA, ADA_WF, BEN, BEN_WF = "1234", 42, 777, 555, 778, 556
STATUSES = [("D10100", "New Submissions"), ("C2005", "Phone Screen"), ("C2010", "Schedule Interview"),
            ("C2020", "Offer")]
READS = ("datastream", "search", "profile", "list")


@pytest.fixture
def icims(icims_fake, webhook_receiver):
    icims_fake.seed({
        "customer_id": CID, "api_users": [{"username": "loopwise", "password": "pw"},
                                          {"username": "restricted", "password": "pw",
                                           "hidden_fields": ["email", "associatedprofile"]}],
        "clients": [{"client_id": "oauth-client", "client_secret": "oauth-secret"}],
        "push": {"auth": "basic", "username": "icims-push", "password": "push-pw"},
        "statuses": [{"id": i, "value": v} for i, v in STATUSES], "workflow_fields": ["field50001"],
        "jobs": [{"id": JOB, "jobtitle": "Nurse"}],
        "people": [{"id": ADA, "firstname": "Ana", "lastname": "Ruiz", "email": "ana@example.com"},
                   {"id": BEN, "firstname": "Ben", "lastname": "Okafor", "email": "ben@example.com"}],
        "workflows": [{"id": ADA_WF, "job": JOB, "person": ADA}, {"id": BEN_WF, "job": JOB, "person": BEN}],
        "datastream": {"licensed": True, "subscriptions": ["loopwise"]}, "webhook_url": webhook_receiver.url,
    })
    return icims_fake


@pytest.fixture
def waits(settings):
    """Every wait made through scheduling.clock.sleep, recorded instead of slept."""
    settings.LOOPWISE_MAX_SLEEP_SECONDS = 120
    made: list[float] = []
    with clock.use_sleeper(made.append):
        yield made


def adapter(fake, **changes) -> IcimsAts:
    credentials = {"customer_id": CID, "username": "loopwise", "password": "pw", "note_field": "field50001",
                   "status_ids": ["C2010", "C2020"], "datastream": True, "push_auth": "basic",
                   "push_username": "icims-push", "push_password": "push-pw", **changes}
    credentials = {k: v for k, v in credentials.items() if v is not None}
    return IcimsAts(AtsConnection(name="Acme", provider="icims", base_url=fake.url, credentials=credentials))


def health(fake, **changes) -> dict[str, tuple[bool | None, str]]:
    return {c.component: (c.ok, c.message) for c in adapter(fake, **changes).check_components()}


# ---- health, one component at a time --------------------------------------------------------------------------

def test_it_reports_every_component_healthy_on_a_working_connection(icims):
    checks = health(icims)

    assert list(checks) == list(IcimsAts.components)
    assert {name: ok for name, (ok, _) in checks.items()} == {
        "auth": True, "events": None, "datastream": True, "search": True, "profile": True, "list": True,
        "workflow": None}


@pytest.mark.parametrize("component", ["datastream", "search", "profile", "list", "workflow"])
@pytest.mark.parametrize("status", [None, 503])
def test_it_turns_only_the_broken_component_unhealthy(icims, component, status):
    icims.stage_change(ADA_WF, "C2005")  # the Data Streaming feed has an event to sample when Search is down
    icims.add_fault(kind="component_down", target=component, **({"status": status} if status else {}))

    checks = health(icims)

    assert checks[component][0] is False, checks[component]
    others = {name: ok for name, (ok, _) in checks.items() if name != component}
    expected = {"auth": True, "events": None, "datastream": True, "search": True, "profile": True, "list": True,
                "workflow": None}
    assert others == {k: v for k, v in expected.items() if k != component}, checks
    if status is None:
        assert "access denied" in checks[component][1]


def test_it_catches_fields_hidden_from_the_api_user(icims):
    icims.add_fault(kind="component_down", target="profile", status=200)

    checks = health(icims)

    assert checks["profile"][0] is False and "email" in checks["profile"][1]
    assert checks["workflow"][0] is None and checks["search"][0] is True


def test_it_catches_a_workflow_without_its_person_and_refuses_to_half_read_it(icims):
    restricted = {"username": "restricted"}

    checks = health(icims, **restricted)
    with pytest.raises(ProviderError) as caught:
        adapter(icims, **restricted).get_application(str(ADA_WF))

    assert checks["workflow"][0] is False and "associatedprofile" in checks["workflow"][1]
    assert checks["profile"][0] is False and "email" in checks["profile"][1]
    assert caught.value.component == "workflow" and caught.value.reason == "missing_fields"
    assert caught.value.permanent and caught.value.scope == "component"


def test_it_catches_a_configured_status_that_is_gone_from_the_list(icims):
    icims.seed({"statuses": [{"id": i, "value": v} for i, v in STATUSES if i != "C2020"]})

    checks = health(icims)

    assert checks["list"][0] is False and "C2020" in checks["list"][1]
    assert checks["search"][0] is True and checks["profile"][0] is True


def test_it_says_when_the_status_list_comes_back_empty(icims):
    icims.add_fault(kind="component_down", target="list", status=200)

    checks = health(icims)

    assert checks["list"][0] is False and "empty" in checks["list"][1]


def test_it_reads_a_404_for_an_id_search_just_gave_as_access_denied(icims):
    icims.add_fault(kind="error", target=f"/customers/{CID}/people/", status=404)

    checks = health(icims)

    assert checks["profile"][0] is False and "access denied" in checks["profile"][1]


def test_it_says_no_datastream_licence_is_not_a_failure(icims):
    checks = health(icims, datastream=None)

    assert checks["datastream"][0] is None and "not licensed" in checks["datastream"][1]


def test_it_flags_events_without_push_credentials_and_leaves_the_rest_alone(icims):
    checks = health(icims, push_auth=None)

    assert checks["events"][0] is False and checks["auth"][0] is True and checks["search"][0] is True


def test_it_names_auth_when_oauth_client_credentials_are_refused(icims):
    good = health(icims, username=None, password=None, client_id="oauth-client", client_secret="oauth-secret")
    bad = health(icims, username=None, password=None, client_id="oauth-client", client_secret="wrong")

    assert good["auth"][0] is True and good["profile"][0] is True
    assert bad["auth"][0] is False and bad["profile"][0] is None


def test_an_error_names_its_component(icims):
    icims.add_fault(kind="component_down", target="workflow")

    with pytest.raises(ProviderError) as caught:
        adapter(icims).get_application(str(ADA_WF))
    candidate = adapter(icims).get_candidate(str(ADA))

    assert caught.value.component == "workflow" and caught.value.scope == "component"
    assert candidate.email == "ana@example.com"


# ---- pushes ---------------------------------------------------------------------------------------------------

def test_it_verifies_and_parses_a_gzipped_push_with_basic_auth(icims, webhook_receiver):
    icims.stage_change(ADA_WF, "C2010")
    sent = webhook_receiver.deliveries[-1]
    ats = adapter(icims)

    ats.verify_webhook(sent.headers, sent.body)
    event = ats.parse_webhook(sent.body, sent.headers)

    assert sent.headers["Content-Encoding"] == "gzip" and sent.body[:2] == b"\x1f\x8b"
    assert (event.kind, event.application_external_id, event.stage_external_id) == ("stage_change", str(ADA_WF),
                                                                                   "C2010")
    assert event.event_key == f"icims:{CID}:{ADA_WF}:C2010"


def test_it_refuses_a_push_with_the_wrong_basic_password(icims, webhook_receiver):
    icims.stage_change(ADA_WF, "C2010")
    sent = webhook_receiver.deliveries[-1]

    with pytest.raises(WebhookRejected) as caught:
        adapter(icims, push_password="other").verify_webhook(sent.headers, sent.body)

    assert caught.value.status == 401


def test_it_verifies_a_gzipped_hmac_push_and_refuses_it_tampered(icims, webhook_receiver):
    icims.seed({"push": {"auth": "hmac", "user": "icims-events", "secret": "s3cret"}})
    icims.stage_change(ADA_WF, "C2010")
    sent = webhook_receiver.deliveries[-1]
    ats = adapter(icims, push_auth="hmac", push_hmac_user="icims-events", push_hmac_secret="s3cret")
    ats.verify_webhook(sent.headers, sent.body)
    forged_body = gzip.compress(gzip.decompress(sent.body).replace(b'"C2010"', b'"C2020"'))
    resigned = {**sent.headers, "x-icims-content-sha256": hashlib.sha256(forged_body).hexdigest()}

    with pytest.raises(WebhookRejected) as tampered:
        ats.verify_webhook(sent.headers, forged_body)
    with pytest.raises(WebhookRejected) as wrong_key:
        ats.verify_webhook(resigned, forged_body)  # the hash matches, the signature over it does not

    assert "sha256" in tampered.value.reason and "signature" in wrong_key.value.reason
    assert ats.parse_webhook(sent.body, sent.headers).stage_external_id == "C2010"


def test_it_refuses_a_stale_hmac_push(icims, webhook_receiver):
    ats = adapter(icims, push_auth="hmac", push_hmac_user="u", push_hmac_secret="s")
    body = gzip.compress(b'{"eventType":"WorkFlowStatusChangeEvent","customerId":"1234","systemId":"555",'
                         b'"newStatus":"C2010"}')
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)).strftime("%Y%m%dT%H%M%SZ")
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json", "x-icims-date": old,
               "x-icims-content-sha256": hashlib.sha256(body).hexdigest()}
    headers["Authorization"] = hmac_authorization("u", "s", headers, ("x-icims-date", "x-icims-content-sha256"))

    with pytest.raises(WebhookRejected) as caught:
        ats.verify_webhook(headers, body)

    assert "stale" in caught.value.reason


def test_it_gives_duplicate_pushes_the_same_key(icims, webhook_receiver):
    icims.stage_change(ADA_WF, "C2010", duplicates=1)
    icims.redeliver(last=1)
    ats = adapter(icims)

    keys = {ats.parse_webhook(d.body, d.headers).event_key for d in webhook_receiver.deliveries}

    assert len(webhook_receiver.deliveries) == 3 and keys == {f"icims:{CID}:{ADA_WF}:C2010"}


def test_it_refuses_a_push_for_another_customer_as_malformed(icims):
    body = b'{"eventType":"WorkFlowStatusChangeEvent","customerId":"9999","systemId":"555","newStatus":"C2010"}'

    with pytest.raises(WebhookRejected) as caught:
        adapter(icims).parse_webhook(body, {})

    assert caught.value.status == 400


def test_it_finds_by_polling_what_a_silent_push_never_said(icims, webhook_receiver):
    icims.add_fault(kind="component_down", target="events")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)

    answer = icims.stage_change(ADA_WF, "C2010")
    changes = adapter(icims).poll_changes(since).changes

    assert answer["deliveries"] == [] and webhook_receiver.deliveries == []
    assert (str(ADA_WF), "C2010") in [(c.application_external_id, c.stage_external_id) for c in changes]


# ---- quota ----------------------------------------------------------------------------------------------------

def test_it_tracks_the_daily_quota_from_the_rate_limit_headers(icims):
    icims.seed({"settings": {"daily_limit": 50}})
    ats = adapter(icims)

    ats.get_candidate(str(ADA))
    first = ats.quota_remaining()
    ats.get_candidate(str(BEN))

    assert ats.quota_limit() == 50 and ats.quota_remaining() == first - 1
    midnight = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert abs(ats.quota_resets_at() - midnight) < dt.timedelta(seconds=2)


def test_it_stops_at_a_spent_quota_without_retrying_or_calling_again(icims, waits):
    icims.add_fault(kind="quota_exhausted")
    ats = adapter(icims)

    with pytest.raises(ProviderError) as caught:
        ats.get_candidate(str(ADA))
    with pytest.raises(ProviderError):
        ats.get_candidate(str(BEN))

    error = caught.value
    assert error.reason == "quota_exhausted" and not error.permanent and error.scope == "connection"
    assert error.retry_after and error.retry_after > 0 and ats.quota_remaining() == 0
    assert waits == [] and len(icims.requests()) == 1


def test_it_runs_out_of_quota_when_the_calls_are_spent(icims):
    icims.seed({"settings": {"daily_limit": 3}})
    ats = adapter(icims)

    ats.get_candidate(str(ADA))
    ats.get_candidate(str(BEN))
    ats.get_candidate(str(ADA))
    with pytest.raises(ProviderError) as caught:
        adapter(icims).get_candidate(str(ADA))

    assert ats.quota_remaining() == 0 and caught.value.reason == "quota_exhausted"


# ---- writes ---------------------------------------------------------------------------------------------------

def test_it_writes_the_schedule_text_into_the_field_once_after_a_timeout(icims):
    path = f"/customers/{CID}/applicantworkflows/{ADA_WF}"
    icims.seed({"workflows": [{"id": ADA_WF, "job": JOB, "person": ADA, "fields": {"field50001": "Recruiter note"}}]})
    icims.add_fault(kind="slow", target=path, count=1, delay_ms=0)
    icims.add_fault(kind="timeout", target=path, count=1, delay_ms=3000)

    note = adapter(icims).add_note(str(ADA_WF), "Interview booked: Tue 1 Dec, 10:00 (Europe/London)", key="b-1:r1")
    again = IcimsAts(adapter(icims).connection, timeout=1.0).add_note(str(ADA_WF), "Interview booked", key="b-1:r1")

    state = icims.state()
    value = next(w for w in state["workflows"] if w["id"] == ADA_WF)["fields"]["field50001"]
    assert note == again
    assert value.startswith("Recruiter note\n\n") and value.count("[loopwise:b-1:r1]") == 1
    assert len(state["field_writes"]) == 1


def test_it_replaces_the_field_when_configured_to(icims):
    icims.seed({"workflows": [{"id": ADA_WF, "job": JOB, "person": ADA, "fields": {"field50001": "Old"}}]})

    adapter(icims, note_mode="replace").add_note(str(ADA_WF), "Interview booked", key="b-2:r1")

    value = next(w for w in icims.state()["workflows"] if w["id"] == ADA_WF)["fields"]["field50001"]
    assert value == "Interview booked\n[loopwise:b-2:r1]"


def test_it_refuses_to_write_a_note_without_a_configured_field(icims):
    with pytest.raises(ProviderError) as caught:
        adapter(icims, note_field=None).add_note(str(ADA_WF), "Interview booked", key="b-3:r1")

    assert caught.value.component == "workflow" and caught.value.permanent
    assert icims.state()["field_writes"] == []


def test_it_does_not_write_twice_into_a_field_the_api_user_cannot_see(icims):
    icims.add_fault(kind="component_down", target="workflow", status=200)
    icims.seed({"api_users": [{"username": "loopwise", "password": "pw", "hidden_fields": ["field50001"]}]})

    with pytest.raises(ProviderError) as caught:
        adapter(icims).add_note(str(ADA_WF), "Interview booked", key="b-4:r1")

    assert caught.value.reason == "field_hidden" and caught.value.permanent
    assert len(icims.state()["field_writes"]) == 1


def test_it_names_the_field_a_status_move_requires(icims):
    icims.seed({"statuses": [{"id": i, "value": v, **({"requires": ["field50001"]} if i == "C2010" else {})}
                             for i, v in STATUSES]})

    with pytest.raises(ProviderError) as caught:
        adapter(icims).move_stage(str(ADA_WF), from_stage_external_id="D10100", to_stage_external_id="C2010")

    assert caught.value.reason == "field_required" and "field50001" in caught.value.message
    assert caught.value.component == "workflow" and caught.value.scope == "component"
