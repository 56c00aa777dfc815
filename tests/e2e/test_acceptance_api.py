"""Issue 11's acceptance scenario at the API/HTTP level, on the running stack (tests/e2e/scenario.py tells the
story): once per (calendar, ATS) run below, with no browser. Staff act through the admin's and the dashboard's own
forms over HTTP, the candidate through the portal's, integrators read `/api/v1/`, and each ATS's write-back is
checked against its row of the write-back matrix (integrations/ats/matrix.py) in the fake's `/_fake/state` and
`/_fake/requests`. The iCIMS run has its Data Streaming component down throughout: everything works through the
other components, and that component alone is shown failing.

A run is one entry of RUNS; a provider whose adapter or fake is not there yet is skipped, not failed. With
LOOPWISE_BROWSER_MATRIX=1 (`manage.py bench_morning --browser-matrix`: the full browser matrix, not in the suite),
every run is collected once more with the candidate in Debian's chromium (tests/e2e/portal_browser.py): her browser's
zone is detected, she picks and confirms on the pages, and every other step and check is the same."""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import os
import re

import pytest

from tests.e2e.portal_browser import BrowserCandidate, page_maker
from tests.e2e.scenario import (
    BOB,
    COORDINATOR,
    COORDINATOR_EMAIL,
    OFFER,
    ONSITE,
    ORGANISER,
    RECRUITER,
    REMINDER_HOURS,
    ROOM,
    Candidate,
    Scenario,
    Staff,
    local_label,
    messages,
    section,
    text_of,
)

pytestmark = [pytest.mark.slow]


def _have(provider: str) -> bool:
    return all(importlib.util.find_spec(m) is not None
               for m in (f"integrations.ats.{provider}", f"integrations.fakes.{provider}"))


PAIRS = [
    ("microsoft", "greenhouse", "microsoft+greenhouse", []),
    ("google", "lever", "google+lever", []),
    ("google", "icims", "google+icims-datastream-down", []),
    ("google", "jobvite", "google+jobvite",
     [pytest.mark.skipif(not _have("jobvite"), reason="no Jobvite adapter or fake yet")]),
]
BROWSER_MATRIX = os.environ.get("LOOPWISE_BROWSER_MATRIX") == "1"
RUNS = [pytest.param(calendar, ats, "http", id=name, marks=marks) for calendar, ats, name, marks in PAIRS]
if BROWSER_MATRIX:
    RUNS += [pytest.param(calendar, ats, "browser", id=f"{name}-browser", marks=[*marks, pytest.mark.browser])
             for calendar, ats, name, marks in PAIRS]
ZONE = "Asia/Kolkata"


@pytest.fixture
def open_page(request):
    """`open_page(zone=...)`: a page in Chromium, which the first browser run that asks starts (never an HTTP run);
    the test's pages are closed when it ends."""
    with contextlib.ExitStack() as exits:
        made: list = []

        def make(*, zone: str):
            if not made:
                made.append(exits.enter_context(page_maker(request.getfixturevalue("browser"))))
            return made[0](zone=zone)
        yield make


@pytest.mark.parametrize(("calendar", "ats", "via"), RUNS)
def test_the_scenario_runs_end_to_end_over_http(stack, open_page, calendar, ats, via):
    s = Scenario.on(stack, calendar=calendar, ats=ats)
    if s.ats.broken:
        s.ats.fake.add_fault(kind="component_down", target=s.ats.broken)
    s.seed(connected=True)
    riley = Staff(stack.url, RECRUITER)

    # 1. Both connections pass their test (all but the broken part); "Onsite" is mapped to each plan.
    [(level, text)] = riley.action("/admin/integrations/atsconnection/", "test_connection", s.ids["ats"])
    if s.ats.broken:
        assert (level, text.split(". ")[0]) == ("error", f"{s.ats.name}: {s.ats.broken} failing"), text
    else:
        assert (level, text.split(". ")[0]) == ("success", f"{s.ats.name}: all checked parts work"), text
    [(level, text)] = riley.action("/admin/integrations/calendarconnection/", "test_connection", s.ids["calendar"])
    assert level == "success" and "the connection works" in text, text
    assert stack.sql("SELECT s.name, n.name FROM scheduling_interviewplan p JOIN scheduling_atsstage s ON "
                     "s.id = p.stage_id JOIN scheduling_atsstage n ON n.id = p.next_stage_id") == [(ONSITE, OFFER)] * 2
    if s.ats.broken:
        # The hourly connection check, run twice more as the scheduler would when due: a part that fails three
        # checks in a row is red (integrations/ats/health.py RED_AFTER); its count does not depend on the time.
        for _ in range(2):
            stack.run_task("integrations.tasks.check_connections")

    # 2. Zoë moves to Onsite in the ATS: its signed webhook is accepted and a request with options appears.
    assert s.ats.move("zoe") == [200]
    request = s.wait_for_request("zoe", "awaiting_candidate")
    assert request["plan"]["id"] == s.ids["plans"]["backend"] and request["option_count"] > 0

    # 3. Her email arrives; she opens the link, shows the times in her own zone, picks one and confirms.
    [mail] = s.wait_for_mail("zoe@example.com")
    if via == "browser":
        page = open_page(zone=ZONE)
        zoe = BrowserCandidate(page, s.link_in(mail))
        assert "IST" in zoe.zone_shown()  # her browser's zone, detected and remembered on the request
    else:
        zoe, page = Candidate(s.link_in(mail)), None
        zoe.set_zone(ZONE)
    assert stack.sql("SELECT candidate_timezone FROM scheduling_schedulingrequest WHERE id = %s",
                     (request["id"],)) == [(ZONE,)]
    times = zoe.times()
    assert times and all(label == local_label(start, ZONE) for start, label in times), times[:5]
    start, label = times[len(times) // 2]
    booked = text_of(zoe.book(start))
    assert "Your interview is booked" in booked and label in booked, booked
    if page is not None:
        assert page.errors == []

    # 4. Booked; every interviewer and the room hold the events with the video link; the ATS holds its write-back
    #    matrix row (one note, one stage move), written once; the dashboard is quiet.
    request = s.wait_for_request("zoe", "booked")
    interview = s.interview(request["id"])
    assert _instant(interview["start"]) == _instant(start)
    events = s.wait_for_events(interview)
    assert BOB in events and ROOM in events and len(events[ORGANISER]) == 2, events
    assert len({e["video"] for found in events.values() for e in found}) == 1, events
    state = s.wait_for_writeback("zoe")
    app = s.ats.apps["zoe"]
    [note] = s.ats.notes(state, app)
    assert "[loopwise:" in note and "System design" in note and "Bob Brown" in note, note
    assert s.ats.stage_name(state, app) == OFFER
    stack.wait_idle()
    expected, made = s.writeback_counts("zoe")
    assert made == expected, (made, expected)
    failing = ["Connections, calendars and ATS parts failing: 1"] if s.ats.broken else []
    page = s.wait_for_dashboard(riley, loud=failing)
    if s.ats.broken:
        [conn] = s.health()["ats_connections"]
        bad = {c["component"]: c["health"] for c in conn["components"] if c["health"] not in ("ok", "unknown")}
        assert bad == {s.ats.broken: "red"} and conn["health"] == "ok", conn
        row = text_of(section(page, "health"))
        assert re.search(rf"{s.ats.name}\s*:\s*{s.ats.broken}[\s✕]*Broken: needs action", row), row

    # 5. Bob's grant is revoked; after one refresh cycle his connection is red, named, on the dashboard, in the
    #    admin and in the API, and the next candidate's "why no slots?" names him.
    s.calendar.revoke_bob()
    s.one_refresh_cycle()
    health = {c["id"]: c for c in s.health()["calendar_connections"]}
    assert health[s.ids["bob_connection"]]["health"] == "red", health
    assert health[s.ids["calendar"]]["health"] == "ok", health
    row = text_of(section(riley.get("/dashboard/"), "health"))
    assert f"Calendar connection {BOB} ({calendar})" in row and "Bob Brown" in row, row
    listing = riley.get("/admin/integrations/calendarconnection/")
    bob_row = next(r for r in listing.split("<tr") if f"{BOB} ({calendar})" in r)
    assert "Broken: needs action" in text_of(bob_row) and "Bob Brown" in text_of(bob_row), text_of(bob_row)
    assert s.ats.move("ada") == [200]
    ada = s.wait_for_request("ada", "needs_attention")
    card = text_of(section(riley.get("/dashboard/"), "failures"))
    assert f"Request #{ada['id']}" in card and "Why no slots?" in card and "Bob Brown" in card, card

    # 6. Olu (SRE, without Bob) does not pick: the reminder goes out on time, not before; near the link's expiry
    #    the coordinator is told, and extends the link from the dashboard.
    assert s.ats.move("olu") == [200]
    olu = s.wait_for_request("olu", "awaiting_candidate")
    s.wait_for_mail("olu@example.com")
    first_link, expires = s.active_link(olu["id"])
    sent = _instant(olu["link_sent_at"])
    stack.set_clock(sent + dt.timedelta(hours=REMINDER_HOURS, minutes=-10))
    assert stack.run_task("scheduling.tasks.send_reminders").startswith("reminders: 0 queued")
    stack.wait_idle()
    assert len(s.mail_to("olu@example.com")) == 1, "a reminder went out early"
    stack.set_clock(sent + dt.timedelta(hours=REMINDER_HOURS, minutes=10))
    stack.run_task("scheduling.tasks.send_reminders")  # (the real-time cron may have claimed it first: once either way)
    link_mail, reminder = s.wait_for_mail("olu@example.com", 2)
    assert s.link_in(reminder) != s.link_in(link_mail), "the reminder carries a new link (only hashes are kept)"
    # The email goes out inside the transaction that replaces the link: wait for its commit.
    link_id, _ = stack.wait_until(lambda: (lambda a: a if a[0] != first_link else None)(s.active_link(olu["id"])),
                                  message="the reminder's new link")
    assert s.active_link(olu["id"]) == (link_id, expires), "the new link keeps the expiry"
    stack.set_clock(expires - dt.timedelta(hours=20))
    stack.run_task("scheduling.tasks.escalate_expiring_links")
    [told] = s.wait_for_mail(COORDINATOR_EMAIL, subject="expires in")
    assert told["subject"].startswith(f"Request #{olu['id']}: the candidate's link expires in 19 h"), told["subject"]
    casey = Staff(stack.url, COORDINATOR)
    assert f'id="link-{link_id}"' in section(casey.get("/dashboard/"), "links")
    page = casey.post_form(f"/dashboard/links/{link_id}/extend/", {"hours": "48", "next": "/dashboard/"},
                           form_page="/dashboard/")
    [(level, text)] = [m for m in messages(page) if "link" in m[1]]
    assert level == "success" and text.startswith(f"Request #{olu['id']}: the link now works until"), text
    assert s.active_link(olu["id"]) == (link_id, expires + dt.timedelta(hours=48))
    assert f'id="link-{link_id}"' not in section(page, "links")


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
