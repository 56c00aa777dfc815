import datetime as dt

import pytest
import time_machine

from scheduling.models import Candidate, InboundEvent
from scheduling.privacy import retention_sweep
from tests.factories import AtsConnectionFactory, CandidateFactory

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2031, 3, 4, 9, 0, tzinfo=dt.UTC)


def test_it_erases_candidates_untouched_for_the_retention_period(settings):
    settings.RETENTION_DAYS = 365
    with time_machine.travel(T0, tick=False) as clock:
        old = CandidateFactory(first_name="Oldest")
        clock.shift(dt.timedelta(days=2))
        recent = CandidateFactory(first_name="Recent")
        clock.shift(dt.timedelta(days=364))  # old: 366 days, recent: 364 days
        assert retention_sweep() == "retention: 1 candidates erased, 0 webhook bodies blanked"
        assert retention_sweep() == "retention: 0 candidates erased, 0 webhook bodies blanked"
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.erased_at == T0 + dt.timedelta(days=366) and old.first_name == "erased"
    assert recent.erased_at is None and recent.first_name == "Recent"
    assert Candidate.objects.count() == 2


def test_it_blanks_webhook_bodies_past_their_retention(settings):
    settings.WEBHOOK_BODY_RETENTION_DAYS = 30
    connection = AtsConnectionFactory()
    with time_machine.travel(T0, tick=False):
        old = InboundEvent.objects.create(connection=connection, event_key="old", raw_body='{"a": 1}',
                                          received_at=T0 - dt.timedelta(days=31))
        young = InboundEvent.objects.create(connection=connection, event_key="young", raw_body='{"b": 2}',
                                            received_at=T0 - dt.timedelta(days=29))
        assert retention_sweep() == "retention: 0 candidates erased, 1 webhook bodies blanked"
    old.refresh_from_db()
    young.refresh_from_db()
    assert (old.raw_body, young.raw_body) == ("", '{"b": 2}')
    assert old.event_key == "old"  # the row stays: it still deduplicates replays
