"""The database itself keeps the data sound: each rule here is refused by PostgreSQL, not only by a form."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from django.db import IntegrityError, transaction

from scheduling.logging import JsonFormatter, RedactSecretsFilter
from scheduling.models import SchedulingLink, SessionTemplate
from tests import factories as f

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def refused(fn) -> bool:
    try:
        with transaction.atomic():
            fn()
    except IntegrityError:
        return True
    return False


@pytest.mark.django_db
def test_it_refuses_a_duplicate_external_id_per_connection():
    conn = f.AtsConnectionFactory()
    f.CandidateFactory(ats_connection=conn, external_id="c-1")
    assert refused(lambda: f.CandidateFactory(ats_connection=conn, external_id="c-1"))
    f.CandidateFactory(ats_connection=f.AtsConnectionFactory(), external_id="c-1")  # another connection may


@pytest.mark.django_db
def test_it_refuses_a_negative_or_out_of_range_duration():
    plan = f.PlanFactory()
    assert refused(lambda: SessionTemplate.objects.create(plan=plan, name="x", duration_minutes=0))
    assert refused(lambda: SessionTemplate.objects.create(plan=plan, name="x", duration_minutes=481))


@pytest.mark.django_db
def test_it_refuses_a_second_active_link_for_one_request():
    req = f.SchedulingRequestFactory()

    def link(h):
        return SchedulingLink.objects.create(request=req, token_hash=h, created_at=NOW,
                                             expires_at=NOW + dt.timedelta(days=7))

    link("a" * 64)
    assert refused(lambda: link("b" * 64))


@pytest.mark.django_db
def test_it_refuses_caps_that_contradict_each_other():
    assert refused(lambda: f.InterviewerFactory(max_per_day=5, max_per_week=3))
    assert refused(lambda: f.InterviewerFactory(max_per_day=0))


@pytest.mark.django_db
def test_it_refuses_a_second_open_request_for_the_same_application_and_plan():
    req = f.SchedulingRequestFactory()
    assert refused(lambda: f.SchedulingRequestFactory(application=req.application, plan=req.plan))


def test_structured_logs_are_one_json_object_a_line_without_secrets():
    record = logging.makeLogRecord({"name": "loopwise.test", "levelname": "INFO", "levelno": 20,
                                    "msg": "refreshed with refresh_token=%s", "args": ("1//0gSECRETvalue12345",),
                                    "request_id": 42})
    RedactSecretsFilter().filter(record)
    doc = json.loads(JsonFormatter().format(record))
    assert doc["message"] == "refreshed with refresh_token=[redacted]" and doc["request_id"] == 42
    assert "SECRET" not in json.dumps(doc)
