"""Greenhouse's own quirks, through `requests` against the greenhouse fake: the webhook signature over the raw,
escaped bytes, the `Signature: sha256 <hex>` header, the event key, the ping, client-credentials tokens acting as a
user, rate-limit windows, scopes and the Site Admin rule, and the shape of the notes and polls Harvest v3 needs."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from urllib.parse import parse_qs

import pytest
import time_machine

from integrations.ats.base import ProviderError, WebhookRejected
from integrations.ats.greenhouse import GreenhouseAts
from integrations.models import AtsConnection
from scheduling import clock

USER, JOB, ADA, ADA_APP = 4080001, 42, 777, 555
STAGES = ["Application Review", "Phone Screen", "Onsite Interview", "Offer"]
SECRET = "hook-secret"


@pytest.fixture
def greenhouse(greenhouse_fake, webhook_receiver):
    greenhouse_fake.seed({
        "users": [{"id": USER, "first_name": "Riley", "last_name": "Recruiter"},
                  {"id": USER + 1, "first_name": "Tom", "last_name": "Okafor", "site_admin": False}],
        "clients": [{"client_id": "loopwise", "client_secret": "client-secret"},
                    {"client_id": "read-only", "client_secret": "client-secret",
                     "scopes": ["harvest:jobs:list", "harvest:job_interview_stages:list", "harvest:applications:list",
                                "harvest:candidates:list", "harvest:notes:list"]},
                    {"client_id": "no-notes-list", "client_secret": "client-secret",
                     "scopes": ["harvest:jobs:list", "harvest:job_interview_stages:list", "harvest:applications:list",
                                "harvest:candidates:list", "harvest:notes:create", "harvest:applications:move"]}],
        "webhook_secret": SECRET, "webhook_url": webhook_receiver.url,
        "jobs": [{"id": JOB, "name": "R&D <Platform> — Café", "stages": [{"name": n} for n in STAGES]}],
        "candidates": [{"id": ADA, "first_name": "Zoë", "last_name": "<Ødegård> & co",
                        "email_addresses": [{"value": "work@example.com", "type": "work"},
                                            {"value": "zoe@example.com", "type": "personal"}],
                        "phone_numbers": [{"value": "+47 22 00 00 00", "type": "home"},
                                          {"value": "+47 900 00 000", "type": "mobile"}]}],
        "applications": [{"id": ADA_APP, "candidate_id": ADA, "job_id": JOB}],
    })
    return greenhouse_fake


def connection(fake, **changes) -> AtsConnection:
    credentials = {"client_id": "loopwise", "client_secret": "client-secret", "on_behalf_of": str(USER),
                   "webhook_secret": SECRET, **changes}
    return AtsConnection(name="Acme", provider="greenhouse", base_url=fake.url, credentials=credentials)


def adapter(fake, **changes) -> GreenhouseAts:
    return GreenhouseAts(connection(fake, **changes))


def stage_ids(fake) -> dict[str, str]:
    return {s["name"]: str(s["id"]) for s in fake.state()["stages"] if s["job_id"] == JOB}


def moved(fake, receiver, stage: str):
    """Moves the application in the fake (as a recruiter would) and returns the signed delivery it sent."""
    event_id = fake.stage_change(ADA_APP, stage)["delivery"]["event_id"]
    return next(d for d in receiver.deliveries if d.headers["Greenhouse-Event-ID"] == event_id)


def calls(fake, method: str, prefix: str) -> list[dict]:
    return [r for r in fake.requests() if r["method"] == method and r["path"].startswith(prefix)]


# ---- webhooks --------------------------------------------------------------------------------------------------

def test_it_verifies_a_stage_change_whose_payload_has_angle_brackets_and_non_ascii(greenhouse, webhook_receiver):
    sent = moved(greenhouse, webhook_receiver, "Onsite Interview")
    gh = adapter(greenhouse)

    gh.verify_webhook(sent.headers, sent.body)

    assert b"\\u003c" in sent.body and b"\\u00d8" in sent.body and b"<" not in sent.body  # escaped before signing
    assert gh.parse_webhook(sent.body, sent.headers).stage_external_id == stage_ids(greenhouse)["Onsite Interview"]
    reserialised = json.dumps(json.loads(sent.body), ensure_ascii=False).encode()
    with pytest.raises(WebhookRejected) as caught:
        gh.verify_webhook(sent.headers, reserialised)
    assert caught.value.status == 401


def hex_of(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(("name", "value", "accepted"), [
    ("Signature", "sha256 {hex}", True),
    ("signature", "sha256 {hex}", True),
    ("SIGNATURE", "sha256 {hex}", True),
    ("Signature", "sha256={hex}", False),
    ("Signature", "sha1 {hex}", False),
    ("Signature", "sha256", False),
    ("Signature", "{hex}", False),
    ("Signature", "sha256 " + "0" * 64, False),
    ("Signature", "sha256 {hex}00", False),
    ("X-Signature", "sha256 {hex}", False),
])
def test_it_reads_the_signature_header_as_sha256_a_space_and_the_hex_digest(greenhouse, name, value, accepted):
    body = b'{"action":"ping","payload":{"web_hook_id":1}}'
    headers = {name: value.format(hex=hex_of(body))}

    if accepted:
        adapter(greenhouse).verify_webhook(headers, body)
    else:
        with pytest.raises(WebhookRejected) as caught:
            adapter(greenhouse).verify_webhook(headers, body)
        assert caught.value.status == 401


def test_it_refuses_every_delivery_while_no_webhook_secret_is_configured(greenhouse, webhook_receiver):
    sent = moved(greenhouse, webhook_receiver, "Phone Screen")

    with pytest.raises(WebhookRejected) as caught:
        adapter(greenhouse, webhook_secret="").verify_webhook(sent.headers, sent.body)

    assert caught.value.status == 401 and "secret" in caught.value.reason


def test_it_keys_a_delivery_on_the_greenhouse_event_id_which_a_redelivery_keeps(greenhouse, webhook_receiver):
    sent = moved(greenhouse, webhook_receiver, "Phone Screen")
    greenhouse.redeliver(last=1)
    again = webhook_receiver.deliveries[-1]
    gh = adapter(greenhouse)

    key = gh.parse_webhook(sent.body, sent.headers).event_key

    assert key == "gh:" + sent.headers["Greenhouse-Event-ID"]
    assert again.body == sent.body and gh.parse_webhook(again.body, again.headers).event_key == key


def test_it_derives_a_stable_key_from_the_payload_when_the_event_id_is_missing(greenhouse, webhook_receiver):
    first = moved(greenhouse, webhook_receiver, "Phone Screen")
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)):
        second = moved(greenhouse, webhook_receiver, "Onsite Interview")
    gh = adapter(greenhouse)

    key = gh.parse_webhook(first.body).event_key

    assert key == gh.parse_webhook(first.body, {}).event_key
    assert key.startswith(f"gh:candidate_stage_change:{ADA_APP}:{stage_ids(greenhouse)['Phone Screen']}:")
    assert gh.parse_webhook(second.body).event_key != key


def test_it_answers_the_ping_greenhouse_sends_when_a_hook_is_saved(greenhouse, webhook_receiver):
    answer = greenhouse.ping()
    sent = webhook_receiver.deliveries[-1]
    gh = adapter(greenhouse)

    gh.verify_webhook(sent.headers, sent.body)
    event = gh.parse_webhook(sent.body, sent.headers)

    assert answer["webhooks_enabled"] is True
    assert (event.kind, event.action, event.application_external_id) == ("ping", "ping", "")
    assert event.event_key == "gh:" + sent.headers["Greenhouse-Event-ID"]
    assert gh.parse_webhook(sent.body).event_key.startswith("gh:ping:")  # without the header: the body's hash


def test_it_reads_other_actions_as_other_events(greenhouse):
    body = json.dumps({"action": "hire_candidate", "payload": {"application": {"id": ADA_APP}}}).encode()

    event = adapter(greenhouse).parse_webhook(body)

    assert (event.kind, event.action, event.application_external_id) == ("other", "hire_candidate", str(ADA_APP))


@pytest.mark.parametrize(("payload", "missing"), [
    ({"action": "candidate_stage_change", "payload": {}}, "payload.application.id"),
    ({"action": "candidate_stage_change", "payload": {"application": {"id": ADA_APP}}}, "current_stage.id"),
    ({"payload": {"application": {"id": ADA_APP}}}, "action"),
])
def test_it_refuses_a_delivery_without_what_its_action_needs_with_400(greenhouse, payload, missing):
    with pytest.raises(WebhookRejected) as caught:
        adapter(greenhouse).parse_webhook(json.dumps(payload).encode())

    assert caught.value.status == 400 and missing in caught.value.reason


# ---- tokens ----------------------------------------------------------------------------------------------------

def test_it_takes_one_token_for_the_acting_user_and_keeps_it(greenhouse):
    gh = adapter(greenhouse)

    gh.get_application(str(ADA_APP))
    gh.list_jobs()

    assert len(calls(greenhouse, "POST", "/token")) == 1
    assert [t["sub"] for t in greenhouse.state()["tokens"]] == [str(USER)]


def test_it_takes_a_fresh_token_shortly_before_the_old_one_expires(greenhouse):
    greenhouse.seed({"settings": {"token_lifetime": 120}})
    gh = adapter(greenhouse)
    gh.get_application(str(ADA_APP))

    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)):
        gh.get_application(str(ADA_APP))
        assert len(calls(greenhouse, "POST", "/token")) == 1
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=65)):
        gh.get_application(str(ADA_APP))
        assert len(calls(greenhouse, "POST", "/token")) == 2


def test_it_takes_one_fresh_token_when_greenhouse_answers_401(greenhouse):
    gh = adapter(greenhouse)
    gh.get_application(str(ADA_APP))
    greenhouse.add_fault(kind="expire_token", count=1)

    assert gh.get_application(str(ADA_APP)).external_id == str(ADA_APP)
    assert len(calls(greenhouse, "POST", "/token")) == 2


def test_a_revoked_credential_is_a_permanent_auth_error(greenhouse):
    gh = adapter(greenhouse)
    gh.get_application(str(ADA_APP))
    greenhouse.add_fault(kind="revoke")

    with pytest.raises(ProviderError) as caught:
        gh.get_application(str(ADA_APP))

    assert caught.value.permanent and caught.value.scope == "connection" and caught.value.reason == "auth"


def test_an_acting_user_greenhouse_does_not_know_is_a_permanent_auth_error(greenhouse):
    checks = {c.component: c for c in adapter(greenhouse, on_behalf_of="999").check_components()}

    assert checks["auth"].ok is False and "Invalid sub" in checks["auth"].message
    assert checks["reads"].ok is None


# ---- rate limits -------------------------------------------------------------------------------------------

def test_it_waits_for_the_next_window_when_the_remaining_calls_run_low(greenhouse, settings):
    greenhouse.seed({"settings": {"rate_limit": 5, "rate_window": 1},
                     "jobs": [{"name": "Data Engineer", "stages": [{"name": n} for n in STAGES]}]})
    settings.LOOPWISE_MAX_SLEEP_SECONDS = 120
    waits: list[float] = []
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=True) as traveller:
        def sleep(seconds: float) -> None:  # time moves for the fake's windows too, without waiting for real
            waits.append(seconds)
            traveller.shift(dt.timedelta(seconds=seconds))

        with clock.use_sleeper(sleep):
            jobs = GreenhouseAts(connection(greenhouse), page_size=1).list_jobs()

    assert len(jobs) == 2 and all(len(j.stages) == 4 for j in jobs)
    assert len(calls(greenhouse, "GET", "/v3/")) == 10  # 2 pages of jobs, 8 of stages: over the limit of 5
    assert [r for r in greenhouse.requests() if r["status"] == 429] == []
    assert len(waits) >= 2 and all(0 < w <= 2 for w in waits)


# ---- scopes and the Site Admin rule ----------------------------------------------------------------------------

def test_a_missing_write_scope_is_the_writes_components_error_and_reads_stay_ok(greenhouse):
    gh = adapter(greenhouse, client_id="read-only")

    with pytest.raises(ProviderError) as caught:
        gh.add_note(str(ADA_APP), "Interview booked", key="b-1:r1")

    error = caught.value
    assert (error.permanent, error.scope, error.component, error.status) == (True, "component", "writes", 403)
    assert "harvest:notes:create" in error.message
    checks = {c.component: c.ok for c in gh.check_components()}
    assert checks["auth"] is True and checks["reads"] is True


def test_writes_fail_the_check_when_notes_cannot_be_listed_to_keep_a_retried_note_single(greenhouse):
    checks = {c.component: c for c in adapter(greenhouse, client_id="no-notes-list").check_components()}

    assert checks["reads"].ok is True
    assert checks["writes"].ok is False and "harvest:notes:list" in checks["writes"].message
    assert calls(greenhouse, "POST", "/v3/") == []


def test_writes_fail_the_check_without_an_acting_user(greenhouse):
    checks = {c.component: c for c in adapter(greenhouse, on_behalf_of="").check_components()}

    assert checks["auth"].ok is True and checks["reads"].ok is True
    assert checks["writes"].ok is False and "on_behalf_of" in checks["writes"].message


def test_reads_fail_when_the_acting_user_is_not_a_site_admin(greenhouse):
    checks = {c.component: c for c in adapter(greenhouse, on_behalf_of=str(USER + 1)).check_components()}

    assert checks["auth"].ok is True
    assert checks["reads"].ok is False and "Site Admin" in checks["reads"].message


# ---- notes, moves and polls ------------------------------------------------------------------------------------

def test_it_writes_the_note_harvest_v3_needs_as_the_acting_user_on_the_right_candidate(greenhouse):
    note_id = adapter(greenhouse).add_note(str(ADA_APP), "Interview booked\nTue 1 Dec 10:00 (Europe/Oslo)",
                                           key="booking-9:r1")

    [note] = greenhouse.state()["notes"]
    assert str(note["id"]) == note_id
    assert (note["candidate_id"], note["application_id"], note["user_id"]) == (ADA, ADA_APP, USER)
    assert (note["type"], note["visibility"]) == ("NOTE", "public")
    assert note["body"] == "Interview booked\nTue 1 Dec 10:00 (Europe/Oslo)\n\n[loopwise:booking-9:r1]"


def test_a_note_without_an_acting_user_is_refused_before_any_write(greenhouse):
    with pytest.raises(ProviderError) as caught:
        adapter(greenhouse, on_behalf_of="").add_note(str(ADA_APP), "Interview booked", key="b-1:r1")

    assert caught.value.permanent and caught.value.component == "writes"
    assert calls(greenhouse, "POST", "/v3/") == []


@pytest.mark.parametrize("key", ["", "a]b", "two\nlines", "x" * 151])
def test_it_refuses_a_note_key_it_could_not_find_again(greenhouse, key):
    with pytest.raises(ValueError):
        adapter(greenhouse).add_note(str(ADA_APP), "Interview booked", key=key)


def test_a_move_greenhouse_refuses_for_another_reason_is_permanent_for_the_request(greenhouse):
    stages = stage_ids(greenhouse)

    with pytest.raises(ProviderError) as caught:  # the target is a stage of no job of this application
        adapter(greenhouse).move_stage(str(ADA_APP), from_stage_external_id=stages["Application Review"],
                                       to_stage_external_id="1")

    assert (caught.value.permanent, caught.value.scope, caught.value.status) == (True, "request", 422)


def test_it_polls_with_the_date_filter_on_the_first_page_and_the_cursor_alone_after(greenhouse):
    greenhouse.seed({"candidates": [{"id": 800 + i, "first_name": "C", "last_name": str(i)} for i in range(3)],
                     "applications": [{"candidate_id": 800 + i, "job_id": JOB, "updated_at": "2031-03-01T09:00:00Z"}
                                      for i in range(3)]})

    result = GreenhouseAts(connection(greenhouse), page_size=2).poll_changes(
        dt.datetime(2031, 3, 1, 9, 0, 0, 750_000, tzinfo=dt.UTC))

    first, *rest = [parse_qs(r["query"]) for r in calls(greenhouse, "GET", "/v3/applications")]
    assert first == {"updated_at": ["gte|2031-03-01T09:00:00Z"], "per_page": ["2"]}
    assert rest and all(set(q) == {"cursor"} for q in rest)
    assert len(result.changes) == 3


def test_it_reads_the_personal_email_and_the_mobile_phone(greenhouse):
    candidate = adapter(greenhouse).get_candidate(str(ADA))

    assert (candidate.email, candidate.phone) == ("zoe@example.com", "+47 900 00 000")
    assert (candidate.first_name, candidate.last_name) == ("Zoë", "<Ødegård> & co")


def test_it_asks_for_the_stages_of_at_most_50_jobs_at_once(greenhouse):
    greenhouse.seed({"jobs": [{"name": f"Job {i}"} for i in range(50)]})

    jobs = adapter(greenhouse).list_jobs()

    assert len(jobs) == 51 and all(len(j.stages) == 4 for j in jobs)
    stage_queries = [parse_qs(r["query"]) for r in calls(greenhouse, "GET", "/v3/job_interview_stages")]
    assert sorted(len(q["job_ids"][0].split(",")) for q in stage_queries) == [1, 50]
