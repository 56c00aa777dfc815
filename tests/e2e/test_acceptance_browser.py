"""Issue 11's acceptance scenario in Debian's chromium (Playwright), on the running stack, with Greenhouse and Google
(tests/e2e/scenario.py tells the story). People act in the browser: the recruiter connects Greenhouse and Google in
the admin, tests both connections, imports the jobs and maps "Onsite" of each requisition to its plan; the candidate
books from the emailed link in her own time zone; the recruiter watches the dashboard and the admin; the coordinator
extends a link from the dashboard. The machines act over HTTP: the Greenhouse fake sends its signed webhooks, the
Google fake revokes a grant, and time moves through the stack's clock file, with the due periodic task put on the
queue as the scheduler would (scheduling/devstack.py says why). Screenshots go to test-artifacts/ (gitignored)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.portal_browser import BrowserCandidate, page_maker
from tests.e2e.scenario import (
    BOB,
    COORDINATOR,
    COORDINATOR_EMAIL,
    JOBS,
    OFFER,
    ONSITE,
    ORGANISER,
    PASSWORD,
    RECRUITER,
    REMINDER_HOURS,
    ROOM,
    Scenario,
    local_label,
    service_account_key,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ZONE = "Asia/Kolkata"


@pytest.fixture
def open_page(browser):
    """A page in a fresh context (its own cookies: one person each); script errors are collected on `page.errors`."""
    with page_maker(browser) as make:
        yield make


def sign_in(page, base: str, username: str, then: str = "/admin/") -> None:
    page.goto(f"{base}/admin/login/?next={then}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{then}")


def run_action(page, base: str, changelist: str, pk: int, action: str) -> str:
    """Tick one row of a changelist, run `action` on it; the messages shown."""
    page.goto(f"{base}{changelist}")
    page.check(f"input[name=_selected_action][value='{pk}']")
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    return page.inner_text(".messagelist")


def autocomplete(page, field: str, search: str, choice: str) -> None:
    """Choose `choice` in the admin's autocomplete (select2) widget of `field`, typing `search`."""
    page.click(f"select[name={field}] + .select2 .select2-selection")
    page.fill(".select2-container--open .select2-search__field", search)
    page.locator(".select2-results__option", has_text=choice).click()
    expect(page.locator(f"#select2-id_{field}-container")).to_have_attribute("title", choice)


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"acceptance-{name}.png"), full_page=True)


def dashboard_tiles(page) -> list[str]:
    """The summary tiles that are not green, as "label: count"."""
    return [t.replace("\n", ": ") for t in page.locator("#summary .lw-tile:not(.lw-tile-ok)").all_inner_texts()]


def test_one_recruiting_team_lives_the_whole_flow_in_the_browser(stack, open_page):
    s = Scenario.on(stack, calendar="google", ats="greenhouse")
    ids = s.seed(connected=False)
    base, greenhouse, google = stack.url, s.ats.fake, s.calendar.fake

    # 1. The recruiter connects Greenhouse and Google in the admin, tests both, imports the jobs and maps "Onsite".
    riley = open_page()
    sign_in(riley, base, RECRUITER)
    riley.goto(f"{base}/admin/integrations/atsconnection/{ids['ats']}/change/")
    riley.fill("#id_base_url", greenhouse.url)
    riley.check("#id_active")
    riley.fill("#id_new_credentials", json.dumps(s.ats.credentials()))
    webhook_url = riley.locator(".field-webhook_url code").inner_text()
    assert webhook_url == s.webhook_url
    riley.click("input[name=_save]")
    expect(riley.locator(".messagelist")).to_contain_text("was changed successfully")
    greenhouse.call("POST", "/_fake/webhooks", {"url": webhook_url, "secret": s.ats.SECRET, "enabled": True})
    tested = run_action(riley, base, "/admin/integrations/atsconnection/", ids["ats"], "test_connection")
    assert tested.startswith("Acme Greenhouse: all checked parts work."), tested
    imported = run_action(riley, base, "/admin/integrations/atsconnection/", ids["ats"], "import_jobs")
    assert imported.startswith("Acme Greenhouse: 2 open jobs and 8 stages imported"), imported

    riley.goto(f"{base}/admin/integrations/calendarconnection/{ids['calendar']}/change/")
    riley.fill("#id_new_credentials", json.dumps({"service_account_info": service_account_key(google.url + "/token")}))
    riley.check("#id_active")
    riley.locator("summary", has_text="Endpoints").click()
    riley.fill("#id_base_url", google.url)
    riley.fill("#id_token_url", google.url + "/token")
    riley.click("input[name=_save]")
    expect(riley.locator(".messagelist")).to_contain_text("was changed successfully")
    tested = run_action(riley, base, "/admin/integrations/calendarconnection/", ids["calendar"], "test_connection")
    assert "Acme Workspace: the connection works" in tested, tested

    for key, plan in ids["plans"].items():
        riley.goto(f"{base}/admin/scheduling/interviewplan/{plan}/change/")
        autocomplete(riley, "stage", f"{ONSITE} {JOBS[key]}", f"{JOBS[key]}: {ONSITE}")
        autocomplete(riley, "next_stage", f"{OFFER} {JOBS[key]}", f"{JOBS[key]}: {OFFER}")
        riley.click("input[name=_save]")
        expect(riley.locator(".messagelist")).to_contain_text("was changed successfully")
    shoot(riley, "1-plans")

    # 2. Zoë is moved to Onsite in Greenhouse; the signed webhook arrives; a request with options appears.
    assert s.ats.move("zoe") == [200]
    request = s.wait_for_request("zoe", "awaiting_candidate")
    assert request["plan"]["id"] == ids["plans"]["backend"] and request["option_count"] > 0

    # 3. Her email arrives; she opens the link in Chromium, sees the times in her own zone, picks one and confirms.
    [mail] = s.wait_for_mail("zoe@example.com")
    zoe = open_page(zone=ZONE)
    candidate = BrowserCandidate(zoe, s.link_in(mail))
    assert "IST" in candidate.zone_shown()  # her browser's zone, detected and remembered on the request
    assert stack.sql("SELECT candidate_timezone FROM scheduling_schedulingrequest WHERE id = %s",
                     (request["id"],)) == [(ZONE,)]
    times = candidate.times()
    assert times and all(label == local_label(start, ZONE) for start, label in times), times[:5]
    start, label = times[len(times) // 2]
    candidate.pick(start)
    shoot(zoe, "3-confirm")
    candidate.confirm()
    assert label in zoe.inner_text("p.when")

    # 4. The events are on every interviewer's and the room's calendar with one Meet link; Greenhouse holds one note
    #    and one stage move (its write-back matrix row, each write once); the request is booked; the dashboard is
    #    quiet.
    request = s.wait_for_request("zoe", "booked")
    interview = s.interview(request["id"])
    events = s.wait_for_events(interview)
    assert BOB in events and ROOM in events and len(events[ORGANISER]) == 2, events
    assert len({e["video"] for found in events.values() for e in found}) == 1, events
    state = s.wait_for_writeback("zoe")
    [note] = s.ats.notes(state, s.ats.apps["zoe"])
    assert "Bob Brown" in note and "[loopwise:" in note, note
    assert len([m for m in state["moves"] if m["source"] == "api"]) == 1
    stack.wait_idle()
    expected, made = s.writeback_counts("zoe")
    assert made == expected, (made, expected)
    zoe.reload()
    assert s.interview(request["id"])["video_link"] == events[ORGANISER][0]["video"]
    assert events[ORGANISER][0]["video"] in zoe.inner_text("main")

    def quiet() -> bool:
        riley.goto(f"{base}/dashboard/")
        return dashboard_tiles(riley) == []
    stack.wait_until(quiet, timeout=60, message="a quiet dashboard")
    shoot(riley, "4-dashboard-quiet")

    # 5. Bob's grant is revoked in Google; after one refresh cycle his connection is red on the dashboard and in
    #    the admin, naming him; Ada, the next candidate, gets no time, and "why no slots?" names him too.
    s.calendar.revoke_bob()
    s.one_refresh_cycle()
    riley.goto(f"{base}/dashboard/")
    row = riley.locator("#health tr", has_text=f"Calendar connection {BOB} (google)")
    expect(row).to_contain_text("Broken: needs action")
    expect(row).to_contain_text("Bob Brown")
    riley.goto(f"{base}/admin/integrations/calendarconnection/")
    row = riley.locator("#result_list tr", has_text=f"{BOB} (google)")
    expect(row).to_contain_text("Broken: needs action")
    expect(row).to_contain_text("Bob Brown")
    assert s.ats.move("ada") == [200]
    ada = s.wait_for_request("ada", "needs_attention")
    riley.goto(f"{base}/dashboard/")
    card = riley.locator(f"#request-{ada['id']}")
    expect(card.locator(".lw-why")).to_have_text("Why no slots?")
    expect(card.locator(".lw-reasons")).to_contain_text("Bob Brown")
    shoot(riley, "5-dashboard-revoked")

    # 6. Olu (SRE, no Bob) does not pick: the reminder goes out on time and not before; as the link nears its
    #    expiry the coordinator is told, and extends it from the dashboard.
    assert s.ats.move("olu") == [200]
    olu = s.wait_for_request("olu", "awaiting_candidate")
    s.wait_for_mail("olu@example.com")
    first_link, expires = s.active_link(olu["id"])
    sent = dt.datetime.fromisoformat(olu["link_sent_at"].replace("Z", "+00:00"))
    stack.set_clock(sent + dt.timedelta(hours=REMINDER_HOURS, minutes=-10))
    assert stack.run_task("scheduling.tasks.send_reminders").startswith("reminders: 0 queued")
    stack.wait_idle()
    assert len(s.mail_to("olu@example.com")) == 1, "a reminder went out early"
    stack.set_clock(sent + dt.timedelta(hours=REMINDER_HOURS, minutes=10))
    stack.run_task("scheduling.tasks.send_reminders")
    s.wait_for_mail("olu@example.com", 2)
    link_id, _ = stack.wait_until(lambda: (lambda a: a if a[0] != first_link else None)(s.active_link(olu["id"])),
                                  message="the reminder's new link")
    stack.set_clock(expires - dt.timedelta(hours=20))
    stack.run_task("scheduling.tasks.escalate_expiring_links")
    [told] = s.wait_for_mail(COORDINATOR_EMAIL, subject="expires in")
    assert told["subject"].startswith(f"Request #{olu['id']}: the candidate's link expires in 19 h"), told["subject"]

    casey = open_page()
    sign_in(casey, base, COORDINATOR, then="/dashboard/")
    row = casey.locator(f"#link-{link_id}")
    expect(row).to_contain_text(f"#{olu['id']}")
    shoot(casey, "6-dashboard-expiring")
    row.get_by_role("button", name="Extend 48 h").click()
    expect(casey.locator(".messagelist")).to_contain_text(f"Request #{olu['id']}: the link now works until")
    expect(casey.locator(f"#link-{link_id}")).to_have_count(0)
    assert s.active_link(olu["id"]) == (link_id, expires + dt.timedelta(hours=48))
    for page in (riley, zoe, casey):
        assert page.errors == []
