""""Why no slots?": every diagnostic code the solver can give becomes a sentence with names and a fix that links
to the page to change; unreadable calendars are told together, grouped by cause."""

from __future__ import annotations

import pytest

from integrations.models import Health
from scheduling.dashboard.words import admin_change, explain, lookup_for
from tests import factories as f

pytestmark = pytest.mark.django_db

CODES = ("calendar_unknown", "no_working_hours", "busy", "cap_day", "cap_week", "notice", "window",
         "candidate_window", "pool_too_small", "no_common_time")


def _consent(person) -> str:
    return f"/consent/{person.pk}/"


@pytest.fixture
def setup():
    plan = f.PlanFactory(min_notice_hours=48, window_days=10)
    coding = f.SessionTemplateFactory(plan=plan, name="Coding")
    pool = f.PoolFactory(name="Backend")
    f.RoleFactory(session=coding, pool=pool)
    connection = f.CalendarConnectionFactory(name="Acme Workspace")
    ann = f.InterviewerFactory(name="Ann Ames", calendar=f.CalendarFactory(connection=connection))
    ben = f.InterviewerFactory(name="Ben Bell", calendar=f.CalendarFactory(connection=connection))
    cat = f.InterviewerFactory(name="Cat Cole", max_per_day=2, max_per_week=4)
    request = f.SchedulingRequestFactory(plan=plan, application__requisition=plan.requisition)
    return plan, coding, pool, connection, ann, ben, cat, request


def test_it_says_every_code_in_words_with_a_fix(setup):
    plan, coding, pool, _connection, ann, _ben, cat, request = setup
    diagnostics = [{"code": code, "session": f"s{coding.pk}", "resources": [f"i{cat.pk}"], "message": "x"}
                   for code in CODES if code != "calendar_unknown"]

    reasons = explain(diagnostics, request=request, lookup=lookup_for([diagnostics]), consent_url=_consent)

    texts = [r.text for r in reasons]
    assert texts == [
        "No one who can sit “Coding” (Cat Cole) has working hours that fit it in the window.",
        "Cat Cole is busy whenever “Coding” could take place in the next 10 days.",
        "Cat Cole reaches their daily interview limit on every day “Coding” could take place (Cat Cole: 2).",
        "Cat Cole reaches their weekly interview limit on every week “Coding” could take place (Cat Cole: 4).",
        "The plan's minimum notice (48 h) leaves no start time in its 10-day window.",
        "The loop does not fit in the plan's 10-day window.",
        "No start time fits inside the times the candidate said suit them.",
        "“Coding” needs more people than Backend has available (Cat Cole).",
        "Cat Cole is never free at the same time for “Coding”.",
    ]
    assert all(r.fixes for r in reasons)
    urls = {fix.url for r in reasons for fix in r.fixes}
    assert {admin_change(cat), admin_change(plan), admin_change(pool), admin_change(request)} <= urls


def test_it_groups_unreadable_calendars_by_cause(setup):
    _plan, _coding, _pool, connection, ann, ben, cat, request = setup
    ben.calendar.health, ben.calendar.last_error = Health.RED, "invalid_grant"
    ben.calendar.save()
    cat.calendar = None
    cat.save()
    dave = f.InterviewerFactory(name="Dave Dunn", calendar=f.CalendarFactory(connection=connection))
    diagnostics = [{"code": "calendar_unknown", "session": None, "resources": [f"i{p.pk}"], "message": "x"}
                   for p in (ann, ben, cat, dave)]

    reasons = explain(diagnostics, request=request, lookup=lookup_for([diagnostics]), consent_url=_consent)

    texts = [r.text for r in reasons]
    assert texts[0].startswith("Ben Bell's calendar") and "refuses access (invalid_grant)" in texts[0]
    assert texts[1] == "Cat Cole has no calendar connected, so they are left out of every time."
    assert texts[2].startswith("2 calendars of Ann Ames and Dave Dunn have not been read yet on “Acme Workspace”")
    assert [fix.post for fix in reasons[0].fixes if fix.post] == [_consent(ben)]
    assert [fix.post for fix in reasons[1].fixes if fix.post] == [_consent(cat)]
    assert [fix.url for fix in reasons[2].fixes] == [admin_change(connection)]

    connection.health = Health.RED
    connection.last_error = "unauthorized_client"
    connection.save()
    again = explain(diagnostics, request=request, lookup=lookup_for([diagnostics]), consent_url=_consent)
    assert "The connection “Acme Workspace” is broken (unauthorized_client), so the calendars of Ann Ames, Ben " \
           "Bell and Dave Dunn cannot be read." in [r.text for r in again]
