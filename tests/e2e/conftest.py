"""The running stack the end-to-end tests drive (issue 11): scheduling/devstack.py's `Stack`, started once per test
session in each pytest-xdist worker that runs one of these tests, on a database of its own and a Redis index of its
own, and emptied before each test.

`live_stack` is session-scoped: gunicorn (2 workers), two qcluster processes and every provider fake, on
`<DATABASE_URL's name>_e2e_<xdist worker>` (created fresh and migrated, dropped at the end). Under `make test`'s
`-n 2`, each worker that gets one of these tests starts a stack of its own, with its own database and Redis index
(about ten seconds of start-up each on a quiet machine). `stack` is the same stack, reset for the test: every
fake emptied, every data table truncated, Redis flushed, the clock back to the real time.

The stack's PostgreSQL server is the one DATABASE_URL names (the tests' own server); without PostgreSQL these
tests are skipped, since the stack is what a user runs and that is PostgreSQL and Redis.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from scheduling.devstack import Stack, StackError, database_create, database_drop
from tests.e2e.portal_browser import chromium


def _stack_database_url(worker_id: str) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip("the end-to-end stack runs on PostgreSQL: set DATABASE_URL to a postgres:// URL")
    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'loopwise'}_e2e_{worker_id}"[:63]
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def live_stack(request):
    """The whole of Loopwise running on loopback (see the module docstring); stopped at the end of the session."""
    worker_id = getattr(request.config, "workerinput", {}).get("workerid", "master")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=2).ping()
    except redis.RedisError:
        pytest.skip("the end-to-end stack needs Redis on 127.0.0.1:6379")
    url = database_create(_stack_database_url(worker_id))
    stack = Stack(database_url=url, workers=2, web_workers=2)
    try:
        stack.migrate()
        stack.start()
    except StackError:
        stack.stop()
        database_drop(url)
        raise
    yield stack
    stack.stop()
    database_drop(url)


@pytest.fixture
def stack(live_stack):
    """The session's stack, emptied for this test."""
    live_stack.reset()
    return live_stack


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium through Playwright, one per test module that asks for it."""
    with chromium() as browser:
        yield browser
