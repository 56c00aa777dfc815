"""Opening the emailed link: the token becomes a session and leaves the URL at once; an unknown token is a bare
404; an expired, revoked or used-up link leads to the friendly "no longer works" page."""

from __future__ import annotations

import datetime as dt

from candidates_portal.security import EXPIRED_KEY, LINK_KEY
from scheduling import booking
from scheduling.models import AuditEvent, SchedulingLink, SchedulingRequest
from tests.candidates_portal.support import emailed_token, open_link, opened, started
from tests.scheduling.booking.support import NOW


def test_it_exchanges_the_token_for_a_session_and_leaves_the_token_url(world, client):
    request = started(world)
    token = emailed_token(world, request)
    client.get("/schedule/")  # a session exists before the link is opened
    before = client.session.session_key

    response = client.get(f"/s/{token}/")

    assert response.status_code == 303 and response["Location"] == "/schedule/"
    assert token not in response["Location"]
    link = SchedulingLink.objects.get(request=request, revoked_at__isnull=True)
    assert client.session[LINK_KEY] == link.pk and client.session.session_key != before
    assert link.use_count == 1 and link.last_used_at is not None
    assert response["Referrer-Policy"] == "no-referrer"
    page = client.get("/schedule/")
    assert page.status_code == 200 and b"Backend Engineer" in page.content


def test_it_answers_an_unknown_token_with_a_404_that_reveals_nothing(world, client):
    request = started(world)
    real = emailed_token(world, request)
    guesses = [real[:-2] + ("AA" if not real.endswith("AA") else "BB"), "x" * 43, "y" * 300]

    responses = [client.get(f"/s/{g}/") for g in guesses]

    assert [r.status_code for r in responses] == [404, 404, 404]
    bodies = {r.content for r in responses}
    assert len(bodies) == 1  # the same page whatever was guessed
    body = bodies.pop().decode()
    assert all(g not in body for g in guesses) and "Backend Engineer" not in body
    assert LINK_KEY not in client.session and EXPIRED_KEY not in client.session
    assert SchedulingLink.objects.get(request=request).use_count == 0


def test_it_sends_an_expired_link_to_a_friendly_page(world, client, frozen):
    request = started(world)
    # The clock ticks while the request starts: expire the link from its own expiry, not from NOW.
    frozen.move_to(SchedulingLink.objects.get(request=request).expires_at + dt.timedelta(seconds=1))

    response = open_link(client, world, request)

    assert response.status_code == 303 and response["Location"] == "/schedule/expired"
    page = client.get("/schedule/expired")
    assert page.status_code == 410
    text = page.content.decode()
    assert "This link has expired." in text and "Acme" in text and 'action="/schedule/new-link"' in text
    assert "csrfmiddlewaretoken" in text
    assert client.get("/schedule/").status_code == 403  # the session holds no usable link


def test_it_treats_a_replaced_link_as_no_longer_working(world, client):
    request = started(world)
    old = emailed_token(world, request)
    booking.link_regenerate(request=request, actor=world.coordinator)

    response = client.get(f"/s/{old}/")

    assert response["Location"] == "/schedule/expired"
    assert "This link has been replaced or withdrawn." in client.get("/schedule/expired").content.decode()


def test_it_treats_a_used_up_link_as_no_longer_working(world, client):
    request = started(world)
    SchedulingLink.objects.filter(request=request).update(use_count=50, max_uses=50)

    response = open_link(client, world, request)

    assert response["Location"] == "/schedule/expired"
    assert "opened too many times" in client.get("/schedule/expired").content.decode()


def test_it_stops_a_session_whose_link_expired_since_it_was_opened(world, client, frozen):
    request = started(world)
    opened(client, world, request)
    frozen.move_to(NOW + dt.timedelta(hours=world.plan.link_expiry_hours, seconds=1))

    response = client.get("/schedule/")

    assert response.status_code == 410 and "This link has expired." in response.content.decode()
    assert client.get(f"/schedule/confirm?start={request.options[0]['start']}").status_code == 410


def test_it_asks_for_the_link_again_when_the_session_has_none(world, client):
    started(world)

    for path in ("/schedule/", "/schedule/booked", "/schedule/reschedule", "/schedule/windows"):
        response = client.get(path)
        assert response.status_code == 403 and "open the link from the email" in response.content.decode()


def test_it_says_so_when_the_request_was_cancelled(world, client):
    request = started(world)
    booking.interview_cancel(request=request, by="coordinator", actor=world.coordinator)

    response = open_link(client, world, request)

    page = client.get(response["Location"]).content.decode()
    assert "This interview request was cancelled" in page and "Request a new link" not in page
    client.post("/schedule/new-link")
    assert not AuditEvent.objects.filter(action="link.new_requested").exists()


def test_it_says_the_interview_took_place_rather_than_offering_a_new_link(world, client, frozen):
    request = started(world)
    opened(client, world, request)
    SchedulingRequest.objects.filter(pk=request.pk).update(state=SchedulingRequest.State.COMPLETED)
    frozen.move_to(NOW + dt.timedelta(days=10))  # the link has expired; the session (two weeks) has not

    page = client.get("/schedule/").content.decode()

    assert "This interview has taken place" in page and "Request a new link" not in page
