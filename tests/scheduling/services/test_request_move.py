import pytest

from scheduling.errors import ConcurrentChange, InvalidTransition
from scheduling.models import AuditEvent, RequestTransition, SchedulingRequest
from scheduling.services import request_move
from tests.factories import SchedulingRequestFactory, UserFactory

S = SchedulingRequest.State
pytestmark = pytest.mark.django_db


def test_it_refuses_a_move_the_table_does_not_allow():
    request = SchedulingRequestFactory(state=S.COMPLETED)
    with pytest.raises(InvalidTransition) as e:
        request_move(request=request, to=S.BOOKED, cause="candidate picked a time")
    assert e.value.extra == {"old": "completed", "new": "booked"}
    request.refresh_from_db()
    assert request.state == S.COMPLETED
    assert not RequestTransition.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_moves_and_logs_the_cause_and_actor():
    user = UserFactory()
    request = SchedulingRequestFactory(state=S.AWAITING_CANDIDATE)
    before = request.state_changed_at
    returned = request_move(request=request, to=S.CANCELLED, cause="coordinator cancelled", actor=user)
    assert returned is request and request.state == S.CANCELLED
    request.refresh_from_db()
    assert request.state == S.CANCELLED
    assert request.state_changed_at > before
    [t] = RequestTransition.objects.filter(request=request)
    assert (t.old_state, t.new_state, t.cause, t.actor, t.at) == ("awaiting_candidate", "cancelled",
                                                                 "coordinator cancelled", user,
                                                                 request.state_changed_at)
    [event] = AuditEvent.objects.all()
    assert (event.action, event.object_type, event.object_id) == ("request.moved", "scheduling.schedulingrequest",
                                                                  str(request.pk))
    assert event.actor == user and event.actor_label == "user"
    assert event.summary == "awaiting_candidate -> cancelled: coordinator cancelled"


def test_it_logs_a_reschedule_from_booked_to_booked():
    request = SchedulingRequestFactory(state=S.BOOKED)
    request_move(request=request, to=S.BOOKED, cause="candidate rescheduled")
    request.refresh_from_db()
    assert request.state == S.BOOKED
    assert list(RequestTransition.objects.values_list("old_state", "new_state", "cause")) == [
        ("booked", "booked", "candidate rescheduled")]


def test_it_refuses_to_move_from_a_state_the_row_no_longer_holds():
    request = SchedulingRequestFactory(state=S.AWAITING_CANDIDATE)
    stale = SchedulingRequest.objects.get(pk=request.pk)
    request_move(request=request, to=S.BOOKED, cause="candidate picked a time")
    with pytest.raises(ConcurrentChange):
        request_move(request=stale, to=S.EXPIRED, cause="link expired")
    request.refresh_from_db()
    assert request.state == S.BOOKED
    assert RequestTransition.objects.count() == 1
