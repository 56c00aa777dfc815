import pytest

from scheduling.audit import audit_log
from scheduling.models import AuditEvent
from tests.factories import CandidateFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_it_names_the_object_by_label_and_id():
    candidate = CandidateFactory()
    event = audit_log(action="candidate.erased", obj=candidate)
    event.refresh_from_db()
    assert (event.action, event.object_type, event.object_id) == ("candidate.erased", "scheduling.candidate",
                                                                  str(candidate.pk))
    assert event.actor is None and event.actor_label == "system"


def test_it_labels_a_person_as_user_unless_told_otherwise():
    user = UserFactory()
    assert audit_log(action="x", obj=user, actor=user).actor_label == "user"
    assert audit_log(action="x", obj=user, actor=user, actor_label="admin").actor_label == "admin"


def test_it_shortens_a_long_summary_to_the_column():
    event = audit_log(action="x", obj=UserFactory(), summary="s" * 500)
    event.refresh_from_db()
    assert len(event.summary) == 300


def test_it_keeps_events_append_only():
    event = audit_log(action="x", obj=UserFactory())
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()
    assert AuditEvent.objects.count() == 1
