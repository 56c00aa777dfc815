"""The benchmark's load: recruiters moving candidates in Greenhouse, and candidates booking through the portal.

`move_all` moves applications to a stage through the Greenhouse fake (`POST /_fake/stage_change`), from
`senders` threads: the fake moves each one and delivers its signed webhook to Loopwise before it answers, so
the time taken before the call is the webhook's send time.

`book_all` is a load generator on loopback: `clients` threads, each a browser at a time (a `requests.Session`
with its own cookie jar and client address, sent as X-Forwarded-For to a web server that trusts one proxy), doing
what a candidate does with the link from their email: open the link (303 to the picker), load the picker, choose a
time (at random: candidates do not coordinate), load its confirmation page, and POST it with the CSRF token as a
browser would (`Origin: null` under the portal's no-referrer policy, `Sec-Fetch-Site: same-origin`), then follow
to the booked page. A time taken meanwhile answers the picker again with fresh times: the candidate picks again,
up to `attempts` times. A server error (or no answer) is reloaded a few seconds later, twice at most. Every HTTP
call is timed on the client (its whole answer read). Bounded: no candidate starts after `deadline`, and each call
gives up after `REQUEST_TIMEOUT` seconds.
"""

from __future__ import annotations

import concurrent.futures
import html
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

__all__ = ["Hit", "Moved", "BookingRun", "move_all", "book_all", "links_from_mail"]

REQUEST_TIMEOUT = 60.0
RELOADS, RELOAD_AFTER = 2, 3.0
_START = re.compile(r'<button name="start" value="([^"]+)"(?![^>]*disabled)')
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_LINK = re.compile(r"/s/([A-Za-z0-9_-]{20,128})/")
TAKEN = ("has just been taken", "have changed", "no longer available")
RETRY = "could not check the interviewers"  # the apostrophe after it is escaped in HTML


@dataclass(frozen=True)
class Hit:
    """One HTTP call of the load generator: what (`link`, `picker`, `confirm_page`, `confirm_post`, `booked`),
    its status (0: no answer), its time on the client in seconds, and when it ended (time.time())."""

    kind: str
    status: int
    seconds: float
    ended: float


@dataclass(frozen=True)
class Moved:
    application: int
    sent: float           # time.time() just before the fake was asked to move it
    status: int | None    # Loopwise's answer to the webhook's first delivery (None: none)


@dataclass
class BookingRun:
    """What `book_all` came to."""

    hits: list[Hit] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)  # booked, no_time_left, gave_up, retry_later,
    # not_started, error: ...
    booked_at: list[float] = field(default_factory=list)    # time.time() of each booking's 303
    started: float = 0.0
    retries: int = 0                                        # picks after a time was taken


def move_all(fake, applications: list[int], stage: str, *, senders: int, deadline: float,
             on_progress: Callable[[int, int], None] = lambda done, total: None) -> list[Moved]:
    """Move each application to `stage` through the fake; the moves made before `deadline` (time.monotonic)."""
    done: list[Moved] = []
    lock = threading.Lock()

    def move(app: int) -> None:
        if time.monotonic() >= deadline:
            return
        sent = time.time()
        try:
            answer = fake.stage_change(app, stage)
            delivery = answer.get("delivery") if isinstance(answer, dict) else None
            status = delivery.get("status") if delivery else None
        except Exception:  # noqa: BLE001 - a failed control call is counted as a move without an answer
            status = None
        with lock:
            done.append(Moved(app, sent, status))
            count = len(done)
        on_progress(count, len(applications))

    with concurrent.futures.ThreadPoolExecutor(max_workers=senders, thread_name_prefix="mover") as pool:
        list(pool.map(move, applications))
    return sorted(done, key=lambda m: m.sent)


def links_from_mail(messages: list[dict], emails: set[str]) -> dict[str, str]:
    """{candidate email: the token of the newest link emailed to them} from the mail fake's messages."""
    out: dict[str, str] = {}
    for m in messages:
        to = [t.lower() for t in m.get("to") or []]
        hit = _LINK.search(m.get("text") or "") or _LINK.search(m.get("html") or "")
        if hit is None:
            continue
        for address in to:
            if address in emails:
                out[address] = hit.group(1)
    return out


class _Browser:
    """One candidate's browser."""

    def __init__(self, base: str, ip: str, rng: random.Random, hits: list[Hit], lock: threading.Lock):
        self.base, self.rng, self.hits, self.lock = base, rng, hits, lock
        self.session = requests.Session()
        self.session.trust_env = False  # loopback: no proxy from the environment
        self.session.headers.update({"X-Forwarded-For": ip, "User-Agent": "bench-morning/1.0",
                                     "Accept": "text/html,application/xhtml+xml"})

    def call(self, kind: str, method: str, path: str, **kw) -> requests.Response | None:
        """One page load, timed; a server error or no answer is tried again (as a candidate reloads) up to
        RELOADS times, RELOAD_AFTER seconds apart, each try a hit of its own."""
        for attempt in range(RELOADS + 1):
            started = time.perf_counter()
            try:
                r = self.session.request(method, self.base + path, timeout=REQUEST_TIMEOUT, allow_redirects=False,
                                         **kw)
                _ = r.content
            except requests.RequestException:
                r = None
            took = time.perf_counter() - started
            with self.lock:
                self.hits.append(Hit(kind, r.status_code if r is not None else 0, took, time.time()))
            if r is not None and r.status_code < 500:
                return r
            if attempt < RELOADS:
                time.sleep(RELOAD_AFTER)
        return r

    def close(self) -> None:
        self.session.close()


def _starts(page: str) -> list[str]:
    return list(dict.fromkeys(html.unescape(s) for s in _START.findall(page)))


def _book_one(browser: _Browser, token: str, attempts: int) -> tuple[str, float | None, int]:
    """(outcome, time.time() of the booking or None, picks after a time was taken)."""
    r = browser.call("link", "GET", f"/s/{token}/")
    if r is None or r.status_code != 303:
        return f"error: link answered {r.status_code if r is not None else 'nothing'}", None, 0
    r = browser.call("picker", "GET", r.headers.get("Location", "/schedule/"))
    if r is None or r.status_code != 200:
        return f"error: picker answered {r.status_code if r is not None else 'nothing'}", None, 0
    page = r.text
    for attempt in range(attempts):
        starts = _starts(page)
        if not starts:
            return "no_time_left", None, attempt
        start = browser.rng.choice(starts)
        r = browser.call("confirm_page", "GET", "/schedule/confirm", params={"start": start})
        csrf = _CSRF.search(r.text) if r is not None and r.status_code == 200 else None
        if csrf is None:
            return f"error: confirmation page answered {r.status_code if r is not None else 'nothing'}", None, attempt
        r = browser.call("confirm_post", "POST", "/schedule/confirm",
                         data={"start": start, "csrfmiddlewaretoken": csrf.group(1)},
                         headers={"Origin": "null", "Sec-Fetch-Site": "same-origin",
                                  "Content-Type": "application/x-www-form-urlencoded"})
        if r is None:
            return "error: confirm answered nothing", None, attempt
        if r.status_code in (302, 303) and r.headers.get("Location", "").endswith("/schedule/booked"):
            when = time.time()
            browser.call("booked", "GET", r.headers["Location"])
            return "booked", when, attempt
        if r.status_code == 200 and any(t in r.text for t in TAKEN):
            page = r.text
            continue
        if r.status_code == 200 and RETRY in r.text:
            return "retry_later", None, attempt
        return f"error: confirm answered {r.status_code}", None, attempt
    return "gave_up", None, attempts - 1


def book_all(base: str, tokens: list[str], *, clients: int, attempts: int, deadline: float, seed: int,
             on_progress: Callable[[int, int], None] = lambda done, total: None) -> BookingRun:
    """Each token's candidate books once (see the module docstring), `clients` at a time, none starting after
    `deadline` (time.monotonic)."""
    run = BookingRun(started=time.time())
    lock = threading.Lock()
    finished = [0]

    def one(n: int) -> None:
        if time.monotonic() >= deadline:
            outcome, when, retries = "not_started", None, 0
        else:
            ip = f"10.{(n + 1) >> 16 & 255}.{(n + 1) >> 8 & 255}.{(n + 1) & 255}"
            browser = _Browser(base, ip, random.Random(f"{seed}:{n}"), run.hits, lock)
            try:
                outcome, when, retries = _book_one(browser, tokens[n], attempts)
            finally:
                browser.close()
        with lock:
            run.outcomes[outcome] = run.outcomes.get(outcome, 0) + 1
            run.retries += retries
            if when is not None:
                run.booked_at.append(when)
            finished[0] += 1
            count = finished[0]
        on_progress(count, len(tokens))

    with concurrent.futures.ThreadPoolExecutor(max_workers=clients, thread_name_prefix="candidate") as pool:
        list(pool.map(one, range(len(tokens))))
    return run
