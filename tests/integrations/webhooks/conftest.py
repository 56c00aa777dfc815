"""Outbound webhook tests: a real receiver on loopback (plain http, so the tests allow http and private targets
unless a test turns them off), and the booking world of tests/scheduling/booking (google fake, mail fake, time
frozen at a Monday 06:00 UTC and ticking)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine

from integrations.models import WebhookSubscription
from integrations.webhooks.services import webhook_subscription_create
from tests.scheduling.booking.conftest import World, build_world
from tests.scheduling.booking.support import NOW


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Keeps every POST (headers and raw body) and answers the next status of `statuses`, then 200."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/loopwise"
        threading.Thread(target=self.server.serve_forever, daemon=True, name="webhook-receiver").start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def _receiver_server():
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def receiver(_receiver_server) -> Receiver:
    _receiver_server.received.clear()
    _receiver_server.statuses = []
    return _receiver_server


@pytest.fixture
def loopback_allowed(settings):
    """The test receiver is plain http on 127.0.0.1: both relaxations on."""
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOKS_ALLOW_HTTP = True
    return settings


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture
def world(db, google_fake, mail_fake, frozen) -> World:
    return build_world(google_fake, mail_fake)


@pytest.fixture
def subscribe(receiver, loopback_allowed):
    def make(events: list[str] | None = None, **kw) -> WebhookSubscription:
        return webhook_subscription_create(name=kw.pop("name", "HR platform"), url=kw.pop("url", receiver.url),
                                           events=events or ["interview.booked"], **kw)
    return make
