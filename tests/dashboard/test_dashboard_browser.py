"""The dashboard in Debian's chromium, through Playwright, against a live server: a coordinator signs in, sees
the expiring link, the revoked calendar, the dead ATS write and the quiet webhook, and fixes them by clicking
(extend the link, regenerate and resend another, email a consent link, retry the write); the charts are drawn
with their data. A screenshot goes to test-artifacts/ (gitignored)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import time_machine
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings as django_settings
from playwright.sync_api import expect, sync_playwright

from integrations.models import Health
from scheduling import booking
from scheduling.models import OutboxItem, SchedulingLink, WorkState
from tests import factories as f
from tests.dashboard.support import REVOKED, seed_history
from tests.scheduling.booking.conftest import build_world
from tests.scheduling.booking.support import ALICE, NOW, deliver, messages
from tests.scheduling.operations.support import started

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(django_settings.BASE_DIR) / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
PASSWORD = "correct-horse-battery"


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
def ticking():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture
def scene(transactional_db, google_fake, mail_fake, ticking, live_server, settings):
    """The booking organisation on the google fake with a few weeks of history, two requests whose links expire
    within the day, a booked one, Alice's calendar revoked, a dead ATS write and a quiet webhook."""
    settings.PUBLIC_BASE_URL = live_server.url
    settings.CALENDAR_OAUTH = {"google": {**settings.CALENDAR_OAUTH["google"], "client_id": "loopwise-client"}}
    world = build_world(google_fake, mail_fake)
    seed_history(12, plan=world.plan)
    extend_me, resend_me, booked = started(world), started(world), started(world)
    booking.interview_book(request=booked, option=booked.options[0])
    deliver()
    calendar = world.people["alice"].calendar
    calendar.health, calendar.last_error, calendar.last_error_at = Health.RED, REVOKED, NOW
    calendar.save()
    ats = f.AtsConnectionFactory(name="Acme Greenhouse")
    world.plan.requisition.ats_connection = ats
    world.plan.requisition.save()
    quiet = f.AtsComponentHealthFactory(connection=ats, component="webhooks", quiet_since=NOW,
                                        health=Health.DEGRADED, last_error="webhooks missed 3 changes")
    dead = f.OutboxItemFactory(kind="ats.add_note", target=f"ats:{ats.pk}", state=WorkState.DEAD, attempts=8,
                               max_attempts=8, payload={"request_id": booked.pk}, last_error="HTTP 403: forbidden")
    link = SchedulingLink.objects.get(request=extend_me, revoked_at__isnull=True)
    ticking.move_to(link.expires_at - dt.timedelta(hours=20))
    user = f.UserFactory(username="casey-ops", email="casey.ops@acme.test", password=PASSWORD)
    return type("Scene", (), dict(world=world, extend_me=extend_me, resend_me=resend_me, link=link, quiet=quiet,
                                  dead=dead, calendar=calendar, user=user, url=live_server.url))


def test_it_lists_the_problems_and_fixes_them_when_clicked(browser, scene):
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, timezone_id="Europe/London")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{scene.url}/admin/login/?next=/dashboard/")
    page.fill("#id_username", scene.user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("h1")).to_have_text("Operations dashboard")

    # The charts are drawn, with data.
    assert page.locator("svg.lw-chart-line circle[data-value]").count() > 0
    assert page.locator("svg.lw-chart-bars rect[data-value]").count() > 0
    assert page.locator("svg.lw-chart-limits rect[data-value]").count() > 0
    expect(page.locator(f"#quiet-{scene.quiet.pk}")).to_contain_text("Acme Greenhouse")
    serious = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in Axe().run(page).response["violations"]
               if v["impact"] in ("serious", "critical")]
    assert serious == [], f"axe on the dashboard: {serious}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    # The expiring link: extend it.
    before = scene.link.expires_at
    page.locator(f"#link-{scene.link.pk}").get_by_role("button", name="Extend 48 h").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Request #{scene.extend_me.pk}: the link now works until")
    assert SchedulingLink.objects.get(pk=scene.link.pk).expires_at == before + dt.timedelta(hours=48)
    expect(page.locator(f"#link-{scene.link.pk}")).to_have_count(0)  # no longer about to expire

    # The other one: regenerate and resend.
    candidate = scene.resend_me.application.candidate.email
    old = SchedulingLink.objects.get(request=scene.resend_me, revoked_at__isnull=True)
    page.locator(f"#link-{old.pk}").get_by_role("button", name="Regenerate and resend").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Request #{scene.resend_me.pk}: a new link was emailed")
    assert len(messages(scene.world.mail, candidate)) == 2
    assert SchedulingLink.objects.get(pk=old.pk).revoked_at is not None

    # The revoked calendar: email Alice a consent link.
    page.locator(f"#calendar-{scene.calendar.pk}").get_by_role("button", name="Email Alice a consent link").click()
    expect(page.locator(".messagelist")).to_contain_text("Alice Archer was emailed a link to connect their calendar")
    assert [m["subject"] for m in messages(scene.world.mail, ALICE)] == ["Connect your calendar to Loopwise"]

    # The dead ATS write: retry it.
    page.locator(f"#outbox-{scene.dead.pk}").get_by_role("button", name="Retry now").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Outbox item #{scene.dead.pk} (ats.add_note) is queued")
    assert OutboxItem.objects.get(pk=scene.dead.pk).state == WorkState.PENDING
    expect(page.locator(f"#outbox-{scene.dead.pk}")).to_have_count(0)

    assert errors == []
    page.close()
