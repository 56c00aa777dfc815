"""`ats_stage_change`, the demo's way to move a candidate in the Greenhouse fake: the fake sends its signed webhook."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from tests.integrations.ats_flow.conftest import ZOE_APP


def test_it_moves_the_application_in_the_fake_which_sends_its_webhook(flow):
    out = io.StringIO()

    call_command("ats_stage_change", str(ZOE_APP), "Onsite", stdout=out)

    assert f"Application {ZOE_APP} moved from 'Application Review' to 'Onsite'" in out.getvalue()
    assert "Loopwise answered 200" in out.getvalue()
    [sent] = flow.receiver.deliveries
    assert b'"candidate_stage_change"' in sent.body and sent.headers["Signature"].startswith("sha256 ")


def test_it_says_what_the_fake_refused(flow):
    with pytest.raises(CommandError, match="no stage 'Nowhere'"):
        call_command("ats_stage_change", str(ZOE_APP), "Nowhere")
