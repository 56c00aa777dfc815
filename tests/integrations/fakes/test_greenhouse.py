"""The greenhouse fake, driven with `requests` as the Greenhouse adapter drives Harvest v3: client-credentials tokens,
cursor pagination through Link headers, rate-limit headers, notes that cannot be deleted, guarded moves, polling by
updated_at, and signed stage-change web hooks to a small receiver, with replays, pings, retries and faults."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from integrations.fakes.greenhouse import GreenhouseFake

ROOT = Path(__file__).resolve().parents[3]
CLIENT, SECRET, HOOK_SECRET = "loopwise-client", "client-secret", "hook-secret"
ADMIN, RECRUITER = 4080001, 4080002
JOB, OTHER_JOB = 42, 43
REVIEW, SCREEN, ONSITE, OFFER = 9001, 9002, 9003, 9004
ADA, ZOE = 777, 778
ADA_APP, ZOE_APP = 555, 556


@pytest.fixture
def fake(greenhouse_fake):
    greenhouse_fake.seed({
        "users": [{"id": ADMIN, "first_name": "Amelia", "last_name": "Hart", "primary_email": "amelia@acme.test"},
                  {"id": RECRUITER, "first_name": "Tom", "last_name": "Okafor", "site_admin": False}],
        "clients": [{"client_id": CLIENT, "client_secret": SECRET}],
        "jobs": [{"id": JOB, "name": "Backend Engineer", "stages": [
                    {"id": REVIEW, "name": "Application Review"}, {"id": SCREEN, "name": "Phone Screen"},
                    {"id": ONSITE, "name": "Onsite Interview", "interviews": [{"id": 8001, "name": "Pairing"}]},
                    {"id": OFFER, "name": "Offer"}]},
                 {"id": OTHER_JOB, "name": "Data Engineer"}],
        "candidates": [{"id": ADA, "first_name": "Ada", "last_name": "Lo", "email_addresses": ["ada@x.io"]},
                       {"id": ZOE, "first_name": "Zoë", "last_name": "<Ødegård> & co", "external_id": "ext-1",
                        "email_addresses": [{"value": "zoe@x.io", "type": "work"}]}],
        "applications": [{"id": ADA_APP, "candidate_id": ADA, "job_id": JOB, "stage": "Phone Screen"},
                         {"id": ZOE_APP, "candidate_id": ZOE, "job_id": JOB, "stage": REVIEW}],
        "webhook_secret": HOOK_SECRET,
    })
    return greenhouse_fake


class Receiver:
    """A tiny web hook endpoint: keeps each POST's headers and raw bytes, answers the queued statuses, then 200."""

    def __init__(self):
        self.received: list[dict] = []
        self.answers: list[int] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.arrived:
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.received.append({"headers": dict(self.headers), "raw": raw})
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/greenhouse/key"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 5) -> list[dict]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, timeout), self.received
            return list(self.received)


@pytest.fixture
def receiver():
    hook = Receiver()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


@pytest.fixture
def hooked(fake, receiver):
    fake.configure_webhooks(url=receiver.url)
    return fake


def token(fake, sub: int | None = ADMIN, **auth) -> str:
    data = {"grant_type": "client_credentials", **({"sub": str(sub)} if sub else {})}
    answer = requests.post(f"{fake.url}/token", auth=auth.get("auth", (CLIENT, SECRET)), data=data, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def api(fake, sub: int | None = ADMIN) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token(fake, sub)}"
    return session


def verify(secret: str, raw: bytes, header: str) -> bool:
    algorithm, _, digest = header.partition(" ")
    expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return algorithm == "sha256" and hmac.compare_digest(digest, expected)


def application(fake, app_id: int) -> dict:
    return next(a for a in fake.state()["applications"] if a["id"] == app_id)


# ---- OAuth ---------------------------------------------------------------------------------------------------


def test_it_issues_a_bearer_token_for_client_credentials_acting_as_sub_or_the_service_user(fake):
    basic = requests.post(f"{fake.url}/token", auth=(CLIENT, SECRET),
                          data={"grant_type": "client_credentials", "sub": str(ADMIN)}, timeout=5)
    posted = requests.post(f"{fake.url}/token", data={"grant_type": "client_credentials", "client_id": CLIENT,
                                                      "client_secret": SECRET}, timeout=5)

    assert basic.status_code == posted.status_code == 200
    body = basic.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["expires_at"].endswith("Z")
    assert body["access_token"].count(".") == 2  # JWT-shaped
    tokens = {t["token"]: t for t in fake.state()["tokens"]}
    assert tokens[body["access_token"]]["user_id"] == ADMIN
    service = tokens[posted.json()["access_token"]]["user_id"]
    assert next(u for u in fake.state()["users"] if u["id"] == service)["service_account"] is True


def test_it_refuses_wrong_credentials_unknown_subs_and_other_grants(fake):
    def ask(auth=(CLIENT, SECRET), **data):
        return requests.post(f"{fake.url}/token", auth=auth, data=data, timeout=5)

    assert ask(auth=(CLIENT, "wrong"), grant_type="client_credentials").json() == {"error": "invalid_client"}
    assert ask(auth=("nobody", SECRET), grant_type="client_credentials").status_code == 401
    assert ask(grant_type="authorization_code").json() == {"error": "unsupported_grant_type"}
    unknown = ask(grant_type="client_credentials", sub="999")
    assert unknown.status_code == 400 and unknown.json()["errorId"].startswith("err-")
    fake.add_fault(kind="bad_credentials", target=CLIENT, count=1)
    assert ask(grant_type="client_credentials").json() == {"error": "invalid_client"}
    assert ask(grant_type="client_credentials").status_code == 200


def test_it_checks_the_token_on_every_call_with_greenhouses_401(fake):
    session = api(fake)
    assert session.get(f"{fake.url}/v3/jobs", timeout=5).status_code == 200

    missing = requests.get(f"{fake.url}/v3/jobs", timeout=5)
    forged = requests.get(f"{fake.url}/v3/jobs", headers={"Authorization": "Bearer eyJ.forged.x"}, timeout=5)

    for answer in (missing, forged):
        assert answer.status_code == 401
        assert answer.json()["message"] == "Unauthorized"
        assert answer.json()["errors"][0].startswith("Token could not be decoded.")


def test_it_expires_and_revokes_tokens_on_demand(fake):
    session = api(fake)
    fake.add_fault(kind="expire_token", count=1)

    assert session.get(f"{fake.url}/v3/jobs", timeout=5).status_code == 401
    assert session.get(f"{fake.url}/v3/jobs", timeout=5).status_code == 401  # that token is forgotten
    fresh = api(fake)
    assert fresh.get(f"{fake.url}/v3/jobs", timeout=5).status_code == 200

    fake.add_fault(kind="revoke", target=CLIENT)
    assert fresh.get(f"{fake.url}/v3/jobs", timeout=5).status_code == 401
    refused = requests.post(f"{fake.url}/token", auth=(CLIENT, SECRET), data={"grant_type": "client_credentials"},
                            timeout=5)
    assert refused.json() == {"error": "invalid_client"}
    fake.clear_faults()
    assert fresh.get(f"{fake.url}/v3/jobs", timeout=5).status_code == 200


def test_it_answers_403_for_a_missing_scope_or_a_non_admin_reading(fake):
    fake.seed({"clients": [{"client_id": "narrow", "client_secret": "s", "scopes": ["harvest:jobs:list"]}]})
    narrow = requests.Session()
    narrow.headers["Authorization"] = f"Bearer {token(fake, auth=('narrow', 's'))}"
    recruiter = api(fake, RECRUITER)

    assert narrow.get(f"{fake.url}/v3/jobs", timeout=5).status_code == 200
    assert narrow.get(f"{fake.url}/v3/candidates", timeout=5).status_code == 403
    assert recruiter.get(f"{fake.url}/v3/applications", timeout=5).json()["message"] == "Forbidden"
    note = recruiter.post(f"{fake.url}/v3/notes", json={"candidate_id": ADA, "body": "hi", "visibility": "public",
                                                        "note_type": "NOTE"}, timeout=5)
    assert note.status_code == 201 and note.json()["user_id"] == RECRUITER  # writes need no Site Admin


# ---- reads, pagination, rate limits --------------------------------------------------------------------------


def test_it_pages_bare_arrays_through_link_headers_until_there_is_none(fake):
    fake.seed({"candidates": [{"first_name": f"C{n}", "last_name": "Test"} for n in range(7)]})
    session = api(fake)

    url, pages, seen = f"{fake.url}/v3/candidates?per_page=4", 0, []
    while url:
        answer = session.get(url, timeout=5)
        assert answer.status_code == 200 and isinstance(answer.json(), list)
        seen += [c["id"] for c in answer.json()]
        pages += 1
        url = answer.links.get("next", {}).get("url")
        if url:
            assert answer.headers["Link"] == f'<{url}>; rel="next"'
            assert list(parse_qs(urlsplit(url).query)) == ["cursor"]

    assert pages == 3
    assert seen == sorted(seen) and len(seen) == 9 and seen[:2] == [ADA, ZOE]


def test_it_refuses_a_cursor_with_other_params_and_oversized_pages_or_id_lists(fake):
    session = api(fake)
    first = session.get(f"{fake.url}/v3/job_interview_stages?per_page=1", timeout=5)
    cursor_url = first.links["next"]["url"]

    mixed = session.get(cursor_url + "&per_page=1", timeout=5)
    too_big = session.get(f"{fake.url}/v3/jobs?per_page=501", timeout=5)
    many_ids = session.get(f"{fake.url}/v3/applications", params={"ids": ",".join(map(str, range(1, 52)))},
                           timeout=5)
    unknown = session.get(f"{fake.url}/v3/applications?updated_after=2026-01-01T00:00:00Z", timeout=5)

    assert mixed.status_code == 422
    assert mixed.json() == {"message": "Unprocessable Content",
                            "errors": ["When passing a cursor, do not include other query params."]}
    assert too_big.status_code == many_ids.status_code == unknown.status_code == 422
    assert "per_page" in too_big.json()["errors"][0]
    assert session.get(f"{fake.url}/v3/jobs?per_page=500", timeout=5).status_code == 200


def test_it_sends_rate_limit_headers_on_every_answer_and_429_past_the_limit(fake):
    fake.seed({"settings": {"rate_limit": 4}})
    session = api(fake)

    answers = [session.get(f"{fake.url}/v3/jobs", timeout=5) for _ in range(5)]
    unauthorised = requests.get(f"{fake.url}/v3/jobs", timeout=5)
    missing = session.get(f"{fake.url}/v3/nothing", timeout=5)

    for answer in answers + [unauthorised, missing]:
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(answer.headers)
        assert int(answer.headers["X-RateLimit-Reset"]) > time.time()
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["3", "2", "1", "0", "0"]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 30
    assert missing.status_code == 404 and missing.json() == {"message": "Resource not found"}


def test_it_answers_a_throttle_fault_with_429_retry_after_and_no_remaining_calls(fake):
    session = api(fake)
    fake.add_fault(kind="throttle", target="/v3/applications", retry_after=7, count=1)

    throttled = session.get(f"{fake.url}/v3/applications", timeout=5)
    after = session.get(f"{fake.url}/v3/applications", timeout=5)

    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "7"
    assert throttled.headers["X-RateLimit-Remaining"] == "0"
    assert throttled.headers["X-RateLimit-Limit"] == "75"
    assert throttled.json()["message"] == "Too Many Requests"
    assert after.status_code == 200


def test_it_serves_v3_shapes_by_ids_filters_and_single_record_paths(fake):
    session = api(fake)

    apps = session.get(f"{fake.url}/v3/applications", params={"ids": f"{ADA_APP}"}, timeout=5).json()
    by_email = session.get(f"{fake.url}/v3/candidates", params={"email": "ZOE@x.io"}, timeout=5).json()
    stages = session.get(f"{fake.url}/v3/job_interview_stages", params={"job_ids": JOB}, timeout=5).json()
    current = session.get(f"{fake.url}/v3/application_stages", params={"application_ids": ADA_APP,
                                                                        "current": "true"}, timeout=5).json()
    active = session.get(f"{fake.url}/v3/applications", params={"status": "active"}, timeout=5).json()
    wrong_status = session.get(f"{fake.url}/v3/applications", params={"status": "in_process"}, timeout=5)
    single = session.get(f"{fake.url}/v3/applications/{ADA_APP}", timeout=5).json()
    gone = session.get(f"{fake.url}/v3/applications/1", timeout=5)

    assert apps == [single]
    assert single | {"stage_id": SCREEN, "stage_name": "Phone Screen", "status": "in_process", "candidate_id": ADA,
                     "job_id": JOB} == single
    assert [c["id"] for c in by_email] == [ZOE]
    assert by_email[0]["email_addresses"] == [{"value": "zoe@x.io", "type": "work"}]
    assert [(s["name"], s["sort_order"]) for s in stages] == [
        ("Application Review", 0), ("Phone Screen", 1), ("Onsite Interview", 2), ("Offer", 3)]
    assert [(r["job_interview_stage_id"], r["current"]) for r in current] == [(SCREEN, True)]
    assert {a["id"] for a in active} == {ADA_APP, ZOE_APP}
    assert wrong_status.status_code == 422
    assert gone.status_code == 404 and gone.json() == {"message": "Resource not found",
                                                       "errors": "Application not found"}
    users = session.get(f"{fake.url}/v3/users", timeout=5).json()
    assert [u["id"] for u in users] == [ADMIN, RECRUITER]  # the service user is hidden
    assert session.get(f"{fake.url}/v3/users/{ADMIN}", timeout=5).json()["site_admin"] is True


# ---- notes -----------------------------------------------------------------------------------------------------


def test_it_adds_a_note_that_shows_and_cannot_be_deleted(fake):
    session = api(fake)

    made = session.post(f"{fake.url}/v3/notes", json={
        "candidate_id": ADA, "application_id": ADA_APP, "user_id": ADMIN, "body": "Interview booked: Tue 10:00",
        "visibility": "public", "note_type": "NOTE"}, timeout=5)
    listed = session.get(f"{fake.url}/v3/notes", params={"application_ids": ADA_APP}, timeout=5).json()
    deleted = session.delete(f"{fake.url}/v3/notes/{made.json()['id']}", timeout=5)

    assert made.status_code == 201
    assert made.json() | {"candidate_id": ADA, "application_id": ADA_APP, "user_id": ADMIN, "type": "NOTE",
                          "visibility": "public", "body": "Interview booked: Tue 10:00"} == made.json()
    assert listed == [made.json()]
    assert deleted.status_code == 404
    assert [n["id"] for n in fake.state()["notes"]] == [made.json()["id"]]


def test_it_makes_orphan_notes_and_wants_an_upper_case_note_type_and_a_visibility(fake):
    session = api(fake)

    orphan = session.post(f"{fake.url}/v3/notes", json={"candidate_id": 123456, "body": "x", "visibility": "private",
                                                        "note_type": "NOTE"}, timeout=5)
    lower = session.post(f"{fake.url}/v3/notes", json={"candidate_id": ADA, "body": "x", "visibility": "public",
                                                       "note_type": "note"}, timeout=5)
    no_visibility = session.post(f"{fake.url}/v3/notes", json={"candidate_id": ADA, "body": "x",
                                                               "note_type": "NOTE"}, timeout=5)

    assert orphan.status_code == 201 and orphan.json()["user_id"] == ADMIN
    assert fake.state()["notes"][0]["orphan"] is True
    assert lower.status_code == no_visibility.status_code == 422
    assert "note, activity" in lower.json()["errors"][0]["note_type"]  # lists lower-case, wants "NOTE"
    assert "visibility" in no_visibility.json()["errors"][0]
    assert len(fake.state()["notes"]) == 1


def test_it_applies_a_note_whose_answer_times_out(fake):
    session = api(fake)
    fake.add_fault(kind="timeout", target="/v3/notes", delay_ms=3000, count=1)

    with pytest.raises(requests.exceptions.ReadTimeout):
        session.post(f"{fake.url}/v3/notes", json={"candidate_id": ADA, "body": "booked", "visibility": "public",
                                                   "note_type": "NOTE"}, timeout=0.5)

    assert [n["body"] for n in fake.state()["notes"]] == ["booked"]


def test_it_applies_nothing_when_the_connection_drops(fake):
    session = api(fake)
    fake.add_fault(kind="drop", target="/v3/applications/", count=1)

    with pytest.raises(requests.exceptions.ConnectionError):
        session.post(f"{fake.url}/v3/applications/{ADA_APP}/move", json={"from_stage_id": SCREEN}, timeout=5)

    assert application(fake, ADA_APP)["stage_id"] == SCREEN
    assert fake.state()["moves"] == []


def test_it_answers_an_error_fault_with_a_5xx_and_then_recovers(fake):
    session = api(fake)
    fake.add_fault(kind="error", status=502, count=1)

    assert session.get(f"{fake.url}/v3/jobs", timeout=5).status_code == 502
    assert session.get(f"{fake.url}/v3/jobs", timeout=5).status_code == 200


# ---- moves and polling -----------------------------------------------------------------------------------------


def test_it_refuses_a_move_from_a_stage_the_application_is_not_in(fake):
    session = api(fake)

    refused = session.post(f"{fake.url}/v3/applications/{ADA_APP}/move",
                           json={"from_stage_id": REVIEW, "to_stage_id": ONSITE}, timeout=5)

    assert refused.status_code == 422
    assert refused.json()["message"] == "Unprocessable Content"
    assert application(fake, ADA_APP)["stage_id"] == SCREEN
    assert fake.state()["moves"] == []


def test_it_moves_to_a_stage_or_advances_one_by_sort_order_answering_204(fake):
    session = api(fake)

    moved = session.post(f"{fake.url}/v3/applications/{ADA_APP}/move",
                         json={"from_stage_id": SCREEN, "to_stage_id": ONSITE}, timeout=5)
    advanced = session.post(f"{fake.url}/v3/applications/{ADA_APP}/move", json={"from_stage_id": ONSITE}, timeout=5)
    past_the_end = session.post(f"{fake.url}/v3/applications/{ADA_APP}/move", json={"from_stage_id": OFFER},
                                timeout=5)
    elsewhere = session.post(f"{fake.url}/v3/applications/{ZOE_APP}/move",
                             json={"from_stage_id": REVIEW, "to_stage_id": 300_001}, timeout=5)

    assert (moved.status_code, moved.content) == (204, b"")
    assert advanced.status_code == 204
    assert past_the_end.status_code == elsewhere.status_code == 422
    state = fake.state()
    assert [(m["from_stage_id"], m["to_stage_id"], m["user_id"], m["source"]) for m in state["moves"]] == [
        (SCREEN, ONSITE, ADMIN, "api"), (ONSITE, OFFER, ADMIN, "api")]
    assert application(fake, ADA_APP)["current_stage"] == {"id": OFFER, "name": "Offer"}
    history = [(r["job_interview_stage_id"], r["current"]) for r in state["application_stages"]
               if r["application_id"] == ADA_APP]
    assert history == [(SCREEN, False), (ONSITE, False), (OFFER, True)]


def test_it_finds_changed_applications_by_updated_at_for_polling(fake):
    fake.seed({"applications": [{"id": ADA_APP, "candidate_id": ADA, "job_id": JOB, "stage": SCREEN,
                                 "updated_at": "2026-01-01T09:00:00Z"},
                                {"id": ZOE_APP, "candidate_id": ZOE, "job_id": JOB, "stage": REVIEW,
                                 "updated_at": "2026-01-01T09:00:00Z"}]})
    session = api(fake)
    watermark = "2026-06-01T00:00:00Z"

    before = session.get(f"{fake.url}/v3/applications", params={"updated_at": f"gte|{watermark}"}, timeout=5).json()
    fake.stage_change(ADA_APP, "Onsite Interview")
    piped = session.get(f"{fake.url}/v3/applications", params={"updated_at": f"gte|{watermark}"}, timeout=5).json()
    bracketed = session.get(f"{fake.url}/v3/applications", params={"updated_at[gte]": watermark}, timeout=5).json()
    older = session.get(f"{fake.url}/v3/applications", params={"updated_at": f"lt|{watermark}"}, timeout=5).json()

    assert before == []
    assert [(a["id"], a["stage_name"]) for a in piped] == [(ADA_APP, "Onsite Interview")]
    assert bracketed == piped
    assert [a["id"] for a in older] == [ZOE_APP]


# ---- web hooks -------------------------------------------------------------------------------------------------


def test_it_delivers_a_signed_stage_change_whose_signature_covers_the_escaped_raw_body(hooked, receiver):
    answer = hooked.stage_change(ZOE_APP, "Onsite Interview")

    [delivery] = receiver.wait_for(1)
    raw, headers = delivery["raw"], delivery["headers"]
    assert answer["delivery"]["status"] == 200 and answer["move"]["to_stage_id"] == ONSITE
    assert headers["Signature"].startswith("sha256 ") and verify(HOOK_SECRET, raw, headers["Signature"])
    assert not verify("another-secret", raw, headers["Signature"])
    assert headers["Content-Type"] == "application/json"
    assert headers["Greenhouse-Event-ID"] == answer["delivery"]["event_id"]
    assert raw.isascii() and b"<" not in raw and b">" not in raw and b"&" not in raw
    assert b"Zo\\u00eb" in raw and b"\\u003c\\u00d8deg\\u00e5rd\\u003e \\u0026 co" in raw
    assert json.dumps(json.loads(raw)).encode() != raw  # re-serialising would not give the signed bytes
    body = json.loads(raw)
    assert body["action"] == "candidate_stage_change"
    app = body["payload"]["application"]
    assert (app["id"], app["status"], app["current_stage"]["id"], app["current_stage"]["name"]) == (
        ZOE_APP, "active", ONSITE, "Onsite Interview")
    assert app["current_stage"]["interviews"][0]["name"] == "Pairing"
    assert (app["candidate"]["first_name"], app["candidate"]["last_name"]) == ("Zoë", "<Ødegård> & co")
    assert app["candidate"]["external_id"] == "ext-1" and app["jobs"][0]["id"] == JOB
    assert hooked.state()["deliveries"][0]["attempts"][0]["status"] == 200


def test_it_redelivers_identical_bytes_signature_and_event_id(hooked, receiver):
    hooked.stage_change(ADA_APP, ONSITE)
    hooked.stage_change(ZOE_APP, "phone screen")  # names match case-insensitively

    again = hooked.redeliver(delivery=1) + hooked.redeliver(last=2)

    first, second, *replays = receiver.wait_for(5)
    assert [r["raw"] for r in replays] == [first["raw"], first["raw"], second["raw"]]
    for original, replay in zip([first, first, second], replays, strict=True):
        for header in ("Signature", "Greenhouse-Event-ID"):
            assert replay["headers"][header] == original["headers"][header]
    assert [(d["n"], d["redelivery_of"], d["status"]) for d in again] == [(3, 1, 200), (4, 1, 200), (5, 2, 200)]
    assert len(hooked.state()["moves"]) == 2  # replays move nothing


def test_it_stops_delivering_when_the_subscription_is_removed_while_polling_still_sees_the_change(hooked, receiver):
    hooked.remove_webhooks()

    answer = hooked.stage_change(ADA_APP, "Onsite Interview")
    polled = api(hooked).get(f"{hooked.url}/v3/applications", params={"stage_name": "Onsite Interview"},
                             timeout=5).json()

    assert answer["delivery"] is None
    assert [a["id"] for a in polled] == [ADA_APP]
    assert hooked.state()["deliveries"] == [] and hooked.state()["webhook"]["enabled"] is False
    assert receiver.received == []  # stage_change delivers before it answers, so none is on its way


def test_it_starts_quiet_when_seeded_with_webhooks_disabled(fake, receiver):
    fake.seed({"webhook_url": receiver.url, "webhooks_enabled": False})

    assert fake.stage_change(ADA_APP, "Offer")["delivery"] is None
    assert application(fake, ADA_APP)["stage_name"] == "Offer"


def test_it_pings_a_saved_hook_and_leaves_it_disabled_when_the_ping_fails(fake, receiver):
    receiver.answers = [500]

    failed = fake.ping(url=receiver.url)
    fake.stage_change(ADA_APP, "Offer")
    passed = fake.ping()

    pings = receiver.wait_for(2)
    assert failed["webhooks_enabled"] is False and passed["webhooks_enabled"] is True
    assert len(pings) == 2  # the stage change in between was not delivered
    body = json.loads(pings[0]["raw"])
    assert body["action"] == "ping" and body["payload"]["endpoint_url"] == receiver.url
    assert verify(HOOK_SECRET, pings[0]["raw"], pings[0]["headers"]["Signature"])


def test_it_retries_a_delivery_answered_with_anything_but_200_with_the_same_event_id(hooked, receiver):
    hooked.seed({"settings": {"webhook_retry_delays": [0.05, 0.05]}})
    receiver.answers = [500, 204]  # 204 is not 200 either

    hooked.stage_change(ADA_APP, "Offer")

    attempts = receiver.wait_for(3)
    assert len({a["headers"]["Greenhouse-Event-ID"] for a in attempts}) == 1
    assert len({a["raw"] for a in attempts}) == 1
    # The receiver has the third attempt before the fake has read its answer: wait (bounded) for the record.
    deadline = time.monotonic() + 5
    while True:
        delivery = hooked.state()["deliveries"][0]
        if len(delivery["attempts"]) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert [a["status"] for a in delivery["attempts"]] == [500, 204, 200] and delivery["status"] == 200


def test_it_sends_the_stage_change_hook_for_a_move_made_through_the_api(hooked, receiver):
    api(hooked).post(f"{hooked.url}/v3/applications/{ADA_APP}/move", json={"from_stage_id": SCREEN}, timeout=5)

    [delivery] = receiver.wait_for(1)
    assert json.loads(delivery["raw"])["payload"]["application"]["current_stage"]["id"] == ONSITE
    assert verify(HOOK_SECRET, delivery["raw"], delivery["headers"]["Signature"])


def test_it_refuses_a_stage_change_it_cannot_make(fake):
    for body, status in (({"application": 1, "stage": "Offer"}, 404),
                         ({"application": ADA_APP, "stage": "Nowhere"}, 400),
                         ({"application": ADA_APP, "stage": "Phone Screen"}, 409)):
        answer = requests.post(f"{fake.url}/_fake/stage_change", json=body, timeout=5)
        assert answer.status_code == status, answer.text
    assert fake.state()["moves"] == []


def test_it_moves_an_application_from_its_board_page(hooked, receiver):
    page = requests.get(f"{hooked.url}/_fake/board", timeout=5)
    moved = requests.post(f"{hooked.url}/_fake/board", data={"application": ADA_APP, "stage": OFFER}, timeout=5)

    assert "&lt;Ødegård&gt; &amp; co" in page.text and "<Ødegård>" not in page.text
    assert "Moved application 555 to Offer; web hook answered 200." in moved.text
    assert len(receiver.wait_for(1)) == 1


def test_it_runs_from_the_command_line_and_delivers_to_its_webhook_url(receiver):
    proc = subprocess.Popen([sys.executable, "-m", "integrations.fakes", "greenhouse", "--webhook-url", receiver.url],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("greenhouse listening on http://127.0.0.1:")
        fake = GreenhouseFake()  # a client for the control surface of the one in the other process
        fake.url = line.rsplit(" ", 1)[1]
        fake.seed({"jobs": [{"id": 1, "name": "Job"}], "candidates": [{"id": 2, "first_name": "A", "last_name": "B"}],
                   "applications": [{"id": 3, "candidate_id": 2, "job_id": 1}]})
        fake.stage_change(3, "Offer")
        [delivery] = receiver.wait_for(1)
        assert verify("fake-webhook-secret", delivery["raw"], delivery["headers"]["Signature"])
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_it_assigns_ids_when_left_out_and_keeps_stage_ids_when_a_job_is_seeded_again(fake):
    answer = fake.seed({"jobs": [{"name": "Designer", "stages": [{"name": "Review"}, {"name": "Onsite"}]}],
                        "candidates": [{"first_name": "Bo", "last_name": "Ek"}]})
    job = answer["ids"]["jobs"][0]
    review, onsite = answer["ids"]["stages"][str(job)]
    candidate = answer["ids"]["candidates"][0]
    app = fake.seed({"applications": [{"candidate_id": candidate, "job_id": job, "stage": "Onsite"}]})

    again = fake.seed({"jobs": [{"id": job, "name": "Designer", "stages": [{"name": "Review"}, {"name": "Onsite"},
                                                                            {"name": "Offer"}]}]})
    dropped = requests.post(f"{fake.url}/_fake/seed", json={"jobs": [{"id": job, "name": "Designer",
                                                                      "stages": [{"name": "Review"}]}]}, timeout=5)
    stolen = requests.post(f"{fake.url}/_fake/seed", json={"jobs": [{"name": "X", "stages": [{"id": ONSITE,
                                                                                              "name": "Y"}]}]},
                           timeout=5)

    assert len({job, review, onsite, candidate, app["ids"]["applications"][0]}) == 5
    assert again["ids"]["stages"][str(job)][:2] == [review, onsite]
    assert application(fake, app["ids"]["applications"][0])["current_stage"] == {"id": onsite, "name": "Onsite"}
    assert dropped.status_code == stolen.status_code == 400
    assert "application" in dropped.json()["error"] and "belongs to job" in stolen.json()["error"]
