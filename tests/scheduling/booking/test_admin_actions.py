"""The request actions in the admin call the booking services: start (solve and send), approve, regenerate,
cancel, and book for the candidate from the stored options or a proposed window."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from scheduling.models import ProposedWindow, SchedulingLink, SchedulingRequest
from tests.scheduling.booking.support import deliver, events, messages, parse

CHANGELIST = "admin:scheduling_schedulingrequest_changelist"


@pytest.fixture
def ops(client, world):
    client.force_login(world.coordinator)
    return client


def act(client, action, req):
    resp = client.post(reverse(CHANGELIST), {"action": action, ACTION_CHECKBOX_NAME: [req.pk]}, follow=True)
    return [str(m) for m in resp.context["messages"]]


def test_it_finds_times_and_sends_the_link(ops, world):
    req = world.request()
    said = act(ops, "send_link", req)
    req.refresh_from_db()
    assert req.state == SchedulingRequest.State.AWAITING_CANDIDATE and req.options
    assert said == [f"Started: #{req.pk}."]
    assert len(messages(world.mail, req.application.candidate.email)) == 1


def test_it_approves_a_request_that_waits_for_approval(ops, world):
    world.plan.requires_approval = True
    world.plan.save()
    req = world.request()
    act(ops, "send_link", req)
    req.refresh_from_db()
    assert req.state == SchedulingRequest.State.PENDING_APPROVAL
    assert messages(world.mail, req.application.candidate.email) == []
    act(ops, "approve_and_send", req)
    req.refresh_from_db()
    assert req.state == SchedulingRequest.State.AWAITING_CANDIDATE
    assert len(messages(world.mail, req.application.candidate.email)) == 1


def test_it_regenerates_the_link_and_revokes_the_old_one(ops, world):
    req = world.request()
    act(ops, "send_link", req)
    old = SchedulingLink.objects.get(request=req, revoked_at__isnull=True)
    act(ops, "regenerate_link", req)
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert SchedulingLink.objects.filter(request=req, revoked_at__isnull=True).count() == 1
    assert len(messages(world.mail, req.application.candidate.email)) == 2


def test_it_says_which_request_failed_and_why(ops, world):
    req = world.request(state=SchedulingRequest.State.COMPLETED)
    said = act(ops, "cancel", req)
    assert len(said) == 1 and said[0].startswith(f"Cancelled failed for #{req.pk}: ")
    req.refresh_from_db()
    assert req.state == SchedulingRequest.State.COMPLETED


def test_it_books_for_the_candidate_and_cancels(ops, world):
    req = world.request()
    act(ops, "send_link", req)
    req.refresh_from_db()
    page = reverse("admin:scheduling_schedulingrequest_book", args=[req.pk])
    assert ops.get(page).status_code == 200
    start = req.options[0]["start"]
    resp = ops.post(page, {"start": start})
    assert resp.status_code == 302
    req.refresh_from_db()
    assert req.state == SchedulingRequest.State.BOOKED
    assert req.interviews.get(state="active").start == parse(start)
    deliver()
    assert len(events(world.fake)) == 2
    act(ops, "cancel", req)
    req.refresh_from_db()
    assert req.state == SchedulingRequest.State.CANCELLED
    deliver()
    assert events(world.fake) == []


def test_it_books_from_a_window_the_candidate_proposed(ops, world):
    req = world.request()
    act(ops, "send_link", req)
    req.refresh_from_db()
    first = parse(req.options[-1]["start"])
    window = ProposedWindow.objects.create(request=req, start=first, end=first + dt.timedelta(hours=4))
    resp = ops.post(reverse("admin:scheduling_schedulingrequest_book", args=[req.pk]), {"window": window.pk})
    assert resp.status_code == 302
    interview = req.interviews.get(state="active")
    assert window.start <= interview.start and interview.end <= window.end
