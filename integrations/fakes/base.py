"""The shared base of every provider fake: a threaded HTTP server, a route table, the `/_fake/` control surface
and fault injection, as /work/shared/fakes.md describes them.

A fake subclasses `FakeServer`, names itself, lists its routes and fills a few hooks:

    class LeverFake(FakeServer):
        name = "lever"
        routes = [("GET", r"/v1/opportunities/(?P<opportunity>[^/]+)", "opportunity_get")]

        def new_state(self): return {"opportunities": {}}
        def opportunity_get(self, req): return {"data": self.store["opportunities"][req.params["opportunity"]]}

Routes match the raw (still percent-encoded) path, so `alice%40example.com` stays one segment; the named groups
arrive decoded in `req.params`. A handler returns a `Response`, a dict or list (200 JSON) or None (204), or raises
`Abort`. Handlers run under `self.lock`, so they may read and write `self.store` freely; code outside a handler
(an SMTP thread, a webhook sender) takes the lock itself. Never hold the lock while calling out (`send_webhook`):
the receiver may call the fake back.

Hooks, all optional: `new_state()`, `state_json()`, `on_seed(data)`, `on_stage_change(data)`,
`fault_subjects(req)`, `check_fault(fault)`, `error_body(status, reason)`, `fault_response(fault, req)`,
`on_response(req, resp)`, `on_start()`, `on_stop()`, `extra_listeners()`. The client helpers (`state()`,
`reset()`, `seed(data)`, `add_fault(**kw)`, `clear_faults()`, `requests()`, `stage_change(application, stage)`)
call the control surface over HTTP, as a test or the demo would, so subclasses must not reuse those names.

Generic faults (`error`, `throttle`, `slow`, `timeout`, `drop`) are applied here before routing, to every path
outside `/_fake/`. Provider kinds (`revoke`, `expire_token`, ...) are only stored; a fake asks for them with
`self.fault_active(kind, req=req)` where it handles the call they affect, and answers the provider's way.

Departures common to every fake: no chunked request bodies (Content-Length only); no HTTP/2; one process.
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
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

GENERIC_KINDS = ("error", "throttle", "slow", "timeout", "drop")
PROVIDER_KINDS = ("revoke", "expire_token", "bad_credentials", "ignore_transaction_id", "quota_exhausted",
                  "component_down")
FAULT_KINDS = GENERIC_KINDS + PROVIDER_KINDS
DEFAULT_TIMEOUT_MS = 30_000


class Abort(Exception):
    """Raised by a handler or hook to answer `status` at once. Provider routes answer `body`, or else
    `error_body(status, message)`; the control surface answers `{"error": message, "field": field}`."""

    def __init__(self, status: int, message: str, *, field: str | None = None, body: Any = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.field, self.body, self.headers = status, message, field, body, headers or {}


@dataclass
class Request:
    method: str
    path: str                    # raw, percent-encoded, without the query string
    query: dict[str, list[str]]  # every value of each parameter; `arg()` gives the first
    headers: Message             # case-insensitive
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # the route's named groups, percent-decoded

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, [default])[0]

    def json(self) -> Any:
        """The body as JSON; Abort(400) if it is not."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise Abort(400, "body is not JSON", field="body") from None

    def form(self) -> dict[str, str]:
        """An application/x-www-form-urlencoded body (token endpoints), first value of each field."""
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict or list: JSON; str: HTML unless headers say otherwise; bytes: as is; None: empty
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
    target: str | None = None   # a path prefix, or a subject from fault_subjects() (a user, a calendar, ...)
    count: int | None = None    # the next N matching requests; None: until cleared
    status: int | None = None
    retry_after: float | None = None
    delay_ms: float | None = None
    id: int = 0

    def matches(self, req: Request | None, subjects: set[str]) -> bool:
        if self.target is None or self.target in subjects:
            return True
        return req is not None and (req.path.startswith(self.target) or unquote(req.path).startswith(self.target))


def parse_fault(data: Any) -> Fault:
    """Checks a `POST /_fake/faults` body, raising Abort(400) that names the first bad field."""
    if not isinstance(data, dict):
        raise Abort(400, "expected a JSON object", field="body")
    for name in data:
        if name not in {"kind", "target", "count", "status", "retry_after", "delay_ms"}:
            raise Abort(400, f"unknown field {name!r}", field=name)
    if data.get("kind") not in FAULT_KINDS:
        raise Abort(400, f"kind must be one of {', '.join(FAULT_KINDS)}", field="kind")
    checks = {"target": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
              "count": (lambda v: _is_int(v) and v >= 1, "an integer of at least 1"),
              "status": (lambda v: _is_int(v) and 100 <= v <= 599, "an integer from 100 to 599"),
              "retry_after": (lambda v: _is_number(v) and v >= 0, "a number of seconds, at least 0"),
              "delay_ms": (lambda v: _is_number(v) and v >= 0, "a number of milliseconds, at least 0")}
    for name, (ok, wanted) in checks.items():
        if data.get(name) is not None and not ok(data[name]):
            raise Abort(400, f"{name} must be {wanted}", field=name)
    return Fault(**{k: v for k, v in data.items() if v is not None})


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LoopwiseFake/1.0"
    server: _Listener

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()  # here, in the connection's thread, not in the accept loop
            self.request.settimeout(None)
        super().setup()
        self.server.fake._connections.add(self.request)

    def finish(self) -> None:
        self.server.fake._connections.discard(self.request)
        try:
            super().finish()
        except OSError:
            pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except OSError:  # the client went away, or stop() closed the socket
            self.close_connection = True

    def do_GET(self) -> None:
        self.server.fake._handle(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            super().log_message(format, *args)


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # handshakes and resets are the client's business
            super().handle_error(request, client_address)


class FakeServer:
    name: ClassVar[str] = "fake"
    routes: ClassVar[list[tuple[str, str, str]]] = []  # (method, path regex, handler method name)
    http_faults: ClassVar[bool] = True                  # False: faults never touch HTTP (mail's pages)

    def __init__(self, *, webhook_url: str | None = None, verbose: bool = False):
        self.webhook_url, self.verbose = webhook_url, verbose
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

    # ---- starting and stopping ----------------------------------------------------------------------------

    @classmethod
    def start(cls, *, port: int = 0, ssl_context: ssl.SSLContext | None = None, **options: Any) -> FakeServer:
        """Serves on 127.0.0.1 from background threads and returns the running fake (see `url`)."""
        fake = cls(**options)
        fake.url = fake.listen(port=port, ssl_context=ssl_context)
        fake.on_start()
        return fake

    def listen(self, *, port: int = 0, ssl_context: ssl.SSLContext | None = None) -> str:
        """Opens one more listener on the same routes and state (e.g. a TLS login host) and returns its URL."""
        listener = _Listener(("127.0.0.1", port), _Handler)
        listener.fake = self
        if ssl_context is not None:
            listener.socket = ssl_context.wrap_socket(listener.socket, server_side=True,
                                                      do_handshake_on_connect=False)
        self._listeners.append(listener)
        threading.Thread(target=listener.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                         name=f"{self.name}-http").start()
        return f"{'https' if ssl_context else 'http'}://127.0.0.1:{listener.server_address[1]}"

    def stop(self) -> None:
        """Stops every listener, wakes held answers and closes open connections. Safe to call twice."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self.on_stop()
        for listener in self._listeners:
            listener.shutdown()
            listener.server_close()
        for conn in list(self._connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- hooks ---------------------------------------------------------------------------------------------

    def new_state(self) -> Any:
        """The empty state, built at start and on every reset."""
        return {}

    def state_json(self) -> Any:
        """What `GET /_fake/state` answers, as a copy; called under the lock."""
        return json.loads(json.dumps(self.store, default=str))

    def on_seed(self, data: Any) -> Any:
        """Adds data in the shape the fake's docstring documents; the answer is returned to the caller."""
        raise Abort(404, f"the {self.name} fake takes no seed")

    def on_stage_change(self, data: Any) -> Any:
        """ATS fakes: move an application and deliver the provider's webhook (see `send_webhook`). Runs
        without the lock: take it to change the store, and let go of it before sending."""
        raise Abort(404, f"the {self.name} fake has no stage_change")

    def fault_subjects(self, req: Request) -> set[str]:
        """Values of `target` that match this request besides a path prefix: user ids, calendar ids..."""
        return set()

    def check_fault(self, fault: Fault) -> None:
        """Refuses a fault this fake cannot apply, raising Abort(400, ..., field=...)."""

    def error_body(self, status: int, reason: str) -> Any:
        """The provider's error body. `reason` is one of error, throttled, not_found, method_not_allowed,
        internal, or a handler's own message."""
        return {"error": {"code": status, "message": reason}}

    def fault_response(self, fault: Fault, req: Request) -> Response:
        """The answer to an `error` or `throttle` fault."""
        if fault.kind == "throttle":
            retry_after = 1 if fault.retry_after is None else fault.retry_after
            headers = {"Retry-After": str(int(retry_after) if float(retry_after).is_integer() else retry_after)}
            return Response(fault.status or 429, self.error_body(fault.status or 429, "throttled"), headers)
        return Response(fault.status or 503, self.error_body(fault.status or 503, "error"))

    def on_response(self, req: Request, resp: Response) -> None:
        """Adds headers every answer carries (rate-limit counters...). Faulted answers pass here too."""

    def on_start(self) -> None:
        """Starts further listeners (SMTP...) once the HTTP listener is up."""

    def on_stop(self) -> None:
        """Stops what on_start started."""

    def extra_listeners(self) -> list[str]:
        """Lines printed after the start line, one per further listener: 'mail smtp on 127.0.0.1:PORT'."""
        return []

    # ---- for subclasses ------------------------------------------------------------------------------------

    def fault_active(self, kinds: str | tuple[str, ...], *, req: Request | None = None,
                     subjects: set[str] | frozenset[str] = frozenset()) -> Fault | None:
        """The first fault of one of `kinds` matching this request (its path, `fault_subjects(req)`) or one of
        `subjects`. Each call that finds one uses up one of its `count`."""
        kinds = (kinds,) if isinstance(kinds, str) else kinds
        subjects = set(subjects) | (self.fault_subjects(req) if req is not None else set())
        with self.lock:
            for fault in self.faults:
                if fault.kind in kinds and fault.matches(req, subjects):
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count == 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def record(self, method: str, path: str, status: int | None, query: str = "") -> None:
        """Adds an entry to `GET /_fake/requests`; status None means the connection was dropped."""
        entry = {"method": method, "path": path, "query": query, "status": status,
                 "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}
        with self.lock:
            self.log.append(entry)

    def hold(self, seconds: float) -> None:
        """Sleeps, but wakes at once when the fake stops."""
        self._stopping.wait(seconds)

    def send_webhook(self, body: bytes | dict | list, headers: dict[str, str] | None = None) -> int | None:
        """POSTs to `webhook_url`; returns the receiver's status, or None with no URL or no answer."""
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

    # ---- serving -------------------------------------------------------------------------------------------

    def _handle(self, h: _Handler) -> None:
        split = urlsplit(h.path)
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        req = Request(h.command, split.path, parse_qs(split.query, keep_blank_values=True), h.headers, body)
        if req.path.startswith("/_fake/"):
            return self._write(h, req, self._control(req))
        fault = self.fault_active(GENERIC_KINDS, req=req) if self.http_faults else None
        if fault and fault.kind == "drop":
            self.record(req.method, req.path, None, split.query)
            h.close_connection = True
            return
        if fault and fault.kind == "slow":
            self.hold((fault.delay_ms or 0) / 1000)
        if fault and fault.kind in ("error", "throttle"):
            resp = self.fault_response(fault, req)
        else:
            resp = self._route(req)
        with self.lock:
            self.on_response(req, resp)
        self.record(req.method, req.path, resp.status, split.query)
        if fault and fault.kind == "timeout":
            self.hold((DEFAULT_TIMEOUT_MS if fault.delay_ms is None else fault.delay_ms) / 1000)
        self._write(h, req, resp)

    def _route(self, req: Request) -> Response:
        path_known = False
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(req.path)
            if match is None:
                continue
            if method != req.method:
                path_known = True
                continue
            req.params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
            try:
                with self.lock:
                    result = handler(req)
            except Abort as e:
                body = e.body if e.body is not None else self.error_body(e.status, e.message)
                return Response(e.status, body, e.headers)
            except Exception:
                traceback.print_exc()
                return Response(500, self.error_body(500, "internal"))
            if isinstance(result, Response):
                return result
            return Response(204) if result is None else Response(200, result)
        status, reason = (405, "method_not_allowed") if path_known else (404, "not_found")
        return Response(status, self.error_body(status, reason))

    def _control(self, req: Request) -> Response:
        try:
            if (req.method, req.path.rstrip("/")) == ("POST", "/_fake/stage_change"):
                return Response(200, self.on_stage_change(req.json()))
            with self.lock:
                return Response(*self._control_call(req))
        except Abort as e:
            return Response(e.status, {"error": e.message, "field": e.field} if e.field else {"error": e.message})

    def _control_call(self, req: Request) -> tuple[int, Any]:
        call = (req.method, req.path.rstrip("/"))
        if call == ("GET", "/_fake/state"):
            return 200, self.state_json()
        if call == ("POST", "/_fake/reset"):
            self.store, self.faults, self.log = self.new_state(), [], []
            return 200, {"reset": True}
        if call == ("POST", "/_fake/seed"):
            answer = self.on_seed(req.json())
            return 200, {"seeded": True} if answer is None else answer
        if call == ("GET", "/_fake/faults"):
            return 200, [asdict(f) for f in self.faults]
        if call == ("POST", "/_fake/faults"):
            fault = parse_fault(req.json())
            self.check_fault(fault)
            self._fault_ids += 1
            fault.id = self._fault_ids
            self.faults.append(fault)
            return 201, asdict(fault)
        if call == ("DELETE", "/_fake/faults"):
            self.faults = []
            return 200, {"faults": 0}
        if call == ("GET", "/_fake/requests"):
            return 200, list(self.log)
        raise Abort(404, f"no {req.method} {req.path} on the control surface")

    def _write(self, h: _Handler, req: Request, resp: Response) -> None:
        body, content_type = resp.encode()
        try:
            h.send_response(resp.status)
            headers = {"Content-Type": content_type, **resp.headers, "Content-Length": str(len(body))}
            for name, value in headers.items():
                h.send_header(name, value)
            h.end_headers()
            if req.method != "HEAD":
                h.wfile.write(body)
            h.wfile.flush()
        except OSError:  # the client gave up (a timeout fault) or stop() closed the socket
            h.close_connection = True

    # ---- client helpers: call the control surface over HTTP, as a test or the demo would -------------------

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


# No proxies (loopback only) and no certificate checks: the control surface of our own fake, never a provider.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                      urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))
