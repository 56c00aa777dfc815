import datetime as dt
import json

import pytest
from django.apps import apps
from django.db import connection, models

from integrations.models import AtsComponentHealth
from scheduling.models import (
    AuditEvent,
    Candidate,
    InboundEvent,
    ProposedWindow,
    RequestTransition,
    SchedulingLink,
    SchedulingRequest,
    hash_token,
)
from scheduling.privacy import candidate_erase
from tests.factories import (
    ApplicationFactory,
    AtsConnectionFactory,
    CandidateFactory,
    SchedulingRequestFactory,
)

pytestmark = pytest.mark.django_db
FIRST, LAST = "Xanthippe", "Quillfeather-Øyelaran"
LAST_IN_JSON = json.dumps(LAST)[1:-1]  # Quillfeather-\u00d8yelaran, as most JSON encoders write it
EMAIL = "xanthippe.q+loop@unusual-mail.example"
NOW = dt.datetime(2031, 3, 4, 9, 0, tzinfo=dt.UTC)


def columns_mentioning(needle: str) -> list[str]:
    """Every column of every installed model's table (auto-created join tables included) holding `needle` in
    any case. Each column is cast to text on its own (a JSON column as PostgreSQL renders it), so char, text,
    email and JSON columns are all searched, and nothing is escaped the way a whole row cast would."""
    found = []
    with connection.cursor() as cur:
        for model in apps.get_models(include_auto_created=True):
            if model._meta.proxy or not model._meta.managed:
                continue
            table = connection.ops.quote_name(model._meta.db_table)
            for field in model._meta.concrete_fields:
                if isinstance(field, models.BinaryField):
                    continue
                column = connection.ops.quote_name(field.column)
                cur.execute(f"SELECT count(*) FROM {table} WHERE strpos(lower({column}::text), lower(%s)) > 0",
                            [needle])
                if cur.fetchone()[0]:
                    found.append(f"{model._meta.label_lower}.{field.name}")
    return sorted(found)


@pytest.fixture
def candidate_everywhere():
    ats = AtsConnectionFactory()
    candidate = CandidateFactory(first_name=FIRST, last_name=LAST, email=EMAIL, phone="+44 7700 900123",
                                 external_id="cand-99817", ats_connection=ats)
    application = ApplicationFactory(candidate=candidate, ats_connection=ats, external_id="app-5521")
    request = SchedulingRequestFactory(application=application, state=SchedulingRequest.State.AWAITING_CANDIDATE,
                                       candidate_timezone="Pacific/Chatham")
    SchedulingLink.objects.create(request=request, token_hash=hash_token("tok"), created_at=NOW,
                                  expires_at=NOW + dt.timedelta(days=7))
    ProposedWindow.objects.create(request=request, start=NOW, end=NOW + dt.timedelta(hours=2),
                                  note=f"{FIRST} prefers mornings; call +44 7700 900123")
    body = json.dumps({"candidate": {"id": "cand-99817", "first_name": FIRST, "last_name": LAST,
                                     "email_addresses": [{"value": EMAIL.upper()}]}})
    InboundEvent.objects.create(connection=ats, event_key="evt-1", kind="candidate.updated", raw_body=body,
                                received_at=NOW)
    InboundEvent.objects.create(connection=ats, event_key="evt-2", kind="candidate.stage",
                                raw_body='{"candidate_id": "cand-99817", "stage": "Onsite"}', received_at=NOW)
    AtsComponentHealth.objects.create(connection=ats, component="writes",
                                      last_error=f"404: no candidate with email {EMAIL}")
    return candidate, request


def test_it_leaves_no_trace_of_the_candidates_name_or_email_in_any_table(candidate_everywhere):
    candidate, _request = candidate_everywhere
    planted = (FIRST, LAST, LAST_IN_JSON, EMAIL, "7700 900123", "cand-99817")
    for needle in planted:
        assert columns_mentioning(needle), f"the test must plant {needle!r} somewhere first"

    candidate_erase(candidate=candidate)

    for needle in planted:
        assert columns_mentioning(needle) == [], needle


def test_it_keeps_the_rows_that_counts_need_and_cancels_the_open_request(candidate_everywhere):
    candidate, request = candidate_everywhere
    other = InboundEvent.objects.create(connection=candidate.ats_connection, event_key="evt-other",
                                        raw_body='{"candidate_id": "cand-11111"}', received_at=NOW)
    candidate_erase(candidate=candidate)

    candidate.refresh_from_db()
    assert (candidate.first_name, candidate.last_name, candidate.phone, candidate.external_id) == ("erased", "", "",
                                                                                                    "")
    assert candidate.email == f"erased-{candidate.pk}@erased.invalid" and candidate.erased_at is not None
    request.refresh_from_db()
    assert request.state == SchedulingRequest.State.CANCELLED and request.candidate_timezone == ""
    assert RequestTransition.objects.get(request=request).cause == "candidate erased"
    assert not SchedulingLink.objects.exists() and not ProposedWindow.objects.exists()
    assert request.application.external_id == "app-5521"
    other.refresh_from_db()
    assert other.raw_body == '{"candidate_id": "cand-11111"}'
    erased = AuditEvent.objects.get(action="candidate.erased")
    assert (erased.object_type, erased.object_id) == ("scheduling.candidate", str(candidate.pk))
    assert erased.summary == "2 webhook bodies blanked, 1 error texts scrubbed"


def test_it_leaves_a_booked_request_to_the_booking_machinery(candidate_everywhere):
    candidate, request = candidate_everywhere
    SchedulingRequest.objects.filter(pk=request.pk).update(state=SchedulingRequest.State.BOOKED)
    candidate_erase(candidate=candidate)
    request.refresh_from_db()
    assert request.state == SchedulingRequest.State.BOOKED


def test_it_does_nothing_the_second_time(candidate_everywhere):
    candidate, _ = candidate_everywhere
    candidate_erase(candidate=candidate)
    candidate_erase(candidate=Candidate.objects.get(pk=candidate.pk))
    assert AuditEvent.objects.filter(action="candidate.erased").count() == 1


def test_it_blanks_a_body_that_names_them_only_in_json_escaped_form(candidate_everywhere):
    candidate, _ = candidate_everywhere
    ats = candidate.ats_connection
    escaped = InboundEvent.objects.create(connection=ats, event_key="evt-3", raw_body=f'{{"name": "{LAST_IN_JSON}"}}',
                                          received_at=NOW)
    unrelated = InboundEvent.objects.create(connection=ats, event_key="evt-4", raw_body='{"name": "Someone Else"}',
                                            received_at=NOW)
    candidate_erase(candidate=candidate)
    escaped.refresh_from_db()
    unrelated.refresh_from_db()
    assert (escaped.raw_body, unrelated.raw_body) == ("", '{"name": "Someone Else"}')
