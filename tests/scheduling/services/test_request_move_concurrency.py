import threading

import pytest
from django.db import connection

from scheduling.errors import ConcurrentChange
from scheduling.models import RequestTransition, SchedulingRequest
from scheduling.services import request_move
from tests.factories import SchedulingRequestFactory

S = SchedulingRequest.State


@pytest.mark.django_db(transaction=True)
def test_it_lets_exactly_one_of_two_simultaneous_moves_win():
    request = SchedulingRequestFactory(state=S.AWAITING_CANDIDATE)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def move(to: str) -> None:
        try:
            mine = SchedulingRequest.objects.get(pk=request.pk)  # this thread's own connection
            barrier.wait(timeout=10)
            request_move(request=mine, to=to, cause=f"race to {to}")
            outcomes[to] = "won"
        except ConcurrentChange:
            outcomes[to] = "lost"
        finally:
            connection.close()

    threads = [threading.Thread(target=move, args=(to,)) for to in (S.BOOKED, S.CANCELLED)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(outcomes.values()) == ["lost", "won"]
    winner = next(to for to, outcome in outcomes.items() if outcome == "won")
    request.refresh_from_db()
    assert request.state == winner
    assert list(RequestTransition.objects.values_list("new_state", flat=True)) == [winner]
