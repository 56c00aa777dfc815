"""The scale benchmark (`manage.py bench_morning`, issue 11) at a tiny size, as a user runs it: the whole stack
starts, candidates are moved in Greenhouse and book through the portal, and the command prints its figures and the
counts that must be zero. Only that the figures are printed is checked, never their values (this machine is shared);
the counts that must be zero must be zero.

Without faults (--no-faults): the faults' own tests are tests/e2e/test_faults.py, and a killed worker's rows wait for
the sweep, which would make this smoke run minutes long. It runs on a database of its own beside DATABASE_URL's
(`<name>_morning_smoke`), created and dropped by the command.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e_bench_morning")]

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ("requests created:", "stage change -> link:", "link emails:", "portal (client side):", "bookings:",
           "calendar writes:", "ATS writes:", "must be zero:", "where the time went:")
ZERO_LINE = re.compile(r"^  (?P<label>[^:]+):\s+(?P<value>\d+)")


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip("the benchmark runs on PostgreSQL: set DATABASE_URL to a postgres:// URL")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=2).ping()
    except redis.RedisError:
        pytest.skip("the benchmark's stack needs Redis on 127.0.0.1:6379")
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{parts.path.lstrip('/') or 'loopwise'}_morning_smoke"[:64]))


def _zero_counts(output: str) -> dict[str, int]:
    lines = output.split("must be zero:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    counts = {}
    for line in lines:
        m = ZERO_LINE.match(line)
        assert m, f"not a count: {line!r}"
        counts[m["label"]] = int(m["value"])
    return counts


def test_it_prints_the_figures_and_every_must_be_zero_count_is_zero():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        [sys.executable, "manage.py", "bench_morning", "--interviewers", "20", "--candidates", "12", "--bookers", "6",
         "--clients", "3", "--senders", "4", "--no-faults", "--timeout", "200",
         "--database-url", _database_url()],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=280, stdin=subprocess.DEVNULL)
    output = done.stdout
    assert done.returncode == 0, f"{output[-4000:]}\n{done.stderr[-4000:]}"
    assert "TIMED OUT" not in output
    for figure in FIGURES:
        assert f"\n{figure}" in output, f"{figure!r} is not printed:\n{output[-4000:]}"
    counts = _zero_counts(output)
    for wanted in ("duplicate requests", "double-booked interviewers or rooms (database)", "events written twice",
                   "outbox items lost (not done after the run)"):
        assert wanted in counts
    assert counts == {label: 0 for label in counts}
