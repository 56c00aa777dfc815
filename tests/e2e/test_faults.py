"""Issue 11's faults, each through the whole flow on a running stack: a Greenhouse stage change sends its signed
webhook to Loopwise, a request with options emails the candidate a link, the candidate books on the portal over
HTTP, and the outbox writes the events to the Google fake and the note and stage move back to Greenhouse. After each
fault, `scheduling.faults.ledger` reads the fakes' `/_fake/state` and the database and finds nothing lost and nothing
done twice; the fakes' `/_fake/requests` show that the fault was really met.

The module runs on one stack of its own (web server, two qcluster workers, every fake) on a PostgreSQL cluster of
its own (initdb and pg_ctl in a temporary directory, on a free port: never the machine's shared server), so that the
database can be restarted mid-flow; the stack is emptied before each test. Under pytest-xdist each worker that runs
these tests makes its own cluster and claims its own Redis index (`xdist_group` keeps them on one worker under
`--dist loadgroup`).

Randomness (which worker dies, and when) comes from one seed, printed by the test and taken from `FAULTS_SEED`
when set, so that a failure can be replayed.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from scheduling import faults
from scheduling.devstack import Stack, StackError, database_create
from tests.e2e.faults_world import EVENTS_PATH as CALENDAR_WRITES
from tests.e2e.faults_world import EVENTS_PER_BOOKING, ONSITE, ORGANISER, World, app_id

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e_faults")]

EVENTS_PATH = CALENDAR_WRITES["google"]  # where every booking's events are created, on the Google fake


# ---------------------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def cluster():
    """A PostgreSQL cluster of the module's own; stopped and removed at the end, always."""
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=2).ping()
    except redis.RedisError:
        pytest.skip("the fault tests' stack needs Redis on 127.0.0.1:6379")
    try:
        pg = faults.PrivatePostgres().start()
    except StackError as e:
        pytest.skip(f"no private PostgreSQL cluster could be made here: {e}")
    yield pg
    pg.stop()


@pytest.fixture(scope="module")
def live(cluster):
    """The stack on the private cluster, migrated and running (the portal trusts one proxy hop, so that candidates
    can come from addresses of their own)."""
    url = database_create(cluster.url("loopwise_faults"))
    stack = Stack(database_url=url, workers=2, web_workers=2, env={"PORTAL_TRUSTED_PROXIES": "1"})
    try:
        stack.migrate()
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def stack(live):
    """The module's stack, emptied, with every worker running (a test that failed halfway may have left one dead)."""
    live.reset()
    for i in range(len(live.workers)):
        if not live.worker_alive(i):
            live.restart_worker(i)
    return live


@pytest.fixture
def rng():
    seed = int(os.environ.get("FAULTS_SEED") or random.SystemRandom().randrange(1 << 32))
    print(f"FAULTS_SEED={seed}")
    return random.Random(seed)


# ---------------------------------------------------------------------------------------------------------------
# Helpers


def book_all(world: World, ns: list[int]) -> dict[int, str]:
    """Candidates `ns` book at the same moment, each a different time (spread over what is on offer)."""
    with ThreadPoolExecutor(max_workers=len(ns)) as pool:
        starts = dict(zip(ns, pool.map(lambda n: world.book(n, pick=5 + 9 * n), ns), strict=True))
    return starts


def assert_clean(stack: Stack, *, bookings: int, stage_changes: int, calendar: str = "google") -> faults.Ledger:
    """Settle, then nothing lost and nothing twice, with the bookings and stage changes the test made."""
    faults.settle(stack)
    led = faults.ledger(stack, calendar=calendar, stage=ONSITE)
    print(led)
    assert led.problems() == {}, str(led)
    assert (led.stage_changes, led.requests, led.bookings) == (stage_changes, stage_changes, bookings), str(led)
    assert (led.events, led.notes, led.moves) == (EVENTS_PER_BOOKING * bookings, bookings, bookings), str(led)
    return led


def calls(fake, path: str, method: str | None = None) -> list[dict]:
    """The fake's logged requests whose (decoded) path starts with `path`."""
    return [r for r in fake.requests() if urllib.parse.unquote(r["path"]).startswith(path)
            and (method is None or r["method"] == method)]


# ---------------------------------------------------------------------------------------------------------------
# 1. PostgreSQL restarted once mid-flow


def test_it_recovers_by_itself_when_postgresql_restarts_mid_flow(stack, cluster):
    world = World.on(stack, candidates=4)
    for n in (0, 1):
        world.move(n)
    world.wait_awaiting([0, 1])
    book_all(world, [0, 1])

    # The bookings' calendar and ATS writes and two stage changes' webhooks are in the workers' hands when the
    # database restarts under every process's kept connections.
    for n in (2, 3):
        world.move(n)
    held = stack.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                     "AND pid <> pg_backend_pid()")[0][0]
    busy = faults.unfinished(stack)
    cluster.restart()
    assert held > 0 and busy, (held, busy)

    # The web server answers at once, from every process: none hands out a connection the restart killed.
    assert [world.sessions[0].status("/schedule/booked") for _ in range(8)] == [200] * 8
    # The workers carry on: what failed under them is taken up again (by the sweep, as its schedule would), the
    # stage changes get their requests, new candidates book, the outbox finishes.
    faults.settle(stack)
    world.wait_awaiting([2, 3])
    book_all(world, [2, 3])
    assert_clean(stack, bookings=4, stage_changes=4)
    assert cluster.restarts == 1
    assert all(stack.worker_alive(i) for i in range(2)) and stack.web is not None and stack.web.alive()


# ---------------------------------------------------------------------------------------------------------------
# 2. A worker killed at random, then restarted


def test_it_loses_nothing_and_does_nothing_twice_when_a_worker_is_killed_at_random(stack, rng):
    world = World.on(stack, candidates=4)
    # Slow providers (0.3 s an answer) keep each task running long enough for a random moment to fall inside one.
    world.greenhouse.add_fault(kind="slow", target="/v3/", delay_ms=300)
    with faults.random_worker_kill(stack, rng=rng, within=1.0) as first:
        for n in range(4):
            world.move(n)
    faults.settle(stack)
    world.wait_awaiting(list(range(4)))
    world.calendar.add_fault(kind="slow", target=EVENTS_PATH, delay_ms=300)
    with faults.random_worker_kill(stack, rng=rng, within=3.0) as second:
        book_all(world, list(range(4)))
    print(f"killed qcluster {first.index} after {first.after:.2f} s ({first.running} rows running), "
          f"then qcluster {second.index} after {second.after:.2f} s ({second.running} rows running)")

    assert_clean(stack, bookings=4, stage_changes=4)


def test_it_writes_once_when_a_worker_dies_after_the_provider_applied_its_write(stack):
    """The worst moment to die: Google has created the event and Greenhouse has moved the application, but the
    answers never reach the worker, which is killed while it waits. The sweep hands both items to a new worker."""
    world = World.on(stack, candidates=1)
    world.move(0)
    world.wait_awaiting([0])
    stack.kill_worker(1)  # one qcluster left: the one that will hang, and be killed
    stack.fake("google").add_fault(kind="timeout", target=EVENTS_PATH, count=1, delay_ms=120_000)
    stack.fake("greenhouse").add_fault(kind="timeout", target=f"/v3/applications/{app_id(0)}/move", count=1,
                                       delay_ms=120_000)
    world.book(0, pick=5)

    def applied() -> bool:
        google = calls(stack.fake("google"), EVENTS_PATH, "POST")
        moves = [m for m in stack.fake("greenhouse").state()["moves"] if m["source"] == "api"]
        return bool(google) and bool(moves)
    stack.wait_until(applied, timeout=60, message="the event created and the application moved (answers held)")
    running = stack.sql("SELECT kind FROM scheduling_outboxitem WHERE state = 'running' ORDER BY kind")
    assert running == [("ats.move_stage",), ("calendar.write_interview",)]
    stack.kill_worker(0)
    stack.restart_worker(0)
    stack.restart_worker(1)

    assert_clean(stack, bookings=1, stage_changes=1)
    assert len(calls(stack.fake("google"), EVENTS_PATH, "POST")) >= 3  # the applied insert, its retry, session two


# ---------------------------------------------------------------------------------------------------------------
# 3. 5xx and 429 for the next N requests, on the calendar write and on the ATS write-back


def test_it_retries_5xx_and_429_with_backoff_and_writes_everything_once(stack):
    world = World.on(stack, candidates=2)
    for n in (0, 1):
        world.move(n)
    world.wait_awaiting([0, 1])
    n = 3
    faults.outage(stack.fake("google"), target=EVENTS_PATH, count=n)
    faults.outage(stack.fake("greenhouse"), target="/v3/notes", count=n)
    faults.outage(stack.fake("greenhouse"), target=f"/v3/applications/{app_id(1)}/move", count=n)
    book_all(world, [0, 1])

    assert_clean(stack, bookings=2, stage_changes=2)
    for fake, path in (("google", EVENTS_PATH), ("greenhouse", "/v3/notes"),
                       ("greenhouse", f"/v3/applications/{app_id(1)}/move")):
        statuses = [r["status"] for r in calls(stack.fake(fake), path)]
        assert statuses.count(503) == n and statuses.count(429) == n, (fake, path, statuses)
        assert statuses[-1] in (200, 201, 204), (fake, path, statuses)
    # Six failures in a row outlast one write's own retries (four tries): the outbox took it up again later.
    retried = stack.sql("SELECT kind FROM scheduling_outboxitem WHERE attempts > 1 ORDER BY kind")
    assert ("calendar.write_interview",) in retried and ("ats.add_note",) in retried


# ---------------------------------------------------------------------------------------------------------------
# 4. A webhook replayed ten times, some at once


def test_it_makes_one_request_of_a_webhook_replayed_ten_times(stack):
    world = World.on(stack, candidates=1)
    delivery = world.move(0)
    assert delivery["status"] == 200
    statuses = faults.replay(stack.fake("greenhouse"), delivery=delivery["n"], times=10, at_once=6)
    assert statuses == [200] * 10
    sent = [d for d in stack.fake("greenhouse").state()["deliveries"] if d["event_id"] == delivery["event_id"]]
    assert len(sent) == 11

    world.wait_awaiting([0])
    faults.settle(stack)
    assert stack.sql("SELECT count(*) FROM scheduling_inboundevent WHERE event_key = %s",
                     (f"gh:{delivery['event_id']}",)) == [(1,)]
    assert len(world.requests_of(0)) == 1
    world.book(0, pick=5)
    assert_clean(stack, bookings=1, stage_changes=1)
    links = [m for m in world.mail_to(0) if "/s/" in (m.get("text") or "")]
    assert len(links) == 1


# ---------------------------------------------------------------------------------------------------------------
# 5. A calendar write that times out after the provider applied it


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_it_writes_one_event_when_the_calendar_write_times_out_after_the_provider_applied_it(stack, provider):
    world = World.on(stack, candidates=1, calendar=provider)
    world.move(0)
    world.wait_awaiting([0])
    # The provider creates the event, then holds its answer longer than Loopwise waits (15 s).
    world.calendar.add_fault(kind="timeout", target=CALENDAR_WRITES[provider], count=1, delay_ms=40_000)
    world.book(0, pick=5)
    write = "SELECT state FROM scheduling_outboxitem WHERE kind = 'calendar.write_interview'"
    stack.wait_until(lambda: stack.sql(write) == [("done",)], timeout=90, message="the calendar write done")

    assert_clean(stack, bookings=1, stage_changes=1, calendar=provider)
    state = world.calendar.state()
    if provider == "google":
        organiser = [e["iCalUID"] for e in state["calendars"][ORGANISER]["events"]]
        mailbox = EVENTS_PATH
    else:
        organiser = [e["iCalUId"] for e in state["mailboxes"][ORGANISER]["events"]]
        mailbox = f"/v1.0/users/{ORGANISER}/"
    assert len(organiser) == len(set(organiser)) == 2  # two sessions, one event each, none cancelled or doubled
    creates = calls(world.calendar, CALENDAR_WRITES[provider], "POST")
    # The create the provider applied and answered too late; Loopwise's next call came only once it had given up
    # waiting, and settled on that event (Google: a look-up of our event id, or a duplicate id refused; Microsoft:
    # a look-up of our key before any create, the transactionId behind it).
    assert creates[0]["status"] in (200, 201), creates
    held = dt.datetime.fromisoformat(creates[0]["time"])
    later = [r for r in calls(world.calendar, mailbox) if dt.datetime.fromisoformat(r["time"]) > held]
    assert later and (dt.datetime.fromisoformat(later[0]["time"]) - held).total_seconds() >= 10, later
