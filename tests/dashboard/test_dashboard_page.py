"""The dashboard shows staff what needs a human, each item with its fix: a request with no time to offer and why
(in names, with links to the interviewer, the plan and the pool), a revoked calendar and who it leaves out, a dead
ATS write, a quiet webhook, a link about to expire unused; and the numbers, as SVG charts with their data."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from scheduling.dashboard.words import admin_change
from tests import factories as f
from tests.dashboard.support import REVOKED, seed_history, seed_problems

pytestmark = pytest.mark.django_db

URL = "/dashboard/"


@pytest.fixture
def seeded(frozen):
    world = seed_problems()
    seed_history(15, plan=world.plan)
    return world


def _section(html: str, anchor: str) -> str:
    """The HTML of one section of the page, from its anchor to the next section, entities decoded."""
    start = html.index(f'id="{anchor}"')
    end = html.find("<section", start)
    return unescape(html[start:end if end != -1 else None])


def test_it_is_for_staff_only(client, frozen):
    assert client.get(URL).status_code == 302
    user = f.UserFactory(username="candidate-facing", is_staff=False, is_superuser=False)
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.post(reverse("dashboard:outbox_retry", args=[1])).status_code == 302


def test_it_is_linked_from_the_admin_home_page(staff_client, frozen):
    assert 'href="/dashboard/"' in staff_client.get("/admin/").content.decode()


def test_it_says_why_a_request_has_no_time_to_offer_with_links_to_each_fix(staff_client, seeded):
    html = staff_client.get(URL).content.decode()

    card = _section(html, "failures")
    assert f"Request #{seeded.failing.pk}" in card
    assert f"Alice Archer's calendar (alice@acme.test) refuses access ({REVOKED})" in card
    assert reverse("dashboard:consent", args=[seeded.alice.pk]) in card
    assert "Bob Brown reaches their weekly interview limit on every week “Coding” could take place (Bob Brown: 5)" \
        in card
    assert "Raise Bob Brown's limit" in card and admin_change(seeded.bob) in card
    assert "“Coding” needs more people than Backend has available (Bob Brown)" in card
    assert admin_change(seeded.pool) in card and "Add members to the pool Backend" in card
    assert reverse("dashboard:request_retry", args=[seeded.failing.pk]) in card


def test_it_lists_the_revoked_calendar_the_dead_write_the_quiet_webhook_and_the_expiring_link(staff_client, seeded):
    html = staff_client.get(URL).content.decode()

    health = _section(html, "health")
    assert "alice@acme.test" in health and "Broken: needs action" in health and REVOKED in health
    assert "Alice Archer</a> (left out of every time)" in health
    assert "Email Alice a consent link" in health
    outbox = _section(html, "outbox")
    assert f"#{seeded.dead.pk}" in outbox and "HTTP 403" in outbox and "Dead" in outbox
    assert reverse("dashboard:outbox_retry", args=[seeded.dead.pk]) in outbox
    assert "<strong>ATS writes</strong>: 0 failing, 1 dead" in outbox
    webhooks = _section(html, "webhooks")
    assert "Acme Greenhouse</a>: webhooks" in webhooks and "7 h ago" in webhooks
    assert "Backend Engineer" in webhooks  # the requisition it affects
    links = _section(html, "links")
    assert f"#{seeded.waiting.pk}" in links and "in 10 h" in links
    assert reverse("dashboard:link_extend", args=[seeded.link.pk]) in links
    assert reverse("dashboard:request_regenerate", args=[seeded.waiting.pk]) in links
    waiting = _section(html, "waiting")  # history requests still waiting; not the one listed as expiring
    assert f"#{seeded.waiting.pk}" not in waiting and "days ago" in waiting and "no live link" in waiting


def test_it_draws_the_charts_with_their_data(staff_client, seeded):
    html = staff_client.get(URL).content.decode()

    line = re.search(r'<svg class="lw-chart lw-chart-line".*?</svg>', html, re.S).group(0)
    points = re.findall(r'data-series="To booking" data-value="([\d.]+)"', line)
    assert points and all(float(p) > 0 for p in points)
    bars = re.search(r'<svg class="lw-chart lw-chart-bars".*?</svg>', html, re.S).group(0)
    assert re.search(r'<rect class="lw-s0"[^>]*data-series="Rescheduled" data-value="[\d.]+"', bars)
    limits = re.search(r'<svg class="lw-chart lw-chart-limits".*?</svg>', html, re.S).group(0)
    assert 'data-value="1" data-limit="5"' in limits  # Bob: one interview this week, of five
    trainees = _section(html, "trainees")
    assert "Tara Trainee" in trainees and "0 / 3" in trainees and 'data-limit="3"' in trainees
    assert re.search(r"Request to booking</span><span class=\"lw-kpi\">[\d.]+ h", html)
    assert "Reschedule rate</span><span class=\"lw-kpi\">" in html


def test_it_filters_by_requisition_and_says_when_a_date_is_not_understood(staff_client, seeded):
    html = staff_client.get(URL, {"requisition": seeded.other.pk, "from": "yesterday"}).content.decode()

    failures = _section(html, "failures")
    assert f"Request #{seeded.elsewhere.pk}" in failures and f"Request #{seeded.failing.pk}" not in failures
    assert "“yesterday” is not a date" in html
    assert "Requests created" in html and ": 1 in all" in html  # only the other requisition's
