"""The portal in Debian's chromium, through Playwright, against a live server: a candidate in India books a loop
with interviewers in London and New York from the emailed link, sees the times in IST, moves it and cancels it,
and the calendar events land in the google fake once each; an expired link asks for a new one; a phone-sized
screen scrolls only down; axe finds nothing serious. Screenshots go to test-artifacts/ (gitignored)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings as django_settings
from django.core.cache import cache
from playwright.sync_api import sync_playwright

from scheduling import booking
from scheduling.models import AuditEvent, Notice, ScheduledInterview, SchedulingRequest
from tests.candidates_portal.support import TOKEN
from tests.scheduling.booking.conftest import build_world
from tests.scheduling.booking.support import ALICE, BOB, CAROL, NOW, ROOM, deliver, events, messages, parse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IST = zoneinfo.ZoneInfo("Asia/Kolkata")
ARTIFACTS = Path(django_settings.BASE_DIR) / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an event loop running in this thread, which Django takes for async code; the
    # test's own database calls are plain synchronous ones, so they are allowed while the browser is open.
    with pytest.MonkeyPatch.context() as mp, sync_playwright() as p:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_world(transactional_db, google_fake, mail_fake, frozen, live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    cache.clear()
    return build_world(google_fake, mail_fake)


@pytest.fixture
def page_for(browser):
    """A fresh browser context per call (its own cookies: one candidate each), closed after the test. Script
    errors and console errors other than a page's own status (4xx pages are friendly pages) are collected on
    `page.errors`: a script or style the CSP refuses shows there."""
    contexts = []

    def make(*, width: int = 1280, height: int = 900, zone: str = "Asia/Kolkata"):
        context = browser.new_context(viewport={"width": width, "height": height}, timezone_id=zone,
                                      accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("console", lambda m: page.errors.append(m.text)
                if m.type == "error" and "the server responded with a status of 4" not in m.text else None)
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        return page

    yield make
    for c in contexts:
        c.close()


def emailed_url(world, request: SchedulingRequest) -> str:
    (mail,) = messages(world.mail, request.application.candidate.email)[-1:]
    url = next(word for word in mail["text"].split() if TOKEN.search(word))
    assert url.startswith(django_settings.PUBLIC_BASE_URL)
    return url


def assert_accessible(page, name: str) -> None:
    results = Axe().run(page)
    bad = [(v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3])
           for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], f"axe on the {name} page: {bad}"


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"portal-{name}.png"), full_page=True)


def choose(page, start: str) -> None:
    """Click the start time `start`, opening its day's "more times" first when it is folded away."""
    button = page.locator(f"form.picker button[value='{start}']")
    if not button.is_visible():
        button.locator("xpath=ancestor::details/summary").click()
    button.click()


def shown_times(page) -> list[tuple[str, str]]:
    return page.eval_on_selector_all("form.picker button", "els => els.map(e => [e.value, e.textContent.trim()])")


def world_url() -> str:
    return django_settings.PUBLIC_BASE_URL.rstrip("/")


def local(instant: str) -> str:
    return f"{parse(instant).astimezone(IST):%H:%M}"


def test_it_books_moves_and_cancels_a_loop_from_india(live_world, page_for):
    world = live_world
    alice = world.people["alice"]
    # The ATS does not know the candidate's zone: the browser's (India) is detected and remembered.
    request = world.request(timezone="")
    booking.request_start(request=request)
    request.refresh_from_db()
    assert request.state == SchedulingRequest.State.AWAITING_CANDIDATE
    page = page_for()

    page.goto(emailed_url(world, request))

    page.wait_for_selector("#tz-form[data-remembered='true']")
    assert page.url == f"{world_url()}/schedule/"
    request.refresh_from_db()
    assert request.candidate_timezone == "Asia/Kolkata"
    assert "Asia/Kolkata" in page.inner_text("#tz-form") and "IST" in page.inner_text("#tz-form")
    times = shown_times(page)
    assert times and all(label == local(value) for value, label in times)
    assert {v for v, _ in times} == {o["start"] for o in request.options if parse(o["start"]) > NOW}
    assert "Backend Engineer" in page.inner_text("main") and "Acme" in page.inner_text("header")
    assert_accessible(page, "schedule")
    shoot(page, "schedule-1280")

    # A loop with Alice (London) for coding and Carol (New York) for system design, well before the cut-off.
    option = next(o for o in request.options if f"i{alice.pk}" in o["sessions"][0]["roles"][0]
                  and parse(o["start"]) > NOW + dt.timedelta(days=2))
    choose(page, option["start"])

    page.wait_for_url("**/schedule/confirm?start=*")
    slots = page.locator("ol.agenda .slot").all_inner_texts()
    assert slots == [f"{local(s['start'])}–{local(s['end'])} IST" for s in option["sessions"]]
    agenda = page.inner_text("ol.agenda")
    assert "Alice, Staff Engineer" in agenda and "Carol, Engineering Manager" in agenda and "Thames" in agenda
    assert_accessible(page, "confirm")
    shoot(page, "confirm-1280")
    page.get_by_role("button", name="Confirm this time").click()

    page.wait_for_url("**/schedule/booked")
    interview = ScheduledInterview.objects.get(request=request, state=ScheduledInterview.State.ACTIVE)
    assert interview.option["start"] == option["start"]
    assert f"{local(option['start'])}–{local(option['end'])} IST" in page.inner_text("p.when")
    deliver()
    assert len(events(world.fake)) == 2
    assert [len(events(world.fake, c)) for c in (ALICE, CAROL, ROOM)] == [1, 1, 1]
    assert events(world.fake, BOB) == []
    (confirmation,) = [m for m in messages(world.mail, request.application.candidate.email) if "booked" in m["subject"]]
    assert any(a["content_type"] == "text/calendar" for a in confirmation["attachments"])
    page.reload()
    interview.refresh_from_db()
    assert interview.video_link and interview.video_link in page.inner_text("main")
    assert_accessible(page, "booked")
    shoot(page, "booked-1280")
    with page.expect_download() as download:
        page.get_by_role("link", name="Add to calendar").click()
    ics = Path(download.value.path()).read_text()
    assert "BEGIN:VCALENDAR" in ics and f"DTSTART:{parse(option['start']):%Y%m%dT%H%M%SZ}" in ics

    # Reschedule to another day, through the same link's session.
    page.get_by_role("link", name="Reschedule").click()
    page.wait_for_url("**/schedule/reschedule")
    assert page.locator(f"form.picker button[value='{option['start']}']").is_disabled()
    shoot(page, "reschedule-1280")
    later = next(o for o in request.options if parse(o["start"]).date() > parse(option["start"]).date()
                 and f"i{alice.pk}" in o["sessions"][0]["roles"][0])
    choose(page, later["start"])
    page.wait_for_url("**/schedule/confirm?start=*")
    page.get_by_role("button", name="Move my interview").click()
    page.wait_for_url("**/schedule/booked")
    assert f"{local(later['start'])}–{local(later['end'])} IST" in page.inner_text("p.when")
    deliver()
    live = events(world.fake)
    assert len(live) == 2 and {e["start"]["dateTime"][:16] for e in live} >= {later["start"][:16]}
    assert [len(events(world.fake, c)) for c in (ALICE, CAROL, ROOM)] == [1, 1, 1]

    # Cancel, with a reason.
    page.get_by_role("link", name="Cancel the interview").click()
    page.wait_for_url("**/schedule/cancel")
    page.fill("textarea[name=reason]", "I accepted another offer.")
    page.get_by_role("button", name="Cancel the interview").click()
    page.wait_for_url("**/schedule/cancelled")
    assert "Your interview is cancelled" in page.inner_text("h1")
    request.refresh_from_db()
    assert request.state == SchedulingRequest.State.CANCELLED
    deliver()
    assert events(world.fake) == [] and events(world.fake, CAROL) == []
    assert Notice.objects.filter(kind="request.cancelled_by_candidate", object_id=str(request.pk)).exists()
    assert page.errors == []


def test_it_asks_for_a_new_link_from_an_expired_one(live_world, page_for, frozen):
    world = live_world
    request = world.request()
    booking.request_start(request=request)
    url = emailed_url(world, request)
    frozen.move_to(NOW + dt.timedelta(hours=world.plan.link_expiry_hours, minutes=1))
    page = page_for()

    page.goto(url)

    page.wait_for_url("**/schedule/expired")
    assert "This link no longer works" in page.inner_text("h1")
    assert "has expired" in page.inner_text("main") and "Acme" in page.inner_text("header")
    assert_accessible(page, "expired")
    shoot(page, "expired-1280")
    page.get_by_role("button", name="Request a new link").click()
    page.wait_for_url("**/schedule/new-link/sent")
    assert "Thank you" in page.inner_text("h1")
    assert AuditEvent.objects.filter(action="link.new_requested", object_id=str(request.pk)).count() == 1
    assert len(messages(world.mail, world.coordinator.email)) == 1
    assert page.errors == []


def test_it_fits_a_phone_screen_360_pixels_wide(live_world, page_for):
    world = live_world
    request = world.request()
    booking.request_start(request=request)
    request.refresh_from_db()
    page = page_for(width=360, height=740)

    page.goto(emailed_url(world, request))

    page.wait_for_url("**/schedule/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shoot(page, "schedule-360")
    page.locator("details summary").first.click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    choose(page, request.options[0]["start"])
    page.wait_for_url("**/schedule/confirm?start=*")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shoot(page, "confirm-360")
    page.get_by_role("button", name="Confirm this time").click()
    page.wait_for_url("**/schedule/booked")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shoot(page, "booked-360")
    page.goto(f"{world_url()}/schedule/windows")
    page.get_by_role("button", name="Send my times").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shoot(page, "windows-errors-360")
    assert page.errors == []
