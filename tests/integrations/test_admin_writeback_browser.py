"""The write-back matrix in Debian's chromium, through Playwright, against a live server: an ops user signs in, goes
from the ATS connections list to "What Loopwise writes back", reads each provider's row in a real table (found by
its caption, headers and row headers, as assistive technology finds it), then opens an iCIMS connection and reads
which field and which status it writes. axe finds nothing serious on either page. Screenshots go to
test-artifacts/ (gitignored)."""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings as django_settings
from playwright.sync_api import expect, sync_playwright

from integrations.ats.matrix import MATRIX
from scheduling.models import AtsStage
from tests import factories as f

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


def serious(page) -> list:
    return [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in Axe().run(page).response["violations"]
            if v["impact"] in ("serious", "critical")]


def test_it_shows_what_each_ats_gets_and_what_one_connection_writes(browser, live_server):
    icims = f.AtsConnectionFactory(name="Acme iCIMS", provider="icims",
                                   credentials={"note_field": "field50001", "password": "api-password"})
    plan = f.PlanFactory(name="Onsite loop", requisition=f.RequisitionFactory(
        title="Backend Engineer", ats_connection=icims, external_id="42"))
    plan.stage = AtsStage.objects.create(requisition=plan.requisition, external_id="C2010", name="Schedule Interview")
    plan.next_stage = AtsStage.objects.create(requisition=plan.requisition, external_id="C2020", name="Offer",
                                              position=1)
    plan.save(update_fields=["stage", "next_stage"])
    user = f.UserFactory(username="ops-matrix", password=PASSWORD)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(f"{live_server.url}/admin/login/?next=/admin/integrations/atsconnection/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.get_by_role("link", name="What Loopwise writes back").click()

    expect(page.locator("h1")).to_have_text("What Loopwise writes back to each ATS")
    table = page.get_by_role("table", name="Write-back per ATS")
    expect(table.get_by_role("columnheader")).to_have_text(
        ["ATS", "The schedule, as text", "The stage change", "Not written", "Your connections"])
    expect(table.get_by_role("rowheader")).to_have_text([row.name for row in MATRIX.values()])
    for row in MATRIX.values():
        cells = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name=row.name, exact=True))
        for write in row.writes:
            expect(cells).to_contain_text(write.request)
        expect(cells).to_contain_text(row.not_done[0])
    assert serious(page) == [], "axe on the write-back matrix"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "writeback-matrix.png"), full_page=True)

    page.get_by_role("link", name="Acme iCIMS").click()
    own = page.get_by_role("table", name="What Loopwise writes back to iCIMS, and this connection's settings for it")
    field = own.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Configured field"))
    expect(field).to_contain_text("field50001")
    mapping = page.get_by_role("table", name="Stage mappings").get_by_role("row").filter(
        has=page.get_by_role("rowheader", name=str(plan)))
    expect(mapping).to_contain_text("Schedule Interview (C2010)")
    expect(mapping).to_contain_text("Offer (C2020)")
    expect(page.locator("#writeback-state")).to_contain_text("Write-back on.")
    assert "api-password" not in page.content()
    assert serious(page) == [], "axe on the connection page"
    page.screenshot(path=str(ARTIFACTS / "writeback-connection.png"), full_page=True)
    assert errors == []
    page.close()
