"""The stack launcher itself (scheduling/devstack.py), which the end-to-end tests, the scale benchmark and the fault
tests share: a killed qcluster takes every process it forked with it and comes back; a task put on the queue runs
(or says why it failed); stopping leaves no process behind; bad input is refused by name."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from scheduling.devstack import Stack, StackError, database_create

pytestmark = [pytest.mark.slow]


def group_members(pgid: int) -> list[int]:
    """Every live process whose process group is `pgid` (from /proc; zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


def test_it_kills_a_worker_with_everything_it_forked_and_starts_it_again(stack):
    worker = stack.workers[1]
    assert len(group_members(worker.pgid)) >= 2  # qcluster and what it forked (sentinel, workers, monitor, pusher)

    stack.kill_worker(1)

    assert group_members(worker.pgid) == []
    assert not stack.worker_alive(1)
    assert stack.run_task("scheduling.tasks.sweep_work").startswith("outbox: 0 queued")  # the other one works
    stack.restart_worker(1)
    assert stack.worker_alive(1) and len(group_members(stack.workers[1].pgid)) >= 2
    assert stack.run_task("scheduling.tasks.sweep_work").startswith("outbox: 0 queued")


def test_it_reports_a_failed_task_with_the_workers_error(stack):
    with pytest.raises(StackError, match="the task scheduling.tasks.no_such_task failed"):
        stack.run_task("scheduling.tasks.no_such_task")


def test_it_moves_time_for_the_web_server_and_the_workers(stack):
    later = dt.datetime(2031, 3, 3, 9, 0, tzinfo=dt.UTC)
    stack.set_clock(later)

    assert abs(stack.run_task("scheduling.clock.now") - later) < dt.timedelta(minutes=1)
    assert stack.call("scheduling.clock.now").startswith("2031-03-03 09:0")
    stack.clear_clock()
    assert stack.call("scheduling.clock.now").startswith(str(dt.datetime.now(dt.UTC).year))


def test_it_stops_without_leaving_a_process_behind(live_stack):
    small = Stack(database_url=live_stack.database_url, workers=1, web_workers=1, fakes=("mail",))
    small.start()
    groups = [p.pgid for p in (*small.workers, small.web, *small._fake_procs.values())]
    assert all(group_members(g) for g in groups)
    workdir = small.workdir

    small.stop()

    assert [g for g in groups if group_members(g)] == []
    assert not workdir.exists()
    small.stop()  # twice is fine


def test_it_refuses_a_database_name_it_would_have_to_quote():
    with pytest.raises(StackError, match="database_url: the database name must be lower-case"):
        database_create('postgres://postgres@127.0.0.1:5432/Loopwise"x')
    with pytest.raises(StackError, match="database_url: not a PostgreSQL URL"):
        database_create("postgres://postgres@127.0.0.1:5432/loopwise; DROP")


def test_it_refuses_an_unknown_fake():
    with pytest.raises(StackError, match="fakes: no fake named nope"):
        Stack(database_url="postgres://postgres@127.0.0.1:5432/x", fakes=("mail", "nope"))
