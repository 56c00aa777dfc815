"""The icims fake's further auth (issue 9): HMAC-signed API calls (contract §1.3), refused when the secret, the date,
the body or the URL do not match what was signed; and pushes authenticated by OAuth, for which the fake first asks
the receiver's token URL for a token (Basic or form client authentication), keeps it while it lives, and sends
nothing without one (§1.4)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import time_machine

from integrations.fakes.icims_wire import API_SIGNED, api_string_to_sign
from tests.integrations.ats.conftest import Receiver

CID = "1234"


class TokenServer:
    """A receiver's token URL: answers `answer` (a status and a JSON body) and keeps each request's form and
    Authorization."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answer: tuple[int, dict] = (200, {"access_token": "tok-1", "token_type": "Bearer", "expires_in": 900})
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append({"form": {k: v[0] for k, v in parse_qs(body.decode()).items()},
                                        "authorization": self.headers.get("Authorization", "")})
                status, data = server.answer
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format, *args) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/token"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture(scope="module")
def _servers():
    receiver, tokens = Receiver(), TokenServer()
    yield receiver, tokens
    receiver.stop()
    tokens.stop()


@pytest.fixture
def servers(_servers):
    receiver, tokens = _servers
    receiver.deliveries.clear()
    tokens.requests.clear()
    tokens.answer = (200, {"access_token": "tok-1", "token_type": "Bearer", "expires_in": 900})
    return receiver, tokens


@pytest.fixture
def fake(icims_fake, servers):
    receiver, _ = servers
    icims_fake.seed({"api_users": [{"username": "signer", "hmac_secret": "hmac-secret"},
                                   {"username": "basic", "password": "pw"}],
                     "jobs": [{"id": 42, "jobtitle": "Nurse"}],
                     "people": [{"id": 881, "firstname": "Ana", "lastname": "Ruiz"}],
                     "workflows": [{"id": 5501, "job": 42, "person": 881}], "webhook_url": receiver.url})
    return icims_fake


def signed(method: str, url: str, *, secret: str = "hmac-secret", body: bytes = b"", user: str = "signer",
           date: dt.datetime | None = None, sign_url: str | None = None) -> dict[str, str]:
    """Headers of an HMAC-signed call to `url` (signed as if for `sign_url`, when given)."""
    parts = urlsplit(sign_url or url)
    headers = {"content-type": "application/json", "host": parts.netloc,
               "x-icims-content-sha256": hashlib.sha256(body).hexdigest(),
               "x-icims-date": (date or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")}
    canonical = api_string_to_sign(method, parts.path, parts.query, headers, API_SIGNED)
    digest = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (f"x-icims-v1-hmac-sha256 user={user},signedheaders={';'.join(API_SIGNED)},"
                                f"signature={digest}")
    return headers


def test_it_takes_an_hmac_signed_read_and_write(fake):
    url = f"{fake.url}/customers/{CID}/applicantworkflows/5501?fields=status"
    read = requests.get(url, headers=signed("GET", url))
    body = json.dumps({"field50001": "Booked"}).encode()
    patch_url = f"{fake.url}/customers/{CID}/applicantworkflows/5501"
    write = requests.patch(patch_url, data=body, headers=signed("PATCH", patch_url, body=body))

    assert read.status_code == 200 and read.json()["status"]["id"] == "D10100"
    assert write.status_code == 204
    assert fake.state()["workflows"][0]["fields"]["field50001"] == "Booked"


@pytest.mark.parametrize("change", ["secret", "user", "url", "body", "date"])
def test_it_refuses_a_signature_that_does_not_hold(fake, change):
    url = f"{fake.url}/customers/{CID}/applicantworkflows/5501"
    body = json.dumps({"field50001": "Booked"}).encode()
    headers = {
        "secret": lambda: signed("PATCH", url, body=body, secret="not-it"),
        "user": lambda: signed("PATCH", url, body=body, user="basic"),
        "url": lambda: signed("PATCH", url, body=body, sign_url=f"{fake.url}/customers/{CID}/people/881"),
        "body": lambda: signed("PATCH", url, body=b'{"field50001": "Other"}'),
        "date": lambda: signed("PATCH", url, body=body, date=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=6)),
    }[change]()

    answer = requests.patch(url, data=body, headers=headers)

    assert answer.status_code == 401 and answer.json()["errors"][0]["errorCode"] == 6
    assert fake.state()["workflows"][0]["fields"] == {}


def test_a_basic_user_without_a_password_cannot_sign_in_by_basic(fake):
    answer = requests.get(f"{fake.url}/customers/{CID}/people/881", auth=("signer", ""))

    assert answer.status_code == 401


def test_it_pushes_with_a_bearer_token_from_the_receivers_token_url(fake, servers):
    receiver, tokens = servers
    fake.seed({"statuses": [{"id": "D10100", "value": "New"}, {"id": "C2010", "value": "Interview"},
                            {"id": "C2020", "value": "Offer"}],
               "push": {"auth": "oauth", "token_url": tokens.url, "client_id": "push client",
                        "client_secret": "s3cr=t"}})

    first = fake.stage_change(5501, "C2010", duplicates=1)
    second = fake.stage_change(5501, "C2020")

    assert [d["token_status"] for d in first["deliveries"] + second["deliveries"]] == [200, None, None]
    assert len(tokens.requests) == 1 and fake.state()["push_token_fetches"] == 1  # kept while it lives
    call = tokens.requests[0]
    assert call["form"] == {"grant_type": "client_credentials"}
    assert base64.b64decode(call["authorization"][6:]) == b"push+client:s3cr%3Dt"  # RFC 6749 §2.3.1 encoding
    assert {d.headers["Authorization"] for d in receiver.deliveries} == {"Bearer tok-1"}


def test_it_asks_again_once_the_token_has_expired_and_can_send_the_client_as_form_fields(fake, servers):
    receiver, tokens = servers
    tokens.answer = (200, {"access_token": "tok-2", "token_type": "Bearer", "expires_in": 60})
    fake.seed({"statuses": [{"id": "D10100", "value": "New"}, {"id": "C2010", "value": "Interview"},
                            {"id": "C2020", "value": "Offer"}],
               "push": {"auth": "oauth", "token_url": tokens.url, "client_id": "c", "client_secret": "s",
                        "client_auth": "form"}})

    fake.stage_change(5501, "C2010")
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)):
        fake.stage_change(5501, "C2020")

    assert len(tokens.requests) == 2
    assert tokens.requests[0]["form"] == {"grant_type": "client_credentials", "client_id": "c", "client_secret": "s"}
    assert tokens.requests[0]["authorization"] == ""


def test_it_sends_nothing_without_a_token(fake, servers):
    receiver, tokens = servers
    tokens.answer = (401, {"error": "invalid_client"})
    fake.seed({"statuses": [{"id": "D10100", "value": "New"}, {"id": "C2010", "value": "Interview"}],
               "push": {"auth": "oauth", "token_url": tokens.url, "client_id": "c", "client_secret": "wrong"}})

    answer = fake.stage_change(5501, "C2010")

    assert answer["deliveries"] == [{"n": 1, "status": None, "token_status": 401}]
    assert receiver.deliveries == []


def test_it_refuses_an_oauth_push_setup_without_its_client(fake):
    with pytest.raises(RuntimeError, match="push.auth oauth needs token_url, client_id, client_secret"):
        fake.seed({"push": {"auth": "oauth", "token_url": "http://127.0.0.1:1/token"}})
