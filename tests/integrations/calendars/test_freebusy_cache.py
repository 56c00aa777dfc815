"""The free/busy cache through the real Google adapter and fake: blocks stored in UTC, health per calendar and per
connection, the coordinator told once, and the solver naming who is missing instead of letting them look busy."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from integrations.calendars.base import Window
from integrations.calendars.freebusy import freebusy_refresh, stale_calendars
from integrations.models import Calendar, Health
from scheduling.engine import solve
from scheduling.models import FreeBusyBlock, Notice
from scheduling.problem_builder import problem_build

NOW = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)  # a Tuesday
WINDOW = Window(NOW, NOW + dt.timedelta(days=7))


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def busy(fake, email, *pairs):
    fake.seed({"busy": {email: [[a.isoformat(), b.isoformat()] for a, b in pairs]}})


def test_it_stores_merged_busy_blocks_in_utc_and_marks_calendars_fresh(workspace):
    alice = workspace.interviewers[0]
    busy(workspace.fake, alice.email, (NOW + dt.timedelta(hours=2), NOW + dt.timedelta(hours=3)),
         (NOW + dt.timedelta(hours=2, minutes=30), NOW + dt.timedelta(hours=4)))
    report = freebusy_refresh(window=WINDOW)
    assert report.refreshed == 4 and not report.failed
    blocks = list(FreeBusyBlock.objects.filter(calendar=alice.calendar).values_list("start", "end"))
    assert blocks == [(NOW + dt.timedelta(hours=2), NOW + dt.timedelta(hours=4))]
    assert stale_calendars(NOW) == []
    alice.calendar.refresh_from_db()
    assert alice.calendar.health == Health.OK and alice.calendar.busy_fetched_at == NOW


def test_it_replaces_blocks_that_were_cancelled_since_the_last_read(workspace):
    alice = workspace.interviewers[0]
    busy(workspace.fake, alice.email, (NOW + dt.timedelta(hours=2), NOW + dt.timedelta(hours=3)))
    freebusy_refresh(window=WINDOW)
    workspace.fake.reset()
    workspace.fake.seed({"users": [{"email": i.email} for i in workspace.interviewers]
                         + [{"email": "interviews@acme.test"}], "rooms": [{"email": "room-thames@acme.test"}],
                         "service_accounts": [{"client_email": "loopwise@acme-project.iam.gserviceaccount.com"}]})
    freebusy_refresh(calendars=[alice.calendar], window=WINDOW)
    assert not FreeBusyBlock.objects.filter(calendar=alice.calendar).exists()


def test_one_deleted_user_under_delegation_turns_only_that_calendar_red(workspace, mail_fake):
    alice, bob, carol = workspace.interviewers
    workspace.fake.seed({"users": [{"email": bob.email, "deleted": True}]})
    report = freebusy_refresh(window=WINDOW)
    assert report.failed == [bob.calendar.pk] and report.refreshed == 3
    healths = dict(Calendar.objects.values_list("external_id", "health"))
    assert healths[bob.email] == Health.RED
    assert healths[alice.email] == healths[carol.email] == Health.OK
    workspace.connection.refresh_from_db()
    assert workspace.connection.health == Health.OK
    out = solve(problem_build(plan=workspace.plan, now=NOW).problem)
    assert out["options"], "everyone else still gets slots"
    assert [r for d in out["diagnostics"] if d["code"] == "calendar_unknown" for r in d["resources"]] == [f"i{bob.pk}"]
    [msg] = mail_fake.state()["messages"]
    assert msg["to"] == ["casey@acme.test"] and "Bob Example" in msg["subject"]


def test_a_revoked_grant_turns_the_connection_red_tells_the_coordinator_once_and_the_solver_names_everyone(
        workspace, mail_fake):
    freebusy_refresh(window=WINDOW)
    workspace.fake.add_fault(kind="bad_credentials", target="loopwise@acme-project.iam.gserviceaccount.com")
    with time_machine.travel(NOW + dt.timedelta(minutes=20), tick=False):
        report = freebusy_refresh()
        assert report.connections_failed == [workspace.connection.pk]
        freebusy_refresh()  # the next cycle fails again, but nobody is told twice
        workspace.connection.refresh_from_db()
        assert workspace.connection.health == Health.RED
        assert "unauthorized_client" in workspace.connection.last_error
        out = solve(problem_build(plan=workspace.plan, now=NOW + dt.timedelta(minutes=20)).problem)
    assert out["options"] == []
    named = sorted(r for d in out["diagnostics"] if d["code"] == "calendar_unknown" for r in d["resources"])
    assert named == sorted(f"i{i.pk}" for i in workspace.interviewers)
    assert len(mail_fake.state()["messages"]) == 1
    assert Notice.objects.filter(kind="calendar.red").count() == 1


def test_throttling_and_outages_are_retried_and_turn_nothing_red(workspace):
    workspace.fake.add_fault(kind="throttle", target="/calendar/v3/freeBusy", count=2, retry_after=1)
    workspace.fake.add_fault(kind="error", status=503, target="/calendar/v3/freeBusy", count=1)
    report = freebusy_refresh(window=WINDOW)
    assert report.refreshed == 4 and not report.connections_failed
    assert set(Calendar.objects.values_list("health", flat=True)) == {Health.OK}


def test_an_outage_that_lasts_turns_the_connection_amber_then_red(workspace, mail_fake):
    workspace.fake.add_fault(kind="error", status=503, target="/calendar/v3/freeBusy")
    freebusy_refresh(window=WINDOW)
    workspace.connection.refresh_from_db()
    assert workspace.connection.health == Health.DEGRADED and mail_fake.state()["messages"] == []
    freebusy_refresh(window=WINDOW)
    freebusy_refresh(window=WINDOW)
    workspace.connection.refresh_from_db()
    assert workspace.connection.health == Health.RED and len(mail_fake.state()["messages"]) == 1


def test_it_reads_rooms_like_people(workspace):
    room_cal = workspace.room.calendar
    busy(workspace.fake, room_cal.external_id, (NOW + dt.timedelta(hours=1), NOW + dt.timedelta(hours=2)))
    freebusy_refresh(window=WINDOW)
    assert FreeBusyBlock.objects.filter(calendar=room_cal).count() == 1


def test_a_revoked_user_grant_turns_that_connection_red_tells_once_and_the_solver_names_the_interviewer(
        workspace, mail_fake):
    from integrations.models import CalendarConnection

    alice, bob, _ = workspace.interviewers
    workspace.fake.seed({"oauth_clients": [{"client_id": "lw", "client_secret": "s"}],
                         "refresh_tokens": [{"token": "rt-bob", "client_id": "lw", "user": bob.email}]})
    own = CalendarConnection.objects.create(
        name="bob (google)", provider="google", auth_mode="user_oauth", base_url=workspace.fake.url,
        token_url=workspace.fake.url + "/token", account_email=bob.email, organiser_calendar=bob.email,
        credentials={"client_id": "lw", "client_secret": "s", "refresh_token": "rt-bob"})
    Calendar.objects.filter(pk=bob.calendar_id).update(connection=own)
    freebusy_refresh(window=WINDOW)
    own.refresh_from_db()
    assert own.health == Health.OK
    workspace.fake.add_fault(kind="revoke", target=bob.email)
    with time_machine.travel(NOW + dt.timedelta(minutes=20), tick=False):
        freebusy_refresh()
        freebusy_refresh()
        out = solve(problem_build(plan=workspace.plan, now=NOW + dt.timedelta(minutes=20)).problem)
    own.refresh_from_db()
    workspace.connection.refresh_from_db()
    assert own.health == Health.RED and "invalid_grant" in own.last_error
    assert workspace.connection.health == Health.OK, "the organisation's own connection is untouched"
    assert out["options"], "everyone else still gets slots"
    assert [r for d in out["diagnostics"] if d["code"] == "calendar_unknown" for r in d["resources"]] == [f"i{bob.pk}"]
    [msg] = mail_fake.state()["messages"]
    assert msg["to"] == ["casey@acme.test"] and "bob (google)" in msg["subject"]
