"""A webhook receiver for the ATS tests: a real HTTP server on loopback that keeps every delivery (headers and raw
body, byte for byte) and answers 200, so that a test can hand the provider's own signed delivery to an adapter."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.deliveries.append(Delivery(self.path, dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/ats"
        threading.Thread(target=self.server.serve_forever, daemon=True, name="ats-webhook-receiver").start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def _webhook_receiver_server():
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def webhook_receiver(_webhook_receiver_server) -> Receiver:
    """The running receiver, emptied, answering 200."""
    _webhook_receiver_server.deliveries.clear()
    _webhook_receiver_server.status = 200
    return _webhook_receiver_server
