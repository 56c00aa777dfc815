import datetime as dt

import pytest
import time_machine

from scheduling.models import Notice
from scheduling.notifications import notice_send_digests, notify
from tests.factories import SchedulingRequestFactory

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2031, 3, 4, 9, 0, tzinfo=dt.UTC)


def tell(request, subject, recipient="coord@example.com"):
    return notify(kind="request.stuck", obj=request, recipients=[recipient], subject=subject,
                  body=f"Request #{request.pk} body for {subject}", url="/admin/")


def test_it_sends_folded_notices_in_one_digest_after_the_hour(mail_fake):
    request = SchedulingRequestFactory()
    with time_machine.travel(T0, tick=False) as clock:
        tell(request, "First problem")
        clock.shift(dt.timedelta(minutes=10))
        tell(request, "Second problem")
        clock.shift(dt.timedelta(minutes=10))
        tell(request, "Third problem")

        clock.shift(dt.timedelta(minutes=30))  # T0+50 min: the window is still open
        assert notice_send_digests() == "digests: 0 sent (0 notices), 0 failed"
        assert len(mail_fake.state()["messages"]) == 1

        clock.shift(dt.timedelta(minutes=11))  # T0+61 min
        assert notice_send_digests() == "digests: 1 sent (2 notices), 0 failed"
        assert notice_send_digests() == "digests: 0 sent (0 notices), 0 failed"

    first, digest = mail_fake.state()["messages"]
    assert first["subject"] == "First problem"
    assert digest["to"] == ["coord@example.com"] and digest["subject"] == "Loopwise digest: 2 notices"
    assert "Second problem" in digest["text"] and "Third problem" in digest["text"]
    assert "First problem" not in digest["text"]
    assert "2031-03-04 09:10 UTC" in digest["text"]
    assert sorted(Notice.objects.values_list("subject", "status")) == [
        ("First problem", "sent"), ("Second problem", "digested"), ("Third problem", "digested")]


def test_it_sends_one_digest_per_recipient_across_kinds_and_objects(mail_fake):
    one, two = SchedulingRequestFactory(), SchedulingRequestFactory()
    with time_machine.travel(T0, tick=False) as clock:
        for request in (one, two):
            tell(request, f"opened #{request.pk}")
            tell(request, f"folded #{request.pk}")
            tell(request, f"for b #{request.pk}", recipient="b@example.com")
            tell(request, f"folded for b #{request.pk}", recipient="b@example.com")
        clock.shift(dt.timedelta(hours=2))
        assert notice_send_digests() == "digests: 2 sent (4 notices), 0 failed"
    digests = [m for m in mail_fake.state()["messages"] if m["subject"].startswith("Loopwise digest")]
    assert sorted(m["to"][0] for m in digests) == ["b@example.com", "coord@example.com"]
    coord = next(m for m in digests if m["to"] == ["coord@example.com"])
    assert f"folded #{one.pk}" in coord["text"] and f"folded #{two.pk}" in coord["text"]


def test_it_keeps_notices_folded_while_the_digest_cannot_be_sent(mail_fake):
    request = SchedulingRequestFactory()
    with time_machine.travel(T0, tick=False) as clock:
        tell(request, "First problem")
        tell(request, "Second problem")
        clock.shift(dt.timedelta(hours=2))
        mail_fake.add_fault(kind="error", target="smtp", count=1)
        assert notice_send_digests() == "digests: 0 sent (0 notices), 1 failed"
        assert Notice.objects.get(subject="Second problem").status == Notice.Status.FOLDED
        assert notice_send_digests() == "digests: 1 sent (1 notices), 0 failed"


def test_it_retries_a_failed_notice_in_the_next_digest(mail_fake):
    request = SchedulingRequestFactory()
    mail_fake.add_fault(kind="error", target="smtp", count=1)
    with time_machine.travel(T0, tick=False) as clock:
        failed = tell(request, "Lost at first")
        assert failed.status == Notice.Status.FAILED
        clock.shift(dt.timedelta(minutes=10))
        assert notice_send_digests() == "digests: 1 sent (1 notices), 0 failed"
    failed.refresh_from_db()
    assert failed.status == Notice.Status.DIGESTED
    [digest] = mail_fake.state()["messages"]
    assert "Lost at first (first try failed)" in digest["text"]


def test_it_gives_up_retrying_failed_notices_after_a_day(mail_fake):
    request = SchedulingRequestFactory()
    mail_fake.add_fault(kind="error", target="smtp", count=1)
    with time_machine.travel(T0, tick=False) as clock:
        tell(request, "Lost for good")
        clock.shift(dt.timedelta(hours=25))
        assert notice_send_digests() == "digests: 0 sent (0 notices), 0 failed"
    assert Notice.objects.get().status == Notice.Status.FAILED
