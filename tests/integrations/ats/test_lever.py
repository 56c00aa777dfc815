"""Lever's own quirks, through `requests` against the lever fake: a webhook signature over token + triggeredAt that
does not cover the body (so freshness, de-duplication and re-reading carry the weight), the schemes to refuse,
polling in epoch milliseconds, `perform_as` on writes, notes found again by their marker, and a stage PUT that only
our own re-read guards."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from urllib.parse import parse_qs

import pytest
import time_machine
from django.urls import reverse

from integrations.ats.base import ProviderError, WebhookRejected
from integrations.ats.lever import LeverAts
from integrations.models import AtsConnection
from scheduling.models import InboundEvent

USER, JOB = "5a0e0000-0000-4000-8000-000000000001", "5a0e0000-0000-4000-8000-000000000042"
ADA, ADA_APP = "5a0e0000-0000-4000-8000-000000000777", "5a0e0000-0000-4000-8000-000000000555"
STAGES = ["New Applicant", "Phone Screen", "On-site Interview", "Offer"]
TOKENS = {"candidateStageChange": "sig-token"}


@pytest.fixture
def lever(lever_fake, webhook_receiver):
    lever_fake.seed({
        "users": [{"id": USER, "name": "Riley Recruiter"}, {"id": "gone", "name": "Old", "deactivatedAt": 1}],
        "api_keys": [{"key": "lever-key"}], "oauth_tokens": [{"token": "oauth-token", "user_id": USER}],
        "stages": [{"text": n} for n in STAGES], "postings": [{"id": JOB, "text": "Backend Engineer"}],
        "opportunities": [{"id": ADA_APP, "name": "Zoë Ødegård", "emails": ["zoe@example.com"], "posting": JOB,
                           "contact": ADA}],
        "webhook_url": webhook_receiver.url, "signature_tokens": TOKENS})
    return lever_fake


def connection(fake, **changes) -> AtsConnection:
    credentials = {"api_key": "lever-key", "perform_as": USER, "signature_tokens": TOKENS, **changes}
    return AtsConnection(name="Acme", provider="lever", base_url=fake.url, credentials=credentials)


def adapter(fake, **changes) -> LeverAts:
    return LeverAts(connection(fake, **changes))


def stage_ids(fake) -> dict[str, str]:
    return {s["text"]: s["id"] for s in fake.state()["stages"]}


def moved(fake, receiver, stage: str):
    token = fake.stage_change(ADA_APP, stage)["delivery"]["token"]
    return next(d for d in receiver.deliveries if json.loads(d.body)["token"] == token)


def calls(fake, method: str, prefix: str) -> list[dict]:
    return [r for r in fake.requests() if r["method"] == method and r["path"].startswith(prefix)]


# ---- webhooks --------------------------------------------------------------------------------------------------

def test_it_checks_the_signature_over_token_and_triggered_at_not_the_body(lever, webhook_receiver):
    sent = moved(lever, webhook_receiver, "On-site Interview")
    body = json.loads(sent.body)
    expected = hmac.new(b"sig-token", f"{body['token']}{body['triggeredAt']}".encode(), hashlib.sha256).hexdigest()
    forged_data = sent.body.replace(ADA_APP.encode(), b"another-opportunity")
    lv = adapter(lever)

    lv.verify_webhook(sent.headers, sent.body)
    lv.verify_webhook(sent.headers, forged_data)  # the body is not covered: what keeps us safe is below

    assert body["signature"] == expected and "Signature" not in sent.headers
    assert lv.parse_webhook(forged_data).event_key == lv.parse_webhook(sent.body).event_key
    event = lv.parse_webhook(sent.body)
    assert (event.kind, event.application_external_id) == ("stage_change", ADA_APP)
    assert event.stage_external_id == stage_ids(lever)["On-site Interview"]


def test_it_refuses_a_stale_delivery(lever, webhook_receiver):
    sent = moved(lever, webhook_receiver, "Phone Screen")
    triggered = dt.datetime.fromtimestamp(json.loads(sent.body)["triggeredAt"] / 1000, tz=dt.UTC)

    with time_machine.travel(triggered + dt.timedelta(minutes=5, seconds=30), tick=False):
        with pytest.raises(WebhookRejected) as caught:
            adapter(lever).verify_webhook(sent.headers, sent.body)
    with time_machine.travel(triggered + dt.timedelta(minutes=4), tick=False):
        adapter(lever).verify_webhook(sent.headers, sent.body)

    assert caught.value.status == 401 and "stale" in caught.value.reason


def test_it_refuses_a_forged_signature_and_the_schemes_lever_does_not_use(lever, webhook_receiver):
    sent = moved(lever, webhook_receiver, "Phone Screen")
    body = json.loads(sent.body)
    body["signature"] = hmac.new(b"guessed", f"{body['token']}{body['triggeredAt']}".encode(),
                                 hashlib.sha256).hexdigest()
    forged = json.dumps(body).encode()
    with pytest.raises(WebhookRejected) as caught:
        adapter(lever).verify_webhook(sent.headers, forged)
    refused = [caught.value.status]
    for scheme in ("header", "token_only"):
        lever.seed({"settings": {"signature_scheme": scheme}})
        other = moved(lever, webhook_receiver, "Offer" if scheme == "header" else "Phone Screen")
        with pytest.raises(WebhookRejected) as caught:
            adapter(lever).verify_webhook(other.headers, other.body)
        refused.append(caught.value.status)

    assert refused == [401, 401, 401]


def test_it_uses_the_signature_token_of_the_event_and_refuses_without_one(lever, webhook_receiver):
    sent = moved(lever, webhook_receiver, "Phone Screen")

    adapter(lever, signature_tokens={"candidateHired": "x"}, webhook_secret="sig-token").verify_webhook(
        sent.headers, sent.body)
    with pytest.raises(WebhookRejected) as caught:
        adapter(lever, signature_tokens={"candidateHired": "sig-token"}).verify_webhook(sent.headers, sent.body)

    assert "no signature token" in caught.value.reason


@pytest.mark.django_db
def test_it_stores_a_delivery_once_when_lever_replays_it_and_refuses_a_stale_one(lever, webhook_receiver, client):
    conn = connection(lever)
    conn.save()
    sent = moved(lever, webhook_receiver, "Phone Screen")
    lever.redeliver(last=1)
    replay = webhook_receiver.deliveries[-1]
    path = reverse("ats_webhook", args=[conn.webhook_key])

    first = client.post(path, data=sent.body, content_type="application/json")
    again = client.post(path, data=replay.body, content_type="application/json")
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10), tick=False):
        late = moved(lever, webhook_receiver, "Offer")
    stale = client.post(path, data=late.body, content_type="application/json")

    assert replay.body == sent.body
    assert (first.status_code, first.json()["duplicate"]) == (200, False)
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    assert stale.status_code == 401
    assert InboundEvent.objects.filter(connection=conn).count() == 1


def test_it_takes_the_connection_test_without_an_opportunity_as_a_ping(lever):
    token = lever.ping()["delivery"]["token"]
    sent = next(d for d in lever.state()["deliveries"] if d["token"] == token)
    lv = adapter(lever)

    lv.verify_webhook({}, sent["body"].encode())

    assert lv.parse_webhook(sent["body"].encode()).kind == "ping"


# ---- reads -----------------------------------------------------------------------------------------------------

def test_it_polls_with_updated_at_start_in_milliseconds(lever):
    since = dt.datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    lever.seed({"opportunities": [{"name": "Later Person", "posting": JOB, "updatedAt": 1893553445679},
                                  {"name": "Earlier Person", "posting": JOB, "updatedAt": 1893553445677}]})

    result = adapter(lever).poll_changes(since)

    query = parse_qs(calls(lever, "GET", "/v1/opportunities")[0]["query"])
    assert query["updated_at_start"] == ["1893553445678"]
    assert len(result.changes) == 1
    assert result.new_watermark == dt.datetime(2030, 1, 2, 3, 4, 5, 679000, tzinfo=dt.UTC)


def test_it_reads_the_person_behind_the_opportunity_and_works_with_an_oauth_token(lever):
    lv = adapter(lever, api_key="", access_token="oauth-token")

    app = lv.get_application(ADA_APP)
    person = lv.get_candidate(app.candidate_external_id)

    assert (app.job_external_id, app.stage_name, app.status) == (JOB, "New Applicant", "active")
    assert (person.external_id, person.first_name, person.last_name, person.email) == (ADA, "Zoë", "Ødegård",
                                                                                       "zoe@example.com")


def test_it_gives_a_wrong_key_a_permanent_auth_error(lever):
    with pytest.raises(ProviderError) as caught:
        adapter(lever, api_key="wrong").get_application(ADA_APP)

    assert (caught.value.reason, caught.value.scope, caught.value.component) == ("auth", "connection", "auth")


# ---- writes ----------------------------------------------------------------------------------------------------

def test_it_sends_perform_as_on_every_write(lever):
    lv = adapter(lever)

    lv.add_note(ADA_APP, "Interview booked", key="b-1:r1")
    lv.move_stage(ADA_APP, from_stage_external_id=stage_ids(lever)["New Applicant"],
                  to_stage_external_id=stage_ids(lever)["On-site Interview"])

    writes = calls(lever, "POST", "/v1/") + calls(lever, "PUT", "/v1/")
    assert len(writes) == 2
    assert all(parse_qs(w["query"])["perform_as"] == [USER] for w in writes)
    state = lever.state()
    assert state["notes"][0]["user"] == USER and state["moves"][0]["user"] == USER


def test_it_refuses_to_write_with_an_api_key_and_no_acting_user(lever):
    with pytest.raises(ProviderError) as caught:
        adapter(lever, perform_as="").add_note(ADA_APP, "Interview booked", key="b-1:r1")

    assert caught.value.permanent and caught.value.component == "writes"
    assert calls(lever, "POST", "/v1/") == []


def test_it_writes_one_note_after_a_timeout_whatever_the_id_field_is_called(lever):
    lever.seed({"settings": {"note_id_field": "id"}})
    path = f"/v1/opportunities/{ADA_APP}/notes"
    lever.add_fault(kind="slow", target=path, count=1, delay_ms=0)
    lever.add_fault(kind="timeout", target=path, count=1, delay_ms=3000)

    first = LeverAts(connection(lever), timeout=1.0).add_note(ADA_APP, "Interview booked", key="b-2:r1")
    fresh = adapter(lever).add_note(ADA_APP, "Interview moved", key="b-2:r2")

    notes = lever.state()["notes"]
    assert len(notes) == 2 and len(calls(lever, "POST", path)) == 2
    assert first == notes[0]["id"] and fresh == notes[1]["id"]
    assert notes[0]["fields"][0]["value"].endswith("[loopwise:b-2:r1]")


def test_it_reads_the_stage_before_every_put(lever):
    stages = stage_ids(lever)
    lever.add_fault(kind="error", target=f"/v1/opportunities/{ADA_APP}/stage", count=1, status=502)

    adapter(lever).move_stage(ADA_APP, from_stage_external_id=stages["New Applicant"],
                              to_stage_external_id=stages["Phone Screen"])

    trail = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in lever.requests()]
    assert trail == [("GET", ADA_APP), ("PUT", "stage"), ("GET", ADA_APP), ("PUT", "stage")]
    assert [m["to_stage"] for m in lever.state()["moves"]] == [stages["Phone Screen"]]


def test_it_shows_writes_red_when_the_acting_user_is_deactivated(lever):
    by_name = {c.component: c for c in adapter(lever, perform_as="gone").check_components()}

    assert by_name["auth"].ok is True and by_name["reads"].ok is True
    assert by_name["writes"].ok is False and "deactivated" in by_name["writes"].message
