import datetime as dt
import logging

import pytest
import time_machine

from scheduling.models import Notice
from scheduling.notifications import notify
from tests.factories import SchedulingRequestFactory

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2031, 3, 4, 9, 0, tzinfo=dt.UTC)


def tell(request, subject="Request needs attention", recipients=("coord@example.com",)):
    return notify(kind="request.stuck", obj=request, recipients=list(recipients), subject=subject,
                  body=f"Request #{request.pk} has no options.",
                  url=f"/admin/scheduling/schedulingrequest/{request.pk}/")


def test_it_sends_the_first_notice_and_records_it(mail_fake, settings):
    settings.PUBLIC_BASE_URL = "https://loopwise.example.com"
    request = SchedulingRequestFactory()
    with time_machine.travel(T0, tick=False):
        notice = tell(request)
    notice.refresh_from_db()
    assert notice.status == Notice.Status.SENT and notice.sent_at == T0
    assert (notice.object_type, notice.object_id) == ("scheduling.schedulingrequest", str(request.pk))
    [message] = mail_fake.state()["messages"]
    assert message["to"] == ["coord@example.com"]
    assert message["subject"] == "Request needs attention"
    assert f"Request #{request.pk} has no options." in message["text"]
    assert f"https://loopwise.example.com/admin/scheduling/schedulingrequest/{request.pk}/" in message["text"]
    assert message["headers"]["From"] == settings.DEFAULT_FROM_EMAIL


def test_it_folds_a_second_notice_within_the_hour(mail_fake):
    request = SchedulingRequestFactory()
    with time_machine.travel(T0, tick=False) as clock:
        tell(request)
        clock.shift(dt.timedelta(minutes=59))
        second = tell(request, subject="Still stuck")
    assert second.status == Notice.Status.FOLDED and second.sent_at is None
    assert len(mail_fake.state()["messages"]) == 1


def test_it_sends_again_once_the_hour_has_passed(mail_fake):
    request = SchedulingRequestFactory()
    with time_machine.travel(T0, tick=False) as clock:
        tell(request)
        clock.shift(dt.timedelta(minutes=61))
        again = tell(request)
    assert again.status == Notice.Status.SENT
    assert len(mail_fake.state()["messages"]) == 2


def test_it_throttles_each_recipient_and_object_separately(mail_fake):
    first, other = SchedulingRequestFactory(), SchedulingRequestFactory()
    with time_machine.travel(T0, tick=False):
        tell(first, recipients=["a@example.com"])
        notice = tell(first, recipients=["a@example.com", "b@example.com"])
        tell(other, recipients=["a@example.com"])
    assert notice.recipient == "a@example.com" and notice.status == Notice.Status.FOLDED
    statuses = sorted(Notice.objects.values_list("recipient", "object_id", "status"))
    assert statuses == sorted([("a@example.com", str(first.pk), "sent"), ("a@example.com", str(first.pk), "folded"),
                               ("b@example.com", str(first.pk), "sent"), ("a@example.com", str(other.pk), "sent")])
    assert sorted(m["to"][0] for m in mail_fake.state()["messages"]) == ["a@example.com", "a@example.com",
                                                                         "b@example.com"]


def test_it_records_a_failure_when_the_smtp_server_is_down(smtp_down, caplog):
    request = SchedulingRequestFactory()
    with caplog.at_level(logging.WARNING, logger="scheduling.notifications"):
        notice = tell(request)
    notice.refresh_from_db()
    assert notice.status == Notice.Status.FAILED and notice.sent_at is None
    assert f"notice #{notice.pk}" in caplog.text and "ConnectionRefusedError" in caplog.text


def test_it_records_a_failure_when_the_smtp_server_refuses_the_message(mail_fake):
    mail_fake.add_fault(kind="error", target="smtp", status=554)
    notice = tell(SchedulingRequestFactory())
    notice.refresh_from_db()
    assert notice.status == Notice.Status.FAILED
    assert mail_fake.state()["messages"] == []


def test_it_does_not_fold_behind_a_notice_that_failed(mail_fake):
    request = SchedulingRequestFactory()
    mail_fake.add_fault(kind="error", target="smtp", count=1)
    first = tell(request)
    second = tell(request)
    assert (first.status, second.status) == (Notice.Status.FAILED, Notice.Status.SENT)
    assert len(mail_fake.state()["messages"]) == 1


def test_it_records_nothing_without_recipients():
    assert notify(kind="x", recipients=[], subject="s", body="b") is None
    assert not Notice.objects.exists()
