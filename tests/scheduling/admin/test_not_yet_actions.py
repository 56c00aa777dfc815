"""Request actions whose machinery arrives later answer a warning and change nothing."""

from __future__ import annotations

import pytest
from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from scheduling.models import RequestTransition, SchedulingLink, SchedulingRequest
from tests import factories as f


@pytest.mark.parametrize("action", ["send_link", "regenerate_link", "approve_and_send", "cancel"])
def test_it_says_the_action_is_not_available_yet_and_changes_nothing(staff_client, action):
    request = f.SchedulingRequestFactory(state=SchedulingRequest.State.PENDING_APPROVAL)

    response = staff_client.post(reverse("admin:scheduling_schedulingrequest_changelist"),
                                 {"action": action, ACTION_CHECKBOX_NAME: [request.pk]}, follow=True)

    sent = [(m.level, m.message) for m in response.context["messages"]]
    assert len(sent) == 1
    level, text = sent[0]
    assert level == messages.WARNING
    assert text.startswith("Not available yet: ")
    assert " arrives with " in text
    request.refresh_from_db()
    assert request.state == SchedulingRequest.State.PENDING_APPROVAL
    assert request.link_sent_at is None
    assert not RequestTransition.objects.exists()
    assert not SchedulingLink.objects.exists()


def test_it_labels_those_actions_as_not_available_in_the_menu(staff_client):
    f.SchedulingRequestFactory()  # the admin shows its actions only when there are rows

    html = staff_client.get(reverse("admin:scheduling_schedulingrequest_changelist")).content.decode()

    assert "Send the scheduling link (not available yet)" in html
    assert "Cancel (not available yet)" in html
