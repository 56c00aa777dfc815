"""Debian's chromium (Playwright) for the acceptance scenario (issue 11): starting it, a page per person, and the
candidate's part on the portal, shared by the whole-flow browser test and the browser runs of the API-level
scenario (tests/e2e/test_acceptance_api.py, collected when LOOPWISE_BROWSER_MATRIX=1)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Chromium, closed afterwards. Playwright's sync API keeps an event loop running in this thread; nothing here
    touches Django's ORM, but the suite's autouse fixtures use Django's settings, which must not take the loop for
    async code."""
    with pytest.MonkeyPatch.context() as mp, sync_playwright() as p:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def page_maker(browser: Browser) -> Iterator[Callable[..., Page]]:
    """`make(zone=...)`: a page in a fresh context (its own cookies: one person each) whose clock is in `zone`;
    script errors are collected on `page.errors`. Every context is closed afterwards."""
    contexts = []

    def make(*, zone: str = "Europe/London") -> Page:
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, timezone_id=zone)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        return page

    try:
        yield make
    finally:
        for context in contexts:
            context.close()


class BrowserCandidate:
    """A candidate on the portal in Chromium: open the emailed link (the page detects her browser's zone and
    remembers it on the request), read the times, pick one, confirm."""

    def __init__(self, page: Page, link: str):
        self.page = page
        page.goto(link)
        page.wait_for_selector("#tz-form[data-remembered='true']")

    def zone_shown(self) -> str:
        return self.page.inner_text("#tz-form")

    def times(self) -> list[tuple[str, str]]:
        """(start, label) of every start time on offer."""
        return self.page.eval_on_selector_all("form.picker button",
                                              "els => els.map(e => [e.value, e.textContent.trim()])")

    def pick(self, start: str) -> None:
        """Click the time `start` (opening its day if folded); the confirmation page."""
        button = self.page.locator(f"form.picker button[value='{start}']")
        if not button.is_visible():
            button.locator("xpath=ancestor::details/summary").click()
        button.click()
        self.page.wait_for_url("**/schedule/confirm?start=*")

    def confirm(self) -> str:
        """Confirm the picked time; the booked page's text."""
        self.page.get_by_role("button", name="Confirm this time").click()
        self.page.wait_for_url("**/schedule/booked")
        return self.page.inner_text("main")

    def book(self, start: str) -> str:
        self.pick(start)
        return self.confirm()
