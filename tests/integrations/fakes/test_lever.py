"""The lever fake, driven with `requests` as the Lever adapter drives Lever's API: Basic auth with the key as username,
the `{"data": ...}` envelope, limit/offset pagination with opaque tokens, millisecond filters, `perform_as`, the
token bucket, error bodies, and signed webhooks to a receiver, with retries, redelivery, removal and faults."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import requests

from tests.integrations.ats.conftest import Receiver

USER, JOB, APP = "u-1", "p-1", "o-1"
KEY = ("lever-key", "")


@pytest.fixture
def webhook_receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def fake(lever_fake, webhook_receiver: Receiver):
    lever_fake.seed({"users": [{"id": USER, "name": "Riley Recruiter"}], "api_keys": [{"key": "lever-key"}],
                     "postings": [{"id": JOB, "text": "Backend Engineer"}],
                     "opportunities": [{"id": APP, "name": "Ada Lo", "posting": JOB, "updatedAt": 1_800_000_000_000}],
                     "webhook_url": webhook_receiver.url, "signature_tokens": {"candidateStageChange": "sig"}})
    return lever_fake


def get(fake, path: str, auth=KEY, **params) -> requests.Response:
    return requests.get(fake.url + path, params=params, auth=auth, timeout=5)


def stages(fake) -> dict[str, str]:
    return {s["text"]: s["id"] for s in fake.state()["stages"]}


def test_it_wants_the_key_as_basic_username_and_answers_lever_errors(fake):
    ok = get(fake, f"/v1/opportunities/{APP}")
    wrong = get(fake, f"/v1/opportunities/{APP}", auth=("nope", ""))
    missing = get(fake, "/v1/opportunities/unknown")

    assert ok.status_code == 200 and ok.json()["data"]["id"] == APP
    assert wrong.status_code == 401 and wrong.json()["code"] == "UnauthorizedError" and wrong.json()["message"]
    assert missing.status_code == 404 and missing.json()["code"] == "ResourceNotFound"


def test_it_pages_with_opaque_offset_tokens_tied_to_the_query(fake):
    fake.seed({"postings": [{"text": f"Job {i}"} for i in range(4)]})

    first = get(fake, "/v1/postings", limit=2).json()
    second = get(fake, "/v1/postings", limit=2, offset=first["next"]).json()
    changed = get(fake, "/v1/postings", limit=2, offset=first["next"], state="closed")
    too_many = get(fake, "/v1/postings", limit=101)

    assert first["hasNext"] and len(first["data"]) == 2 and second["hasNext"]
    assert not {p["id"] for p in first["data"]} & {p["id"] for p in second["data"]}
    assert changed.status_code == 400 and changed.json()["message"] == "Invalid offset token"
    assert too_many.status_code == 400


def test_it_filters_opportunities_by_updated_at_in_milliseconds(fake):
    at = get(fake, "/v1/opportunities", updated_at_start=1_800_000_000_000).json()["data"]
    after = get(fake, "/v1/opportunities", updated_at_start=1_800_000_000_001).json()["data"]
    seconds = get(fake, "/v1/opportunities", updated_at_start="2027-01-01T00:00:00Z")

    assert [o["id"] for o in at] == [APP] and after == []
    assert seconds.status_code == 400


def test_it_changes_the_stage_by_put_attributed_to_perform_as(fake):
    target = stages(fake)["Phone Screen"]

    answer = requests.put(f"{fake.url}/v1/opportunities/{APP}/stage", params={"perform_as": USER},
                          json={"stage": target}, auth=KEY, timeout=5)
    bad = requests.put(f"{fake.url}/v1/opportunities/{APP}/stage", json={"stage": "nope"}, auth=KEY, timeout=5)

    assert answer.status_code == 200 and answer.json()["data"]["stage"] == target
    opp = answer.json()["data"]
    assert opp["stageChanges"][-1]["toStageId"] == target and opp["lastAdvancedAt"] == opp["updatedAt"]
    assert bad.status_code == 400
    assert fake.state()["moves"][0]["user"] == USER


def test_it_writes_notes_and_applies_them_under_a_timeout_fault(fake):
    fake.add_fault(kind="timeout", target=f"/v1/opportunities/{APP}/notes", count=1, delay_ms=2000)

    with pytest.raises(requests.Timeout):
        requests.post(f"{fake.url}/v1/opportunities/{APP}/notes", params={"perform_as": USER},
                      json={"value": "Booked"}, auth=KEY, timeout=0.5)
    listed = get(fake, f"/v1/opportunities/{APP}/notes").json()["data"]

    assert [n["fields"][0]["value"] for n in listed] == ["Booked"] and listed[0]["user"] == USER


def test_it_answers_429_once_the_bucket_is_empty(fake):
    fake.seed({"settings": {"rate_burst": 3, "rate_per_second": 0.1}})

    statuses = [get(fake, "/v1/stages").status_code for _ in range(4)]
    last = get(fake, "/v1/stages")

    assert statuses == [200, 200, 200, 429]
    assert last.json()["code"] == "TooManyRequests" and "Retry-After" not in last.headers


def test_it_signs_stage_change_webhooks_over_token_and_triggered_at(fake, webhook_receiver):
    answer = fake.stage_change(APP, "On-site Interview")

    body = json.loads(webhook_receiver.deliveries[-1].body)
    mac = hmac.new(b"sig", f"{body['token']}{body['triggeredAt']}".encode(), hashlib.sha256).hexdigest()
    assert answer["delivery"]["status"] == 200
    assert body["event"] == "candidateStageChange" and body["signature"] == mac
    assert body["data"]["opportunityId"] == APP and body["data"]["toStageId"] == stages(fake)["On-site Interview"]


def test_it_retries_a_refused_delivery_with_the_same_bytes_and_redelivers_on_request(fake, webhook_receiver):
    fake.seed({"settings": {"webhook_retry_delays": [0.05]}})
    webhook_receiver.status = 500
    fake.stage_change(APP, "Phone Screen")
    webhook_receiver.status = 200
    for _ in range(100):
        if len(webhook_receiver.deliveries) >= 2:
            break
        time.sleep(0.02)
    fake.redeliver(last=1)

    bodies = [d.body for d in webhook_receiver.deliveries]
    assert len(bodies) == 3 and len(set(bodies)) == 1
    assert [a["status"] for a in fake.state()["deliveries"][0]["attempts"]] == [500, 200]


def test_it_delivers_nothing_once_the_subscription_is_removed_though_polling_sees_the_move(fake, webhook_receiver):
    fake.remove_webhooks()

    answer = fake.stage_change(APP, "Offer")

    assert answer["delivery"] is None and webhook_receiver.deliveries == []
    assert get(fake, f"/v1/opportunities/{APP}").json()["data"]["stage"] == stages(fake)["Offer"]


def test_it_refuses_every_key_under_bad_credentials_and_answers_5xx_under_an_error_fault(fake):
    fake.add_fault(kind="bad_credentials", count=1)
    fake.add_fault(kind="error", target="/v1/postings", count=1, status=502)

    refused = get(fake, "/v1/stages")
    failed = get(fake, "/v1/postings")

    assert refused.status_code == 401 and failed.status_code == 502 and failed.json()["code"] == "BadGateway"
