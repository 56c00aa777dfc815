"""The shared fake base: routing, the /_fake/ control surface and the generic faults, over real sockets."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import time

import pytest
import requests

from integrations.fakes.base import Abort, FakeServer, Request, Response


class ThingsFake(FakeServer):
    """A tiny provider: things by id, a provider-shaped error body, and the X-User header as a fault subject."""

    name = "things"
    routes = [
        ("POST", r"/v1/things", "thing_create"),
        ("GET", r"/v1/things/(?P<thing>[^/]+)", "thing_get"),
        ("GET", r"/v1/broken", "broken"),
    ]

    def new_state(self):
        return {"things": {}}

    def on_seed(self, data):
        self.store["things"].update({t["id"]: t for t in data["things"]})
        return {"things": len(self.store["things"])}

    def fault_subjects(self, req: Request) -> set[str]:
        return {req.headers["X-User"]} if "X-User" in req.headers else set()

    def error_body(self, status, reason):
        return {"errors": [{"reason": reason}], "code": status}

    def thing_create(self, req: Request) -> Response:
        thing = req.json()
        self.store["things"][thing["id"]] = thing
        return Response(201, thing)

    def thing_get(self, req: Request):
        if req.params["thing"] not in self.store["things"]:
            raise Abort(404, "notFound")
        return self.store["things"][req.params["thing"]]

    def broken(self, req: Request):
        raise RuntimeError("a bug in a handler")


@pytest.fixture
def fake():
    fake = ThingsFake.start()
    yield fake
    fake.stop()


@pytest.fixture
def http():
    with requests.Session() as session:
        session.trust_env = False  # loopback: no proxies from the environment
        yield session


# ---- routing -----------------------------------------------------------------------------------------------


def test_it_routes_by_method_and_path(fake, http):
    created = http.post(f"{fake.url}/v1/things", json={"id": "alice@example.com", "colour": "teal"})
    got = http.get(f"{fake.url}/v1/things/alice%40example.com")

    assert created.status_code == 201
    assert got.status_code == 200
    assert got.json() == {"id": "alice@example.com", "colour": "teal"}
    assert got.headers["Content-Type"].startswith("application/json")


def test_it_answers_404_and_405_in_the_providers_shape(fake, http):
    assert http.get(f"{fake.url}/v1/things/nobody").json() == {"errors": [{"reason": "notFound"}], "code": 404}
    assert http.get(f"{fake.url}/v2/elsewhere").status_code == 404
    assert http.delete(f"{fake.url}/v1/things").status_code == 405


def test_it_answers_500_when_a_handler_fails(fake, http, capsys):
    r = http.get(f"{fake.url}/v1/broken")

    assert r.status_code == 500
    assert r.json() == {"errors": [{"reason": "internal"}], "code": 500}
    assert "a bug in a handler" in capsys.readouterr().err


# ---- control surface ---------------------------------------------------------------------------------------


def test_it_seeds_shows_and_resets_its_state(fake):
    assert fake.seed({"things": [{"id": "a"}, {"id": "b"}]}) == {"things": 2}
    fake.add_fault(kind="error")
    assert fake.state() == {"things": {"a": {"id": "a"}, "b": {"id": "b"}}}

    fake.reset()

    assert fake.state() == {"things": {}}
    assert fake.requests() == []
    assert fake.faults == []


def test_it_says_what_went_wrong_with_a_seed_in_the_wrong_shape(fake, http, capsys):
    r = http.post(f"{fake.url}/_fake/seed", json={"thingz": []})

    assert r.status_code == 500
    assert r.json() == {"error": "KeyError: 'things'"}


def test_it_refuses_seed_and_stage_change_without_the_hooks(http):
    with FakeServer.start() as bare:
        assert http.post(f"{bare.url}/_fake/seed", json={}).status_code == 404
        assert http.post(f"{bare.url}/_fake/stage_change", json={"application": "1", "stage": "x"}).status_code == 404
        assert http.get(f"{bare.url}/_fake/nothing").status_code == 404


def test_it_records_every_request_outside_the_control_surface(fake, http):
    http.post(f"{fake.url}/v1/things", json={"id": "a"})
    http.get(f"{fake.url}/v1/things/a?fields=id")
    fake.state()

    log = fake.requests()

    assert [(r["method"], r["path"], r["query"], r["status"]) for r in log] == [
        ("POST", "/v1/things", "", 201), ("GET", "/v1/things/a", "fields=id", 200)]
    assert all(r["time"].endswith("+00:00") for r in log)


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "explode"}, "kind"),
    ({"target": "/v1/"}, "kind"),
    ({"kind": "error", "count": 0}, "count"),
    ({"kind": "error", "count": True}, "count"),
    ({"kind": "error", "status": "503"}, "status"),
    ({"kind": "throttle", "retry_after": -1}, "retry_after"),
    ({"kind": "slow", "delay_ms": "fast"}, "delay_ms"),
    ({"kind": "error", "target": ""}, "target"),
    ({"kind": "error", "colour": "red"}, "colour"),
    (["error"], "body"),
])
def test_it_refuses_a_bad_fault_naming_the_field(fake, http, body, field):
    r = http.post(f"{fake.url}/_fake/faults", json=body)

    assert r.status_code == 400
    assert r.json()["field"] == field
    assert fake.faults == []


def test_it_clears_faults(fake, http):
    fake.add_fault(kind="error")
    fake.add_fault(kind="revoke", target="alice")

    fake.clear_faults()

    assert fake.faults == []
    assert http.get(f"{fake.url}/v1/things/a").status_code == 404


# ---- generic faults ----------------------------------------------------------------------------------------


def test_it_answers_errors_until_the_count_is_used_up(fake, http):
    fake.add_fault(kind="error", count=2)

    statuses = [http.post(f"{fake.url}/v1/things", json={"id": "a"}).status_code for _ in range(3)]

    assert statuses == [503, 503, 201]
    assert [r["status"] for r in fake.requests()] == [503, 503, 201]
    assert fake.faults == []


def test_it_answers_an_error_in_the_providers_shape_with_the_status_asked(fake, http):
    fake.add_fault(kind="error", status=500, count=1)

    r = http.get(f"{fake.url}/v1/things/a")

    assert r.status_code == 500
    assert r.json() == {"errors": [{"reason": "error"}], "code": 500}


def test_it_narrows_a_fault_to_a_path_prefix(fake, http):
    fake.seed({"things": [{"id": "a@x"}, {"id": "b"}]})
    fake.add_fault(kind="error", target="/v1/things/a@x")

    assert http.get(f"{fake.url}/v1/things/a%40x").status_code == 503
    assert http.get(f"{fake.url}/v1/things/b").status_code == 200


def test_it_narrows_a_fault_to_a_subject_the_fake_extracts(fake, http):
    fake.seed({"things": [{"id": "a"}]})
    fake.add_fault(kind="error", target="alice")

    assert http.get(f"{fake.url}/v1/things/a", headers={"X-User": "alice"}).status_code == 503
    assert http.get(f"{fake.url}/v1/things/a", headers={"X-User": "bob"}).status_code == 200


def test_it_throttles_with_retry_after(fake, http):
    fake.add_fault(kind="throttle", retry_after=7, count=1)

    r = http.get(f"{fake.url}/v1/things/a")

    assert r.status_code == 429
    assert r.headers["Retry-After"] == "7"
    assert r.json() == {"errors": [{"reason": "throttled"}], "code": 429}


def test_it_answers_slowly(fake, http):
    fake.seed({"things": [{"id": "a"}]})
    fake.add_fault(kind="slow", delay_ms=100, count=1)

    started = time.monotonic()
    r = http.get(f"{fake.url}/v1/things/a")

    assert r.status_code == 200
    assert time.monotonic() - started >= 0.1


def test_it_applies_a_request_then_holds_the_answer_past_the_clients_timeout(fake, http):
    fake.add_fault(kind="timeout", delay_ms=500, count=1)

    with pytest.raises(requests.ReadTimeout):
        http.post(f"{fake.url}/v1/things", json={"id": "a"}, timeout=0.1)

    assert fake.state() == {"things": {"a": {"id": "a"}}}
    assert [r["status"] for r in fake.requests()] == [201]


def test_it_wakes_held_answers_when_it_stops(http):
    fake = ThingsFake.start()
    fake.add_fault(kind="timeout")  # 30 s by default
    with pytest.raises(requests.ReadTimeout):
        http.get(f"{fake.url}/v1/things/a", timeout=0.05)

    started = time.monotonic()
    fake.stop()

    assert time.monotonic() - started < 1


def test_it_drops_the_connection_without_applying_anything(fake, http):
    fake.add_fault(kind="drop", count=1)

    with pytest.raises(requests.ConnectionError):
        http.post(f"{fake.url}/v1/things", json={"id": "a"})

    assert fake.state() == {"things": {}}
    assert [r["status"] for r in fake.requests()] == [None]
    assert http.post(f"{fake.url}/v1/things", json={"id": "a"}).status_code == 201


def test_it_keeps_provider_faults_for_the_fake_to_apply(fake, http):
    fake.seed({"things": [{"id": "a"}]})
    fake.add_fault(kind="revoke", target="alice", count=1)

    assert http.get(f"{fake.url}/v1/things/a", headers={"X-User": "alice"}).status_code == 200
    assert fake.fault_active("revoke", subjects={"bob"}) is None
    assert fake.fault_active(("revoke", "expire_token"), subjects={"alice"}).kind == "revoke"
    assert fake.fault_active("revoke", subjects={"alice"}) is None


# ---- listeners and webhooks --------------------------------------------------------------------------------


def test_it_serves_tls_and_further_listeners_on_the_same_state(tmp_path, http):
    cert, key = _self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    with ThingsFake.start(ssl_context=context) as fake:
        plain = fake.listen()
        http.post(f"{plain}/v1/things", json={"id": "a"})

        assert fake.url.startswith("https://127.0.0.1:")
        assert http.get(f"{fake.url}/v1/things/a", verify=str(cert)).json() == {"id": "a"}
        assert fake.state() == {"things": {"a": {"id": "a"}}}


def test_it_posts_webhooks_to_its_webhook_url(fake):
    with ThingsFake.start(webhook_url=f"{fake.url}/v1/things") as sender:
        status = sender.send_webhook({"id": "from-a-webhook"}, {"Signature": "sha256 abc"})

    assert status == 201
    assert fake.state() == {"things": {"from-a-webhook": {"id": "from-a-webhook"}}}


def _self_signed_certificate(folder):
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
