"""A plan is edited on one page with its sessions inline; roles are edited on each session's page."""

from __future__ import annotations

from django.urls import reverse

from scheduling.models import Role, SessionTemplate
from tests import factories as f

from .helpers import form_data


def _plan_url(plan) -> str:
    return reverse("admin:scheduling_interviewplan_change", args=[plan.pk])


def test_it_saves_a_new_session_from_the_plan_page(staff_client):
    plan = f.PlanFactory(name="Onsite loop")
    f.SessionTemplateFactory(plan=plan, name="Coding", position=0)
    data = form_data(staff_client.get(_plan_url(plan)))
    n = int(data["sessions-TOTAL_FORMS"])
    data.update({"sessions-TOTAL_FORMS": str(n + 1), f"sessions-{n}-position": "1",
                 f"sessions-{n}-name": "System design", f"sessions-{n}-duration_minutes": "45"})

    response = staff_client.post(_plan_url(plan), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert list(plan.sessions.values_list("name", "duration_minutes")) == [("Coding", 60), ("System design", 45)]


def test_it_shows_each_sessions_roles_and_a_link_to_edit_them(staff_client):
    plan = f.PlanFactory()
    coding = f.SessionTemplateFactory(plan=plan, name="Coding")
    f.RoleFactory(session=coding, pool=f.PoolFactory(name="Backend interviewers"), count=2)
    f.RoleFactory(session=coding, kind=Role.Kind.INTERVIEWER, pool=None,
                  interviewer=f.InterviewerFactory(name="Alex Chen", title=""), optional=True)
    f.SessionTemplateFactory(plan=plan, name="Values")

    html = staff_client.get(_plan_url(plan)).content.decode()

    assert "2 from Backend interviewers; Alex Chen (optional)" in html
    assert "No roles yet" in html  # the Values session
    assert reverse("admin:scheduling_sessiontemplate_change", args=[coding.pk]) in html
    assert "Edit roles (2)" in html


def test_it_adds_a_role_on_the_session_page_and_returns_to_the_plan(staff_client):
    session = f.SessionTemplateFactory()
    pool = f.PoolFactory()
    url = reverse("admin:scheduling_sessiontemplate_change", args=[session.pk])
    data = form_data(staff_client.get(url))
    data.update({"roles-TOTAL_FORMS": "1", "roles-0-kind": "pool", "roles-0-pool": str(pool.pk),
                 "roles-0-count": "2"})

    response = staff_client.post(url, data)

    assert response.status_code == 302
    assert response["Location"] == _plan_url(session.plan)
    assert list(session.roles.values_list("pool", "count")) == [(pool.pk, 2)]


def test_it_explains_a_role_without_its_pool(staff_client):
    session = f.SessionTemplateFactory()
    url = reverse("admin:scheduling_sessiontemplate_change", args=[session.pk])
    data = form_data(staff_client.get(url))
    data.update({"roles-TOTAL_FORMS": "1", "roles-0-kind": "pool", "roles-0-count": "2"})

    response = staff_client.post(url, data)

    assert response.status_code == 200
    assert "Choose the pool this role draws from." in response.content.decode()
    assert not session.roles.exists()


def test_it_refuses_a_stage_of_another_requisition(staff_client):
    plan = f.PlanFactory(stage=None)
    elsewhere = f.StageFactory(name="Final round")
    data = form_data(staff_client.get(_plan_url(plan)))
    data["stage"] = str(elsewhere.pk)

    response = staff_client.post(_plan_url(plan), data)

    assert response.status_code == 200
    assert "is a stage of another requisition" in response.content.decode()
    plan.refresh_from_db()
    assert plan.stage is None
    assert SessionTemplate.objects.count() == 0
