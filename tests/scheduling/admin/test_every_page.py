"""Every model of ours is in the admin, and every list, add and change page opens for staff.

Each list page runs under a query budget with five rows present, so that a query per row (a
missing select_related or annotation) fails here rather than in production.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from .helpers import MAKERS

OUR_APPS = ("scheduling", "integrations")
QUERY_BUDGET = 15


def _registered_labels() -> set[str]:
    return {m._meta.label_lower for m in admin.site._registry if m._meta.app_label in OUR_APPS}


def _url(label: str, view: str, *args) -> str:
    app_label, model_name = label.split(".")
    return reverse(f"admin:{app_label}_{model_name}_{view}", args=args)


def test_it_registers_every_model_of_our_apps():
    ours = {m._meta.label_lower for app in OUR_APPS for m in apps.get_app_config(app).get_models()}
    assert ours - _registered_labels() == set()


def test_it_has_a_maker_for_every_registered_model():
    assert _registered_labels() == set(MAKERS)


@pytest.mark.parametrize("label", sorted(MAKERS))
def test_it_opens_the_list_add_and_change_pages(staff_client, label):
    obj = MAKERS[label]()
    model_admin = admin.site._registry[apps.get_model(label)]

    response = staff_client.get(_url(label, "changelist"), follow=True)
    assert response.status_code == 200

    response = staff_client.get(_url(label, "add"))
    can_add = model_admin.has_add_permission(response.wsgi_request)
    assert response.status_code == (200 if can_add else 403)

    response = staff_client.get(_url(label, "change", obj.pk))
    assert response.status_code == 200
    assert escape(str(obj)) in response.content.decode()  # the title and breadcrumbs name the object


@pytest.mark.parametrize("label", sorted(set(MAKERS) - {"scheduling.organisationsettings"}))
def test_it_lists_five_rows_within_the_query_budget(staff_client, django_assert_max_num_queries, label):
    MAKERS[label]()
    staff_client.get(_url(label, "changelist"))  # warm the caches (content types, session)
    with CaptureQueriesContext(connection) as one_row:
        staff_client.get(_url(label, "changelist"))
    for _ in range(4):
        MAKERS[label]()

    with django_assert_max_num_queries(QUERY_BUDGET) as five_rows:
        response = staff_client.get(_url(label, "changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 5
    # Not one query more for four rows more: nothing is fetched per row.
    assert len(five_rows) == len(one_row)


def test_it_opens_the_list_pages_of_other_apps(staff_client):
    for model in admin.site._registry:
        if model._meta.app_label in OUR_APPS:
            continue
        response = staff_client.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
        assert response.status_code == 200, model._meta.label
