"""Times show in the staff user's own zone, with its name; token hashes and webhook bodies never show."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils.html import strip_tags

from scheduling.models import AuditEvent
from tests import factories as f


def test_it_shows_times_in_the_staff_users_zone_with_its_name(db, client):
    user = f.UserFactory(username="tokyo", timezone="Asia/Tokyo")
    client.force_login(user)
    request = f.SchedulingRequestFactory()
    f.RequestTransitionFactory(request=request, at=dt.datetime(2030, 3, 4, 9, 30, tzinfo=dt.UTC))

    html = client.get(reverse("admin:scheduling_requesttransition_changelist")).content.decode()

    assert "2030-03-04 18:30 JST" in strip_tags(html)
    assert "Times shown in" in html and "Asia/Tokyo" in html


def test_it_never_shows_a_links_token_hash(staff_client):
    link = f.SchedulingLinkFactory()

    pages = [reverse("admin:scheduling_schedulinglink_changelist"),
             reverse("admin:scheduling_schedulinglink_change", args=[link.pk]),
             reverse("admin:scheduling_schedulingrequest_change", args=[link.request_id])]
    for url in pages:
        html = staff_client.get(url).content.decode()
        assert link.token_hash[:12] not in html, url
    assert "0 of 50" in html  # the use count is what shows


def test_it_shows_the_size_of_a_webhook_body_not_its_content(staff_client):
    event = f.InboundEventFactory(raw_body='{"candidate": {"email": "priya.raman@mail.example.org"}}')

    for url in (reverse("admin:scheduling_inboundevent_changelist"),
                reverse("admin:scheduling_inboundevent_change", args=[event.pk])):
        html = staff_client.get(url).content.decode()
        assert "priya.raman" not in html
        assert "56 characters" in html


def test_it_keeps_the_audit_log_append_only(staff_client):
    event = f.AuditEventFactory()

    assert staff_client.get(reverse("admin:scheduling_auditevent_add")).status_code == 403
    assert staff_client.get(reverse("admin:scheduling_auditevent_delete", args=[event.pk])).status_code == 403
    response = staff_client.post(reverse("admin:scheduling_auditevent_change", args=[event.pk]), {"summary": "x"})
    assert response.status_code == 403
    assert AuditEvent.objects.get().summary == event.summary
