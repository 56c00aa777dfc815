"""The lever fake's OAuth (issue 9; contract §2.1): the authorize page approves at once and sends the code back with
the state; the code buys an access token and a refresh token; refresh tokens rotate, and one used twice revokes its
grant; an access token expires; a revoked grant and a wrong client answer Auth0's errors."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import time_machine

USER, CLIENT, SECRET = "u-1", "app-1", "app-secret"
REDIRECT = "https://loopwise.example/integrations/ats/lever/callback"
SCOPE = "opportunities:read:admin stages:read:admin offline_access"


@pytest.fixture
def fake(lever_fake):
    lever_fake.seed({"users": [{"id": USER, "name": "Riley Recruiter"}],
                     "oauth_clients": [{"client_id": CLIENT, "client_secret": SECRET}]})
    return lever_fake


def authorize(fake, **changes) -> requests.Response:
    params = {"client_id": CLIENT, "redirect_uri": REDIRECT, "response_type": "code", "state": "st-1",
              "audience": "https://api.lever.co/v1/", "scope": SCOPE, **changes}
    return requests.get(fake.url + "/authorize", params=params, allow_redirects=False, timeout=5)


def token(fake, **form) -> requests.Response:
    return requests.post(fake.url + "/oauth/token", data={"client_id": CLIENT, "client_secret": SECRET, **form},
                         timeout=5)


def signed_in(fake) -> dict:
    code = parse_qs(urlsplit(authorize(fake).headers["Location"]).query)["code"][0]
    answer = token(fake, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert answer.status_code == 200
    return answer.json()


def stages(fake, access: str) -> requests.Response:
    return requests.get(fake.url + "/v1/stages", headers={"Authorization": f"Bearer {access}"}, timeout=5)


def test_it_approves_at_once_and_sends_the_code_back_with_the_state(fake):
    answer = authorize(fake)

    assert answer.status_code == 302
    back = urlsplit(answer.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT
    query = parse_qs(back.query)
    assert query["state"] == ["st-1"] and query["code"][0]


@pytest.mark.parametrize("changes", [{"client_id": "nobody"}, {"response_type": "token"},
                                     {"audience": "https://api.lever.co/v1"}])
def test_it_refuses_an_authorize_request_it_cannot_serve(fake, changes):
    assert authorize(fake, **changes).status_code == 400


def test_a_code_buys_tokens_once_and_the_access_token_reads_the_api(fake):
    code = parse_qs(urlsplit(authorize(fake).headers["Location"]).query)["code"][0]

    first = token(fake, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    again = token(fake, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)

    body = first.json()
    assert first.status_code == 200 and body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["refresh_token"] and again.status_code == 403 and again.json()["error"] == "invalid_grant"
    assert stages(fake, body["access_token"]).status_code == 200


def test_refresh_tokens_rotate_and_one_used_twice_revokes_the_grant(fake):
    tokens = signed_in(fake)

    renewed = token(fake, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    replayed = token(fake, grant_type="refresh_token", refresh_token=tokens["refresh_token"])

    assert renewed.status_code == 200 and renewed.json()["refresh_token"] != tokens["refresh_token"]
    assert replayed.status_code == 403 and replayed.json() == {"error": "invalid_grant",
                                                               "error_description": "Unknown or invalid refresh token."}
    assert token(fake, grant_type="refresh_token", refresh_token=renewed.json()["refresh_token"]).status_code == 403
    assert stages(fake, renewed.json()["access_token"]).status_code == 401  # the whole grant is gone


def test_an_access_token_expires(fake):
    tokens = signed_in(fake)

    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1, seconds=1)):
        answer = stages(fake, tokens["access_token"])

    assert answer.status_code == 401 and answer.json()["message"] == "The access token has expired"


def test_a_revoked_grant_cannot_be_refreshed(fake):
    tokens = signed_in(fake)
    fake.add_fault(kind="revoke", target=USER)

    answer = token(fake, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    fake.clear_faults()

    assert answer.status_code == 403 and answer.json()["error"] == "invalid_grant"
    assert token(fake, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).status_code == 403


def test_it_refuses_a_wrong_client_and_an_unknown_grant_type(fake):
    wrong = requests.post(fake.url + "/oauth/token", data={"client_id": CLIENT, "client_secret": "nope",
                                                           "grant_type": "client_credentials"}, timeout=5)
    unknown = token(fake, grant_type="password")

    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert unknown.status_code == 400 and unknown.json()["error"] == "unsupported_grant_type"
    assert [c["grant_type"] for c in fake.state()["token_calls"]] == ["client_credentials", "password"]
