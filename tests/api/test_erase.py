"""`POST /api/v1/candidates/{id}/erase`: the candidate's personal data goes; the audit log names the key only."""

from __future__ import annotations

from scheduling.models import AuditEvent
from tests import factories as f


def test_it_erases_and_audits_without_personal_data(api):
    candidate = f.CandidateFactory(first_name="Priya", last_name="Raman", email="priya.raman@example.org",
                                   phone="+44 20 7946 0000")
    response = api("write").post(f"/api/v1/candidates/{candidate.pk}/erase")
    assert response.status_code == 200 and response.json()["id"] == candidate.pk
    candidate.refresh_from_db()
    assert candidate.first_name == "erased" and "priya" not in candidate.email and candidate.phone == ""
    events = AuditEvent.objects.filter(object_type="scheduling.candidate", object_id=str(candidate.pk))
    assert "api:write-key" in set(events.values_list("actor_label", flat=True))
    for event in AuditEvent.objects.all():
        text = f"{event.actor_label} {event.action} {event.summary}".lower()
        assert "priya" not in text and "raman" not in text and "7946" not in text


def test_it_answers_404_for_an_unknown_candidate(api):
    assert api("write").post("/api/v1/candidates/424242/erase").status_code == 404
