"""A bounded schemathesis run of the generated schema: every operation, a few generated requests each with a
read+write key, and none may answer a server error. Bounded (5 examples per operation, no deadline) so that the
suite stays fast (each operation under a 60 s timeout)."""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests import factories as f

schema = schemathesis.openapi.from_dict(
    json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True))))
schema.app = get_wsgi_application()


@pytest.fixture
def in_process():
    """The WSGI app in the test's own connection and transaction: as Django's test client does, keep the
    request signals from closing the connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(keys, settings, in_process):
    settings.API_RATE_PER_MINUTE = 100000
    settings.API_SOLVE_MAX_BYTES = 64 * 1024
    request = f.SchedulingRequestFactory()
    f.ScheduledInterviewFactory(request=request)
    f.PoolFactory()
    f.InterviewerFactory()
    return keys["write"]


@pytest.mark.timeout(60)
@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_it_never_answers_a_server_error(case, seeded):
    case.call_and_validate(headers={"Authorization": f"Bearer {seeded}"}, checks=[not_a_server_error])
