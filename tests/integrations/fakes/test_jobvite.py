"""The jobvite fake, driven with `requests` as a Jobvite client drives API v2: key and secret headers (and the legacy
query and signed forms), per-endpoint access, the `status` envelope on every answer, errors inside HTTP 200,
`start`/`count` paging under both counting bases, `datestart` with a Java `dateFormat`, repeated `wflowstate`,
comments that are replaced (or appended) by PUT, signed webhooks, the limits and every fault."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.integrations.ats.conftest import Receiver

ROOT = Path(__file__).resolve().parents[3]
KEY = {"x-jvi-api": "k", "x-jvi-sc": "s"}
STATES = ["New", "Phone Screen", "Interview", "Offer"]
T0 = 1_900_000_000_000  # 2030-03-17T17:46:40Z, in epoch ms


@pytest.fixture(scope="module")
def _receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def webhook_receiver(_receiver) -> Receiver:
    """A loopback receiver keeping every push byte for byte, emptied for each test."""
    _receiver.deliveries.clear()
    return _receiver


@pytest.fixture
def fake(jobvite_fake, webhook_receiver):
    jobvite_fake.seed({
        "api_keys": [{"key": "k", "secret": "s"},
                     {"key": "jobs-only", "secret": "s2", "entitlements": ["job:get", "workflow:get"]}],
        "workflow": STATES, "jobs": [{"eId": "job00001", "title": "Teacher"}],
        "candidates": [{"eId": f"cand000{i}", "firstName": "P", "lastName": str(i), "email": f"p{i}@example.com",
                        "application": {"eId": f"app0000{i}", "job": "job00001", "lastUpdatedDate": T0 + i * 60_000,
                                        "workflowState": "Phone Screen" if i == 2 else "New"}}
                       for i in range(5)],
        "webhook": {"url": webhook_receiver.url, "signing_key": "sign-key"},
    })
    return jobvite_fake


def api(fake, path: str) -> str:
    return f"{fake.url}/api/v2{path}"


def get(fake, path: str, headers=KEY, **params) -> requests.Response:
    return requests.get(api(fake, path), params=params, headers=headers)


def put(fake, body: dict, headers=KEY) -> requests.Response:
    return requests.put(api(fake, "/candidate"), json=body, headers=headers)


def app_of(fake, app: str) -> dict:
    return next(a for a in fake.state()["applications"] if a["eId"] == app)


# ---- auth and envelope -----------------------------------------------------------------------------------------

def test_it_answers_one_row_per_application_in_the_status_envelope(fake):
    answer = get(fake, "/candidate", applicationId="app00002")

    body = answer.json()
    assert answer.status_code == 200 and body["status"] == {"code": 200, "messages": []}
    assert body["total"] == 1
    [row] = body["candidates"]
    assert row["eId"] == "cand0002" and row["application"]["eId"] == "app00002"
    assert row["application"]["workflowState"] == "Phone Screen"
    assert row["application"]["lastUpdatedDate"] == T0 + 120_000 and row["application"]["comments"] is None
    assert row["application"]["job"]["eId"] == "job00001"


@pytest.mark.parametrize("headers", [{"x-jvi-api": "k", "x-jvi-sc": "wrong"}, {"x-jvi-api": "nobody", "x-jvi-sc": "s"},
                                     {}])
def test_it_refuses_a_wrong_or_missing_key_with_the_status_envelope(fake, headers):
    answer = get(fake, "/job", headers=headers)

    assert answer.status_code == 401
    assert answer.json() == {"status": {"code": 401, "messages": [
        "Invalid api/secret. Try again with a valid api/secret"]}}


def test_it_takes_the_legacy_query_and_the_signed_headers_too(fake):
    epoch = str(int(time.time()))
    sign = base64.b64encode(hmac.new(b"s", f"k|{epoch}".encode(), hashlib.sha256).digest()).decode()

    legacy = get(fake, "/job", headers={}, api="k", sc="s")
    signed = get(fake, "/job", headers={"X-JVI-API": "k", "X-JVI-EPOCH": epoch, "X-JVI-SIGN": sign})
    stale = get(fake, "/job", headers={"X-JVI-API": "k", "X-JVI-EPOCH": str(int(epoch) - 3600), "X-JVI-SIGN": sign})
    fake.seed({"settings": {"legacy_query_auth": False}})
    refused = get(fake, "/job", headers={}, api="k", sc="s")

    assert (legacy.status_code, signed.status_code, stale.status_code, refused.status_code) == (200, 200, 401, 401)


def test_it_grants_access_per_endpoint(fake):
    jobs = get(fake, "/job", headers={"x-jvi-api": "jobs-only", "x-jvi-sc": "s2"})
    candidates = get(fake, "/candidate", headers={"x-jvi-api": "jobs-only", "x-jvi-sc": "s2"})

    assert jobs.status_code == 200 and candidates.status_code == 401
    assert candidates.json()["status"]["code"] == 401


def test_it_answers_errors_inside_http_200_when_switched(fake):
    fake.seed({"settings": {"errors_in_200": ["/api/v2/candidate"]}})

    wrong_key = get(fake, "/candidate", headers={"x-jvi-api": "k", "x-jvi-sc": "no"})
    bad_state = put(fake, {"application": {"eId": "app00001", "workflowState": "Nope"}})
    other_path = get(fake, "/job", headers={"x-jvi-api": "k", "x-jvi-sc": "no"})

    assert (wrong_key.status_code, wrong_key.json()["status"]["code"]) == (200, 401)
    assert (bad_state.status_code, bad_state.json()["status"]["code"]) == (200, 400)
    assert other_path.status_code == 401
    assert app_of(fake, "app00001")["workflowState"] == "New"


def test_it_answers_unknown_paths_like_jobvite_and_redirects_v2_without_api(fake):
    unknown = get(fake, "/note")
    moved = requests.get(f"{fake.url}/v2/candidate", headers=KEY, allow_redirects=False)

    assert unknown.status_code == 404
    assert unknown.json()["status"] == {"code": 404, "messages": ["Invalid URL Cannot find API."]}
    assert moved.status_code == 302 and moved.headers["Location"].endswith("/api/v2/candidate")


# ---- reads -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("base", "starts", "pages"), [
    (0, [0, 2, 4], [["app00000", "app00001"], ["app00002", "app00003"], ["app00004"]]),
    (1, [1, 3, 5], [["app00000", "app00001"], ["app00002", "app00003"], ["app00004"]]),
])
def test_it_pages_with_start_and_count_from_the_configured_base(fake, base, starts, pages):
    fake.seed({"settings": {"start_base": base}})

    got = [[r["application"]["eId"] for r in get(fake, "/candidate", start=s, count=2).json()["candidates"]]
           for s in starts]

    assert got == pages


def test_it_reads_start_0_as_the_first_row_when_counting_from_1(fake):
    fake.seed({"settings": {"start_base": 1}})

    first = get(fake, "/candidate", start=0, count=2).json()["candidates"]
    second = get(fake, "/candidate", start=2, count=2).json()["candidates"]

    assert [r["application"]["eId"] for r in first] == ["app00000", "app00001"]
    assert [r["application"]["eId"] for r in second] == ["app00001", "app00002"]  # one row again, never a gap


def test_it_refuses_a_count_over_500(fake):
    answer = get(fake, "/candidate", count=501)

    assert answer.status_code == 400 and "count" in answer.json()["status"]["messages"][0]


def test_it_filters_on_last_updated_with_a_java_date_format(fake):
    since = "03-17-2030T17:48:40+0000"  # T0 + 2 minutes

    exact = get(fake, "/candidate", datestart=since, dateFormat="MM-dd-yyyy'T'HH:mm:ssZ").json()["candidates"]
    fake.seed({"settings": {"datestart_granularity": "day"}})
    by_day = get(fake, "/candidate", datestart=since, dateFormat="MM-dd-yyyy'T'HH:mm:ssZ").json()["candidates"]
    bad = get(fake, "/candidate", datestart="yesterday", dateFormat="MM-dd-yyyy")

    assert [r["application"]["eId"] for r in exact] == ["app00002", "app00003", "app00004"]
    assert len(by_day) == 5
    assert bad.status_code == 400 and "datestart" in bad.json()["status"]["messages"][0]


def test_it_filters_on_repeated_workflow_states_with_either_space_encoding(fake):
    plus = requests.get(api(fake, "/candidate") + "?wflowstate=Phone+Screen&wflowstate=Offer", headers=KEY)
    pct = requests.get(api(fake, "/candidate") + "?wflowstate=Phone%20Screen", headers=KEY)

    assert [r["application"]["eId"] for r in plus.json()["candidates"]] == ["app00002"]
    assert [r["application"]["eId"] for r in pct.json()["candidates"]] == ["app00002"]


def test_it_lists_jobs_and_the_companys_workflow_states(fake):
    jobs = get(fake, "/job", count=1).json()
    flows = get(fake, "/workflow").json()

    assert jobs["requisitions"][0]["eId"] == "job00001" and jobs["requisitions"][0]["jobState"] == "Open"
    assert [s["name"] for s in flows["workflows"][0]["states"]] == STATES
    assert flows["status"]["code"] == 200


# ---- writes ----------------------------------------------------------------------------------------------------

def test_it_replaces_the_comments_on_put_or_appends_them_when_switched(fake):
    put(fake, {"application": {"eId": "app00001", "comments": "first"}})
    put(fake, {"application": {"eId": "app00001", "comments": "second"}})
    replaced = app_of(fake, "app00001")["comments"]
    fake.seed({"settings": {"comments_mode": "append"}})
    put(fake, {"application": {"eId": "app00001", "comments": "third"}})

    assert replaced == "second"
    assert app_of(fake, "app00001")["comments"] == "second\nthird"
    assert [w["sent"] for w in fake.state()["comment_writes"]] == ["first", "second", "third"]


def test_it_moves_by_state_name_and_refuses_an_unknown_state(fake):
    moved = put(fake, {"application": {"eId": "app00001", "workflowState": "Interview"}})
    unknown = put(fake, {"application": {"eId": "app00001", "workflowState": "Onsite"}})
    missing = put(fake, {"application": {"eId": "nope", "workflowState": "Offer"}})

    assert moved.status_code == 200 and moved.json()["status"]["code"] == 200
    assert unknown.status_code == 400 and "workflow state" in unknown.json()["status"]["messages"][0]
    assert missing.status_code == 404
    assert [(m["from_state"], m["to_state"], m["source"]) for m in fake.state()["moves"]] == [
        ("New", "Interview", "api")]


def test_it_creates_a_candidate_with_capital_eids(fake):
    answer = requests.post(api(fake, "/candidate"), headers=KEY, json={"candidate": {
        "firstName": "Ana", "lastName": "Ruiz", "email": "ana@example.com", "application": {"jobEId": "job00001"}}})

    assert answer.status_code == 201
    made = answer.json()["application"]
    assert app_of(fake, made["EId"])["candidate"] == made["candidate"]["EId"]


def test_it_applies_a_staged_colleague_edit_right_after_the_chosen_request(fake):
    put(fake, {"application": {"eId": "app00001", "comments": "ours"}})
    fake.edit_comments("app00001", append="theirs", after={"method": "GET", "count": 1})

    seen = get(fake, "/candidate", applicationId="app00001").json()["candidates"][0]["application"]["comments"]

    assert seen == "ours"  # the answer was read before the edit landed
    assert app_of(fake, "app00001")["comments"] == "ours\ntheirs"


# ---- webhooks --------------------------------------------------------------------------------------------------

def test_it_pushes_a_signed_state_change_and_redelivers_the_same_bytes(fake, webhook_receiver):
    fake.stage_change("app00001", "Interview")
    fake.redeliver(last=1)

    first, again = webhook_receiver.deliveries
    body = json.loads(first.body)
    expected = base64.b64encode(hmac.new(b"sign-key", first.body, hashlib.sha256).digest()).decode()
    assert first.headers["X-Jobvite-Event-Signature"] == expected
    assert {k: body[k] for k in ("id", "applicationId", "oldValue", "newValue")} == {
        "id": "cand0001", "applicationId": "app00001", "oldValue": "New", "newValue": "Interview"}
    assert isinstance(body["date"], int) and body["eventType"]
    assert again.body == first.body


def test_it_names_the_candidate_candidateid_and_leaves_the_push_unsigned_when_so_configured(fake, webhook_receiver):
    fake.seed({"webhook": {"signing_key": None, "id_field": "candidateId"}})

    fake.stage_change("app00001", "Offer")

    [sent] = webhook_receiver.deliveries
    assert json.loads(sent.body)["candidateId"] == "cand0001" and "id" not in json.loads(sent.body)
    assert "X-Jobvite-Event-Signature" not in sent.headers


def test_it_pushes_after_a_move_through_the_api(fake, webhook_receiver):
    put(fake, {"application": {"eId": "app00003", "workflowState": "Offer"}})

    for _ in range(100):
        if webhook_receiver.deliveries:
            break
        time.sleep(0.02)
    assert json.loads(webhook_receiver.deliveries[0].body)["newValue"] == "Offer"


# ---- limits and faults -----------------------------------------------------------------------------------------

def test_it_counts_calls_per_minute_without_any_rate_limit_header(fake):
    fake.seed({"settings": {"rate_limit": {"per_minute": 3, "per_hour": 850}}})

    answers = [get(fake, "/job") for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[3].json()["status"]["code"] == 429
    assert not [h for h in answers[3].headers if h.lower().startswith(("x-ratelimit", "retry-after"))]


def test_it_spends_the_daily_quota_per_resource(fake):
    fake.seed({"settings": {"daily_limits": {"job": 2}}})

    answers = [get(fake, "/job").status_code for _ in range(3)]
    candidates = get(fake, "/candidate")

    assert answers == [200, 200, 429] and candidates.status_code == 200
    assert "Daily API quota" in get(fake, "/job").json()["status"]["messages"][0]


def test_it_answers_each_fault_the_jobvite_way(fake):
    fake.add_fault(kind="throttle", target="/api/v2/job", count=1)
    fake.add_fault(kind="quota_exhausted", count=1)
    throttled, quota = get(fake, "/job"), get(fake, "/job")
    fake.add_fault(kind="error", status=502, count=1)
    fake.add_fault(kind="bad_credentials", status=302, count=1)
    error, redirect = get(fake, "/job"), requests.get(api(fake, "/job"), headers=KEY, allow_redirects=False)
    fake.add_fault(kind="bad_credentials", status=200, count=1)
    inside = get(fake, "/job")

    assert (throttled.status_code, throttled.json()["status"]["code"]) == (429, 429)
    assert "Retry-After" not in throttled.headers
    assert quota.status_code == 429 and "Daily" in quota.json()["status"]["messages"][0]
    assert (error.status_code, error.json()["status"]["code"]) == (502, 502)
    assert redirect.status_code == 302 and "app.jobvite.com" in redirect.headers["Location"]
    assert redirect.headers["Content-Type"].startswith("text/html")
    assert (inside.status_code, inside.json()["status"]["code"]) == (200, 401)


def test_it_applies_a_write_under_a_timeout_fault_and_nothing_under_a_drop(fake):
    fake.add_fault(kind="timeout", target="/api/v2/candidate", count=1, delay_ms=1500)
    with pytest.raises(requests.Timeout):
        requests.put(api(fake, "/candidate"), headers=KEY, timeout=0.5,
                     json={"application": {"eId": "app00001", "comments": "applied"}})
    fake.add_fault(kind="drop", target="/api/v2/candidate", count=1)
    with pytest.raises(requests.ConnectionError):
        put(fake, {"application": {"eId": "app00002", "comments": "dropped"}})

    assert app_of(fake, "app00001")["comments"] == "applied"
    assert app_of(fake, "app00002")["comments"] is None


def test_it_refuses_faults_jobvite_cannot_have(fake):
    with pytest.raises(RuntimeError, match="400"):
        fake.add_fault(kind="component_down", target="events")


def test_it_runs_from_the_command_line():
    proc = subprocess.Popen([sys.executable, "-m", "integrations.fakes", "jobvite", "--port", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        url = line.rpartition(" ")[2]
        state = requests.get(url + "/_fake/state").json()
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    assert line.startswith("jobvite listening on http://127.0.0.1:")
    assert [s["name"] for s in state["workflow"]][:2] == ["New", "Phone Screen"]
