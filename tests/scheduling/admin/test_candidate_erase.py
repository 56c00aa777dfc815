"""Erasing a candidate from the admin asks first, then calls the privacy service; the history names no one."""

from __future__ import annotations

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from scheduling.models import Candidate
from tests import factories as f

from .helpers import form_data

CHANGELIST = "admin:scheduling_candidate_changelist"


def test_it_asks_for_confirmation_before_erasing(staff_client):
    candidate = f.CandidateFactory(first_name="Priya", last_name="Raman", email="priya@mail.example.org")

    response = staff_client.post(reverse(CHANGELIST),
                                 {"action": "erase_personal_data", ACTION_CHECKBOX_NAME: [candidate.pk]})

    assert response.status_code == 200
    html = response.content.decode()
    assert "This cannot be undone." in html
    assert "Priya Raman" in html
    assert 'name="confirm" value="yes"' in html
    candidate.refresh_from_db()
    assert candidate.erased_at is None
    assert candidate.email == "priya@mail.example.org"


def test_it_erases_once_confirmed(staff_client):
    candidate = f.CandidateFactory(first_name="Priya", last_name="Raman", email="priya@mail.example.org")
    keep = f.CandidateFactory(first_name="Jonas")

    response = staff_client.post(reverse(CHANGELIST), {"action": "erase_personal_data", "confirm": "yes",
                                                       ACTION_CHECKBOX_NAME: [candidate.pk]}, follow=True)

    assert response.status_code == 200
    assert "Erased the personal data of 1 candidate(s)." in [m.message for m in response.context["messages"]]
    candidate.refresh_from_db()
    assert candidate.erased_at is not None
    assert "priya" not in candidate.email
    assert Candidate.objects.get(pk=keep.pk).erased_at is None


def test_it_writes_the_admin_history_without_the_candidates_name(staff_client):
    candidate = f.CandidateFactory(first_name="Priya", last_name="Raman")
    url = reverse("admin:scheduling_candidate_change", args=[candidate.pk])
    data = form_data(staff_client.get(url))
    data["phone"] = "+44 20 7946 0000"

    assert staff_client.post(url, data).status_code == 302

    entry = LogEntry.objects.get()
    assert entry.object_repr == f"Candidate #{candidate.pk}"
    assert "Priya" not in entry.object_repr
    assert "Raman" not in entry.get_change_message()
