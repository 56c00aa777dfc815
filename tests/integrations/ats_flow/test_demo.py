"""The demo's Greenhouse: `seed_demo_fakes --greenhouse` loads the demo's jobs, candidates and applications into the
fake under the demo rows' ids and points the demo connection at it; moving a demo candidate to "Onsite" (what
`ats_stage_change` and the fake's board page do) sends a real signed webhook, and a request with options follows."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from integrations.ats.polling import ats_poll
from integrations.models import AtsConnection
from scheduling.demo import DEMO_ATS, DEMO_CANDIDATES, demo_load
from scheduling.models import Application, SchedulingRequest

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_runs_the_demo_from_the_board_to_the_candidates_inbox(live_server, google_fake, greenhouse_fake,
                                                                 mail_fake, settings, run_queued):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.CALENDAR_OAUTH = {**settings.CALENDAR_OAUTH, "google": {
        **settings.CALENDAR_OAUTH["google"], "api_base_url": google_fake.url, "token_url": google_fake.url + "/token"}}
    demo_load()
    out = io.StringIO()
    call_command("seed_demo_fakes", "--google", google_fake.url, "--greenhouse", greenhouse_fake.url, stdout=out)
    connection = AtsConnection.objects.get(name=DEMO_ATS["name"])
    assert connection.base_url == greenhouse_fake.url and connection.credentials["webhook_secret"]
    assert f"webhooks to {live_server.url}/webhooks/ats/{connection.webhook_key}/" in out.getvalue()
    state = greenhouse_fake.state()
    assert sorted(str(a["id"]) for a in state["applications"]) == sorted(c.application_id for c in DEMO_CANDIDATES)
    # The fake and the database agree, and the demo's `new` requests (made by hand) are left to a coordinator.
    assert ats_poll(connection=connection).endswith(f"{len(DEMO_CANDIDATES)} changed, 0 handled, 0 skipped, 0 failed")
    before = SchedulingRequest.objects.count()

    call_command("ats_stage_change", "91200115", "Onsite", stdout=out)
    run_queued()

    assert "Loopwise answered 200" in out.getvalue()
    request = SchedulingRequest.objects.get(application=Application.objects.get(external_id="91200115"))
    assert SchedulingRequest.objects.count() == before + 1
    assert request.state == SchedulingRequest.State.AWAITING_CANDIDATE and request.options
    assert [m for m in mail_fake.state()["messages"] if "ravi.shankar.iyer@" in m["to"][0]]
