"""The icims fake, driven with `requests` as an iCIMS client drives the real APIs: Basic and OAuth auth, the error
shape with X-Error, rate-limit headers and the daily quota, Search paging by id, List paging, PATCH guards, fields
hidden from the API user, each component taken down alone, gzip'd pushes with Basic or HMAC auth, and duplicates."""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.integrations.ats.conftest import Receiver

ROOT = Path(__file__).resolve().parents[3]
CID, JOB = "1234", 42
AUTH = ("loopwise", "pw")
STATUSES = [{"id": "D10100", "value": "New Submissions"}, {"id": "C2010", "value": "Schedule Interview",
                                                           "requires": ["field50002"]},
            {"id": "C2020", "value": "Offer"}]


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
def fake(icims_fake, webhook_receiver):
    icims_fake.seed({
        "api_users": [{"username": "loopwise", "password": "pw"},
                      {"username": "restricted", "password": "pw", "hidden_fields": ["email"]}],
        "clients": [{"client_id": "cid", "client_secret": "cs"}],
        "push": {"auth": "basic", "username": "push-user", "password": "push-pw"},
        "statuses": STATUSES, "workflow_fields": ["field50001", "field50002"],
        "jobs": [{"id": JOB, "jobtitle": "Nurse"}],
        "people": [{"id": 881 + i, "firstname": "P", "lastname": str(i), "email": f"p{i}@example.com"}
                   for i in range(5)],
        "workflows": [{"id": 5501 + i, "job": JOB, "person": 881 + i} for i in range(5)],
        "webhook_url": webhook_receiver.url,
    })
    return icims_fake


def api(fake, path: str) -> str:
    return f"{fake.url}/customers/{CID}{path}"


def search(fake, kind: str, filters: list, **kw) -> requests.Response:
    return requests.post(api(fake, f"/search/{kind}"), json={"filters": filters, "operator": "&"}, auth=AUTH, **kw)


def test_it_answers_a_workflow_with_lowercase_keys_list_values_and_rate_limit_headers(fake):
    answer = requests.get(api(fake, "/applicantworkflows/5501"), auth=AUTH)

    body = answer.json()
    assert answer.status_code == 200
    assert body["status"] == {"id": "D10100", "value": "New Submissions", "formattedvalue": "New Submissions"}
    assert body["baseprofile"]["id"] == JOB and body["associatedprofile"]["id"] == 881
    assert body["links"][0]["rel"] == "self"
    assert int(answer.headers["x-ratelimit-limit"]) == 10_000
    assert int(answer.headers["x-ratelimit-remaining"]) < 10_000 and int(answer.headers["x-ratelimit-reset"]) > 0


def test_it_refuses_wrong_credentials_the_icims_way(fake):
    answer = requests.get(api(fake, "/people/881"), auth=("loopwise", "nope"))

    assert answer.status_code == 401
    assert answer.json() == {"errors": [{"errorMessage": "Invalid Username or Password credentials provided.",
                                         "errorCode": 6}]}
    assert answer.headers["X-Error"].startswith("6:")


def test_it_issues_oauth_tokens_that_the_api_accepts(fake):
    token = requests.post(fake.url + "/oauth/token", data={"grant_type": "client_credentials", "client_id": "cid",
                                                           "client_secret": "cs",
                                                           "audience": "https://api.icims.com/v1/"}).json()
    refused = requests.post(fake.url + "/oauth/token", data={"grant_type": "client_credentials", "client_id": "cid",
                                                             "client_secret": "wrong"})

    answer = requests.get(api(fake, "/people/881"), headers={"Authorization": f"Bearer {token['access_token']}"})
    assert token["token_type"] == "Bearer" and token["expires_in"] > 0
    assert answer.status_code == 200 and refused.status_code == 401


def test_it_leaves_out_fields_the_api_user_cannot_see_and_fields_not_asked_for(fake):
    full = requests.get(api(fake, "/people/881"), params={"fields": "firstname,email"}, auth=AUTH).json()
    hidden = requests.get(api(fake, "/people/881"), params={"fields": "firstname,email"},
                          auth=("restricted", "pw")).json()

    assert set(full) == {"firstname", "email", "links"}
    assert set(hidden) == {"firstname", "links"}


def test_it_answers_404_code_2_for_a_missing_record(fake):
    answer = requests.get(api(fake, "/applicantworkflows/999"), auth=AUTH)

    assert answer.status_code == 404 and answer.json()["errors"][0]["errorCode"] == 2


def test_it_pages_search_results_by_id_with_its_cap(fake):
    fake.seed({"settings": {"search_limit": 2}})

    first = search(fake, "applicantworkflows", []).json()["searchResults"]
    rest = search(fake, "applicantworkflows", [{"name": "applicantworkflow.id", "value": [str(first[-1]["id"])],
                                                "operator": ">"}]).json()["searchResults"]

    assert [r["id"] for r in first] == [5501, 5502] and [r["id"] for r in rest] == [5503, 5504]
    assert first[0]["self"].endswith("/applicantworkflows/5501")


def test_it_searches_by_updated_date_to_the_minute(fake):
    fake.seed({"workflows": [{"id": 6001, "job": JOB, "person": 881, "updated": "2031-03-01T09:07:30Z"},
                             {"id": 6002, "job": JOB, "person": 882, "updated": "2031-03-01T08:59:59Z"}]})

    found = search(fake, "applicantworkflows", [{"name": "applicantworkflow.updateddate",
                                                 "value": ["2031-03-01 09:00 AM"], "operator": ">="}]).json()

    assert [r["id"] for r in found["searchResults"]] == [6001]


def test_it_pages_the_status_list(fake):
    first = requests.get(api(fake, "/v2/lists/applicantworkflow.status"), params={"size": 2}, auth=AUTH).json()
    second = requests.get(first["_links"]["next"]["href"], auth=AUTH).json()

    assert [n["id"] for n in first["nodes"] + second["nodes"]] == ["D10100", "C2010", "C2020"]
    assert "next" not in second["_links"]


def test_it_moves_a_workflow_and_refuses_a_status_whose_required_field_is_empty(fake):
    refused = requests.patch(api(fake, "/applicantworkflows/5501"), json={"status": {"id": "C2010"}}, auth=AUTH)
    moved = requests.patch(api(fake, "/applicantworkflows/5501"), json={"field50002": "x", "status": {"id": "C2010"}},
                           auth=AUTH)
    unknown = requests.patch(api(fake, "/applicantworkflows/5501"), json={"status": {"id": "C9999"}}, auth=AUTH)

    assert refused.status_code == 400 and refused.json()["errors"][0]["errorCode"] == 1
    assert "field50002" in refused.headers["X-Error"]
    assert moved.status_code == 204 and moved.content == b""
    assert unknown.status_code == 400
    state = fake.state()
    assert [(m["workflow_id"], m["to_status"], m["source"]) for m in state["moves"]] == [(5501, "C2010", "api")]


def test_it_creates_a_workflow_with_201_and_location(fake):
    answer = requests.post(api(fake, "/applicantworkflows"), json={"baseprofile": JOB, "associatedprofile": 881,
                                                                   "status": {"id": "D10100"}}, auth=AUTH)

    assert answer.status_code == 201 and answer.content == b""
    assert answer.headers["Location"].rsplit("/", 1)[1].isdigit()


@pytest.mark.parametrize(("component", "path"), [("profile", "/people/881"), ("workflow", "/applicantworkflows/5501"),
                                                 ("list", "/v2/lists/applicantworkflow.status")])
def test_it_takes_one_component_down_as_access_denied_while_the_others_answer(fake, component, path):
    fake.add_fault(kind="component_down", target=component)

    down = requests.get(api(fake, path), auth=AUTH)
    others = [requests.get(api(fake, p), auth=AUTH).status_code
              for p in ("/people/881", "/applicantworkflows/5501", "/v2/lists/applicantworkflow.status") if p != path]

    assert down.status_code == 404 and down.json()["errors"][0]["errorCode"] == 3
    assert others == [200, 200]


def test_it_has_silent_forms_of_a_component_down(fake):
    for component in ("profile", "workflow", "search", "list"):
        fake.add_fault(kind="component_down", target=component, status=200)

    person = requests.get(api(fake, "/people/881"), auth=AUTH).json()
    workflow = requests.get(api(fake, "/applicantworkflows/5501"), auth=AUTH).json()
    found = search(fake, "people", []).json()
    statuses = requests.get(api(fake, "/v2/lists/applicantworkflow.status"), auth=AUTH).json()

    assert "email" not in person and "associatedprofile" not in workflow and "status" in workflow
    assert found == {"searchResults": []} and statuses["nodes"] == []


def test_it_refuses_a_component_down_without_a_known_target(fake):
    answer = requests.post(fake.url + "/_fake/faults", json={"kind": "component_down", "target": "notes"})

    assert answer.status_code == 400 and answer.json()["field"] == "target"


def test_it_answers_429_with_no_remaining_calls_when_the_quota_is_spent(fake):
    fake.seed({"settings": {"daily_limit": 2}})
    statuses = [requests.get(api(fake, "/people/881"), auth=AUTH) for _ in range(3)]

    assert [a.status_code for a in statuses] == [200, 200, 429]
    assert statuses[2].headers["x-ratelimit-remaining"] == "0"
    fake.seed({"settings": {"daily_limit": 100}})
    fake.add_fault(kind="quota_exhausted", count=1)
    assert requests.get(api(fake, "/people/881"), auth=AUTH).status_code == 429
    assert requests.get(api(fake, "/people/881"), auth=AUTH).status_code == 200


def test_it_pushes_a_gzipped_status_change_with_basic_auth_and_a_link_header(fake, webhook_receiver):
    answer = fake.stage_change(5501, "Schedule Interview")

    sent = webhook_receiver.deliveries[-1]
    event = json.loads(gzip.decompress(sent.body))
    assert answer["deliveries"] == [{"n": 1, "status": 200}]
    assert sent.headers["Content-Encoding"] == "gzip"
    assert base64.b64decode(sent.headers["Authorization"][6:]) == b"push-user:push-pw"
    assert 'rel="applicantWorkflow"' in sent.headers["Link"]
    assert event["eventType"] == "WorkFlowStatusChangeEvent" and event["customerId"] == CID
    assert (event["systemId"], event["oldStatus"], event["newStatus"]) == ("5501", "D10100", "C2010")


def test_it_signs_a_push_with_hmac_over_the_signed_headers(fake, webhook_receiver):
    fake.seed({"push": {"auth": "hmac", "user": "ev", "secret": "s3"}})

    fake.stage_change(5501, "C2020")

    sent = webhook_receiver.deliveries[-1]
    assert sent.headers["x-icims-content-sha256"] == hashlib.sha256(sent.body).hexdigest()
    auth = sent.headers["Authorization"]
    assert auth.startswith("x-icims-v1-hmac-sha256 user=ev,signedheaders=x-icims-date;x-icims-content-sha256;")
    canonical = "\n".join(f"{h}:{sent.headers[h] if h != 'content-type' else sent.headers['Content-Type']}"
                          for h in ("x-icims-date", "x-icims-content-sha256", "content-type"))
    assert auth.endswith("signature=" + hmac.new(b"s3", canonical.encode(), hashlib.sha256).hexdigest())


def test_it_sends_duplicates_and_redeliveries_byte_for_byte(fake, webhook_receiver):
    fake.stage_change(5501, "C2020", duplicates=1)
    fake.redeliver(last=1)

    bodies = [d.body for d in webhook_receiver.deliveries]
    assert len(bodies) == 3 and len(set(bodies)) == 1


def test_it_sends_nothing_while_events_are_down_or_for_a_status_that_is_not_a_trigger(fake, webhook_receiver):
    fake.add_fault(kind="component_down", target="events", count=1)
    silent = fake.stage_change(5501, "C2020")
    fake.seed({"push": {"auth": "basic", "username": "u", "password": "p", "triggers": ["C2010"]}})
    untriggered = fake.stage_change(5502, "C2020")

    assert silent["deliveries"] == [] and untriggered["deliveries"] == [] and webhook_receiver.deliveries == []
    assert len(fake.state()["moves"]) == 2


def test_it_streams_status_changes_with_a_continuation_key(fake):
    for wf in (5501, 5502, 5503):
        fake.stage_change(wf, "C2020")
    base = f"{fake.url}/datastream/v2/streams/{CID}/subscriptions"

    subs = requests.get(base, auth=AUTH).json()
    first = requests.get(f"{base}/loopwise/events", params={"limit": 2}, auth=AUTH).json()
    rest = requests.get(f"{base}/loopwise/events", params={"limit": 2, "exclusiveStartKey": first["lastEvaluatedKey"]},
                        auth=AUTH).json()

    assert subs == {"subscriptions": [{"id": "loopwise"}]}
    assert [e["systemId"] for e in first["events"] + rest["events"]] == ["5501", "5502", "5503"]
    assert rest["lastEvaluatedKey"] == ""


def test_it_refuses_data_streaming_without_the_licence(fake):
    fake.seed({"datastream": {"licensed": False}})

    answer = requests.get(f"{fake.url}/datastream/v2/streams/{CID}/subscriptions", auth=AUTH)

    assert answer.status_code == 404 and answer.json()["errors"][0]["errorCode"] == 3


def test_it_runs_from_the_command_line():
    proc = subprocess.Popen([sys.executable, "-m", "integrations.fakes", "icims", "--port", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    assert line.startswith("icims listening on http://127.0.0.1:")
