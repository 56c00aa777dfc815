"""The base every provider fake shares: a threaded HTTP server, a route table, the `/_fake/` control surface and
fault injection, as /work/shared/fakes.md describes them. A fake names itself, lists its routes, fills hooks:

    class LeverFake(FakeServer):
        name = "lever"
        routes = [("GET", r"/v1/opportunities/(?P<id>[^/]+)", "opportunity_get")]
        def new_state(self): return {"opportunities": {}}
        def opportunity_get(self, req): return {"data": self.store["opportunities"][req.params["id"]]}

Routes match the raw, percent-encoded path (`alice%40example.com` stays one segment); named groups arrive decoded
in `req.params`. A handler returns a `Response`, a dict or list (200 JSON) or None (204), or raises `Abort`.
Handlers run under `self.lock`; other threads (SMTP, webhooks) take it themselves, and nobody holds it while
calling out, since the receiver may call the fake back. Generic faults (error, throttle, slow, timeout, drop)
are applied here, before routing, outside `/_fake/`. Provider kinds (revoke, expire_token...) are only stored: a
fake asks `self.fault_active(kind, req=req)` where the affected call is handled and answers the provider's way.
Client helpers (`state()`, `reset()`, `seed(data)`, `add_fault(**kw)`, ...) call the control surface over HTTP.

Departures shared by every fake: request bodies need Content-Length (no chunked uploads); HTTP/1.1 only.
"""
from __future__ import annotations

import json
import re
import socket
import ssl
import sys
import threading
import traceback
import urllib.error
import urllib.request
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, unquote, urlsplit

GENERIC_KINDS = ("error", "throttle", "slow", "timeout", "drop")
PROVIDER_KINDS = ("revoke", "expire_token", "bad_credentials", "ignore_transaction_id", "quota_exhausted",
                  "component_down")
FAULT_KINDS = GENERIC_KINDS + PROVIDER_KINDS
DEFAULT_TIMEOUT_MS = 30_000


class Abort(Exception):
    """Answers at once: `body`, else `error_body(status, message)`; on /_fake/, `{"error": ..., "field": ...}`."""

    def __init__(self, status: int, message: str, *, field: str | None = None, body: Any = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.field, self.body, self.headers = status, message, field, body, headers or {}


@dataclass
class Request:
    method: str
    path: str                    # raw, percent-encoded, without the query string
    query: dict[str, list[str]]  # every value of each parameter; arg() gives the first
    headers: Message             # case-insensitive
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # the route's named groups, percent-decoded
    raw_query: str = ""          # the query string as sent (for signatures over the request line)

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, [default])[0]

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise Abort(400, "body is not JSON", field="body") from None

    def form(self) -> dict[str, str]:
        """An application/x-www-form-urlencoded body (token endpoints): the first value of each field."""
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict or list: JSON; str: HTML unless a Content-Type header says otherwise; bytes: as is
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str]:
        if isinstance(self.body, dict | list):
            return json.dumps(self.body).encode(), "application/json; charset=UTF-8"
        if isinstance(self.body, str):
            return self.body.encode(), "text/html; charset=utf-8"
        return self.body or b"", "application/octet-stream"


@dataclass
class Fault:
    kind: str
    target: str | None = None  # a path prefix, or a subject from fault_subjects() (a user, a calendar...)
    count: int | None = None   # the next N matching requests; None: until cleared
    status: int | None = None
    retry_after: float | None = None
    delay_ms: float | None = None
    id: int = 0


FAULT_FIELDS = {  # field: (check, what the 400 says it must be); type() is strict, so true is not 1
    "kind": (lambda v: v in FAULT_KINDS, f"one of {', '.join(FAULT_KINDS)}"),
    "target": (lambda v: type(v) is str and v != "", "a non-empty string"),
    "count": (lambda v: type(v) is int and v >= 1, "an integer of at least 1"),
    "status": (lambda v: type(v) is int and 100 <= v <= 599, "an integer from 100 to 599"),
    "retry_after": (lambda v: type(v) in (int, float) and v >= 0, "a number of seconds, at least 0"),
    "delay_ms": (lambda v: type(v) in (int, float) and v >= 0, "a number of milliseconds, at least 0"),
}


def parse_fault(data: Any) -> Fault:
    """Checks a `POST /_fake/faults` body; Abort(400) names the first bad field."""
    if not isinstance(data, dict):
        raise Abort(400, "expected a JSON object", field="body")
    if unknown := sorted(set(data) - set(FAULT_FIELDS)):
        raise Abort(400, f"unknown field {unknown[0]!r}", field=unknown[0])
    data = {k: v for k, v in data.items() if v is not None}
    for name, (ok, wanted) in FAULT_FIELDS.items():
        if (name in data or name == "kind") and not ok(data.get(name)):
            raise Abort(400, f"{name} must be {wanted}", field=name)
    return Fault(**data)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LoopwiseFake/1.0"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server: _Listener

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):  # handshake in the connection's thread, not the accept loop
            self.request.settimeout(10)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()
        self.server.fake._connections.add(self.request)

    def finish(self) -> None:
        self.server.fake._connections.discard(self.request)
        super().finish()

    def do_GET(self) -> None:
        self.server.fake._handle(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # GET /_fake/requests is the log
        pass


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # resets and failed handshakes are the client's business
            super().handle_error(request, client_address)


class FakeServer:
    name: ClassVar[str] = "fake"
    routes: ClassVar[list[tuple[str, str, str]]] = []  # (method, path regex, name of the handler method)
    http_faults: ClassVar[bool] = True                  # False: faults never touch HTTP (the mail fake's pages)

    def __init__(self, *, webhook_url: str | None = None):
        self.webhook_url = webhook_url
        self.lock = threading.RLock()
        self.store: Any = self.new_state()
        self.faults: list[Fault] = []
        self.log: list[dict[str, Any]] = []
        self.url = ""
        self._fault_ids = 0
        self._routes = [(m, re.compile(p), getattr(self, h)) for m, p, h in self.routes]
        self._listeners: list[_Listener] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()

    @classmethod
    def start(cls, *, port: int = 0, ssl_context: ssl.SSLContext | None = None, **options: Any) -> Self:
        """Serves on 127.0.0.1 from daemon threads and returns the running fake; `options` go to __init__."""
        fake = cls(**options)
        fake.url = fake.listen(port=port, ssl_context=ssl_context)
        fake.on_start()
        return fake

    def listen(self, *, port: int = 0, ssl_context: ssl.SSLContext | None = None) -> str:
        """Opens a further listener on the same routes and store (a TLS login host...) and returns its URL."""
        listener = _Listener(("127.0.0.1", port), _Handler)
        listener.fake = self
        if ssl_context is not None:
            listener.socket = ssl_context.wrap_socket(listener.socket, server_side=True,
                                                      do_handshake_on_connect=False)
        self._listeners.append(listener)
        threading.Thread(target=listener.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True,
                         name=f"{self.name}-http").start()
        return f"{'https' if ssl_context else 'http'}://127.0.0.1:{listener.server_address[1]}"

    def stop(self) -> None:
        """Closes every listener and open connection and wakes held answers. Safe to call twice."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self.on_stop()
        for listener in self._listeners:
            waiter = threading.Thread(target=listener.shutdown)
            waiter.start()
            with suppress(OSError):  # wakes serve_forever's select() rather than wait for its poll interval
                socket.create_connection(listener.server_address, timeout=1).close()
            waiter.join()
            listener.server_close()
        for conn in list(self._connections):
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- hooks -----------------------------------------------------------------------------------------------

    def new_state(self) -> Any:
        """The empty store, at start and on every reset."""
        return {}

    def state_json(self) -> Any:
        """What `GET /_fake/state` answers (a copy; called under the lock)."""
        return json.loads(json.dumps(self.store, default=str))

    def on_seed(self, data: Any) -> Any:
        """Adds data in the shape the fake's docstring documents; returns what the caller gets back."""
        raise Abort(404, f"the {self.name} fake takes no seed")

    def on_stage_change(self, data: Any) -> Any:
        """ATS fakes: move an application, then `send_webhook`. Runs without the lock; take it around changes."""
        raise Abort(404, f"the {self.name} fake has no stage_change")

    def fault_subjects(self, req: Request) -> set[str]:
        """What a fault's `target` may name besides a path prefix: user ids, calendar ids..."""
        return set()

    def check_fault(self, fault: Fault) -> None:
        """Refuses a fault this fake cannot apply: raise Abort(400, ..., field=...)."""

    def error_body(self, status: int, reason: str) -> Any:
        """The provider's error body; reason: error, throttled, not_found, method_not_allowed, internal, an Abort's."""
        return {"error": {"code": status, "message": reason}}

    def fault_response(self, fault: Fault, req: Request) -> Response:
        """The answer to an `error` or a `throttle` fault."""
        if fault.kind == "throttle":
            after = 1 if fault.retry_after is None else fault.retry_after
            status = fault.status or 429
            return Response(status, self.error_body(status, "throttled"), {"Retry-After": f"{after:g}"})
        return Response(fault.status or 503, self.error_body(fault.status or 503, "error"))

    def on_response(self, req: Request, resp: Response) -> None:
        """Adds what every answer carries (rate-limit headers...); faulted answers pass here too."""

    def on_start(self) -> None:
        """Starts further listeners (SMTP...) once the HTTP listener is up; on_stop() stops them."""

    def on_stop(self) -> None: ...

    def extra_listeners(self) -> list[str]:
        """The lines printed after the start line, e.g. 'mail smtp on 127.0.0.1:PORT'."""
        return []

    # ---- for subclasses --------------------------------------------------------------------------------------

    def fault_active(self, kinds: str | tuple[str, ...], *, req: Request | None = None,
                     subjects: set[str] | frozenset[str] = frozenset()) -> Fault | None:
        """The first fault of one of `kinds` whose target is empty, a prefix of the request's path, or among
        `subjects` and `fault_subjects(req)`. Finding one uses up one of its `count`."""
        kinds = (kinds,) if isinstance(kinds, str) else kinds
        subjects = set(subjects) | (self.fault_subjects(req) if req is not None else set())
        paths = (req.path, unquote(req.path)) if req is not None else ()
        with self.lock:
            for fault in self.faults:
                if fault.kind not in kinds:
                    continue
                if fault.target is None or fault.target in subjects or any(p.startswith(fault.target) for p in paths):
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count == 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def record(self, method: str, path: str, status: int | None, query: str = "") -> None:
        """Adds an entry to `GET /_fake/requests`; status None: the connection was dropped."""
        with self.lock:
            self.log.append({"method": method, "path": path, "query": query, "status": status,
                             "time": datetime.now(UTC).isoformat(timespec="milliseconds")})

    def hold(self, seconds: float) -> None:
        """Sleeps, but wakes at once when the fake stops."""
        self._stopping.wait(seconds)

    def send_webhook(self, body: bytes | dict | list, headers: dict[str, str] | None = None) -> int | None:
        """POSTs to `webhook_url`; the receiver's status, or None without a URL or an answer."""
        if not self.webhook_url:
            return None
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.webhook_url, data=data, method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with _OPENER.open(req, timeout=10) as answer:
                return answer.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError as e:
            print(f"{self.name}: webhook to {self.webhook_url} failed: {e}", file=sys.stderr)
            return None

    # ---- serving ---------------------------------------------------------------------------------------------

    def _handle(self, h: _Handler) -> None:
        split = urlsplit(h.path)
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        req = Request(h.command, split.path, parse_qs(split.query, keep_blank_values=True), h.headers, body,
                      raw_query=split.query)
        if req.path.startswith("/_fake/"):
            return self._write(h, req, self._control(req))
        fault = self.fault_active(GENERIC_KINDS, req=req) if self.http_faults else None
        kind = fault.kind if fault else None
        if kind == "drop":  # read, then hang up: nothing applied, nothing answered
            self.record(req.method, req.path, None, split.query)
            h.close_connection = True
            return
        if kind == "slow":
            self.hold((fault.delay_ms or 0) / 1000)
        resp = self.fault_response(fault, req) if kind in ("error", "throttle") else self._route(req)
        with self.lock:
            self.on_response(req, resp)
        self.record(req.method, req.path, resp.status, split.query)
        if kind == "timeout":  # applied and recorded; the answer waits until the client has given up
            self.hold((DEFAULT_TIMEOUT_MS if fault.delay_ms is None else fault.delay_ms) / 1000)
        self._write(h, req, resp)

    def _route(self, req: Request) -> Response:
        path_known = False
        for method, pattern, handler in self._routes:
            if not (match := pattern.fullmatch(req.path)):
                continue
            if method != req.method:
                path_known = True
                continue
            req.params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
            try:
                with self.lock:
                    result = handler(req)
            except Abort as e:
                return Response(e.status, self.error_body(e.status, e.message) if e.body is None else e.body,
                                e.headers)
            except Exception:  # noqa: BLE001 - a bug in a handler answers 500, as a server would
                traceback.print_exc()
                return Response(500, self.error_body(500, "internal"))
            if isinstance(result, Response):
                return result
            return Response(204) if result is None else Response(200, result)
        status, reason = (405, "method_not_allowed") if path_known else (404, "not_found")
        return Response(status, self.error_body(status, reason))

    def _control(self, req: Request) -> Response:
        call = (req.method, req.path.rstrip("/"))
        try:
            if call == ("POST", "/_fake/stage_change"):  # without the lock: see on_stage_change
                return Response(200, self.on_stage_change(req.json()))
            with self.lock:
                if call == ("GET", "/_fake/state"):
                    return Response(200, self.state_json())
                if call == ("POST", "/_fake/reset"):
                    self.store, self.faults, self.log = self.new_state(), [], []
                    return Response(200, {"reset": True})
                if call == ("POST", "/_fake/seed"):
                    answer = self.on_seed(req.json())
                    return Response(200, {"seeded": True} if answer is None else answer)
                if call == ("POST", "/_fake/faults"):
                    fault = parse_fault(req.json())
                    self.check_fault(fault)
                    self._fault_ids += 1
                    fault.id = self._fault_ids
                    self.faults.append(fault)
                    return Response(201, asdict(fault))
                if call == ("DELETE", "/_fake/faults"):
                    self.faults = []
                    return Response(200, {"faults": 0})
                if call == ("GET", "/_fake/requests"):
                    return Response(200, list(self.log))
            raise Abort(404, f"no {req.method} {req.path} on the control surface")
        except Abort as e:
            return Response(e.status, {"error": e.message, "field": e.field} if e.field else {"error": e.message})
        except Exception as e:  # noqa: BLE001 - a seed in the wrong shape says so rather than hang up
            traceback.print_exc()
            return Response(500, {"error": f"{type(e).__name__}: {e}"})

    def _write(self, h: _Handler, req: Request, resp: Response) -> None:
        body, content_type = resp.encode()
        try:
            h.send_response(resp.status)
            for name, value in {"Content-Type": content_type, **resp.headers, "Content-Length": len(body)}.items():
                h.send_header(name, str(value))
            h.end_headers()
            if req.method != "HEAD":
                h.wfile.write(body)
            h.wfile.flush()
        except OSError:  # the client gave up (a timeout fault), or stop() closed the socket
            h.close_connection = True

    # ---- client helpers: the control surface over HTTP ------------------------------------------------------

    def state(self) -> Any:
        return self._call("GET", "/_fake/state")

    def reset(self) -> None:
        self._call("POST", "/_fake/reset")

    def seed(self, data: Any) -> Any:
        return self._call("POST", "/_fake/seed", data)

    def add_fault(self, **fault: Any) -> dict[str, Any]:
        return self._call("POST", "/_fake/faults", fault)

    def clear_faults(self) -> None:
        self._call("DELETE", "/_fake/faults")

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_fake/requests")

    def stage_change(self, application: str, stage: str) -> Any:
        return self._call("POST", "/_fake/stage_change", {"application": application, "stage": stage})

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with _OPENER.open(req, timeout=10) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{self.name} fake: {method} {path} answered {e.code}: {e.read().decode()}") from None


# Loopback only: no proxies, and no certificate check, since this talks to our own fake's control surface.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                      urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))
