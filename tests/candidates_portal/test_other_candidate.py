"""A candidate's session acts for their own request only: every page and every POST made with another candidate's
session leaves this candidate's request, booking and data alone and shows none of it."""

from __future__ import annotations

from django.test import Client

from scheduling.models import ProposedWindow, ScheduledInterview, SchedulingRequest
from tests.candidates_portal.support import book, emailed_token, opened, roomy, started

S = SchedulingRequest.State


def _mine_and_theirs(world):
    """(mine: booked, with my session; theirs: waiting, with their session)."""
    mine, theirs = started(world), started(world)
    me = opened(Client(), world, mine)
    interview = book(mine, roomy(mine))
    them = opened(Client(), world, theirs)
    return mine, interview, me, theirs, them


def test_it_never_shows_another_candidates_booking(world):
    mine, interview, me, theirs, them = _mine_and_theirs(world)
    hint = f"?request={mine.pk}&link={mine.links.get().pk}"

    assert them.get("/schedule/booked" + hint)["Location"] == "/schedule/"
    assert them.get("/schedule/booked.ics" + hint).status_code == 404
    assert them.get("/schedule/reschedule" + hint)["Location"] == "/schedule/"
    assert them.get("/schedule/cancel" + hint)["Location"] == "/schedule/"
    assert them.get("/schedule/cancelled" + hint)["Location"] == "/schedule/"
    page = them.get("/schedule/" + hint).content.decode()
    assert "Choose a time for your interview" in page and "Your interview is booked for" not in page
    assert me.get("/schedule/booked").status_code == 200


def test_it_never_acts_on_another_candidates_request(world):
    mine, interview, me, theirs, them = _mine_and_theirs(world)

    them.post("/schedule/cancel", {"reason": "not mine to cancel"})
    them.post("/schedule/confirm", {"start": interview.option["start"]})  # my time: taken, for them
    them.post("/schedule/timezone", {"zone": "Pacific/Auckland", "next": "/schedule/"})
    them.post("/schedule/windows", {"date_1": "2026-12-15", "start_1": "18:00", "end_1": "20:00"})
    them.post("/schedule/new-link")

    mine.refresh_from_db()
    interview.refresh_from_db()
    assert mine.state == S.BOOKED and interview.state == ScheduledInterview.State.ACTIVE
    assert mine.candidate_timezone == "" and not ProposedWindow.objects.filter(request=mine).exists()
    theirs.refresh_from_db()
    assert theirs.candidate_timezone == "Pacific/Auckland"
    assert ProposedWindow.objects.filter(request=theirs).count() == 1
    assert not ScheduledInterview.objects.filter(request=theirs).exists()


def test_it_books_only_for_the_sessions_own_request(world):
    mine, interview, me, theirs, them = _mine_and_theirs(world)
    option = roomy(theirs, days=3)

    response = them.post("/schedule/confirm", {"start": option["start"]})

    assert response["Location"] == "/schedule/booked"
    assert ScheduledInterview.objects.get(request=theirs).option["start"] == option["start"]
    assert list(ScheduledInterview.objects.filter(request=mine).values_list("pk", flat=True)) == [interview.pk]


def test_it_acts_for_the_last_link_opened_in_a_browser(world):
    mine, interview, me, theirs, them = _mine_and_theirs(world)

    me.get(f"/s/{emailed_token(world, theirs)}/")

    assert me.get("/schedule/booked")["Location"] == "/schedule/"  # their request has no booking
    assert me.get("/schedule/booked.ics").status_code == 404
