"""The dashboard's query count does not grow with the history: lists are capped and the numbers are aggregated
by the database."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scheduling.models import SchedulingRequest
from tests.dashboard.support import seed_history, seed_problems

pytestmark = pytest.mark.django_db


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/dashboard/", {"from": "2026-10-01", "to": "2026-12-07"})
    assert response.status_code == 200
    return len(captured)


def test_it_costs_the_same_queries_with_10_and_with_100_past_requests(staff_client, frozen):
    world = seed_problems()
    seed_history(10, plan=world.plan)
    with_10 = _queries(staff_client)

    seed_history(90, plan=world.plan, start=10)
    assert SchedulingRequest.objects.count() > 100
    with_100 = _queries(staff_client)

    assert with_10 == with_100
    assert with_100 <= 25
