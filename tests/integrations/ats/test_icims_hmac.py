"""iCIMS API calls signed by HMAC instead of Basic (issue 9; contract §1.3): reads, Search (a body), the schedule text
written into a workflow field and a status move all go through for an integration user that has no password at all;
a wrong secret is the connection's auth error; a missing user name is named."""

from __future__ import annotations

import pytest

from integrations.ats.base import ProviderError
from integrations.ats.icims import IcimsAts
from integrations.models import AtsConnection

CID, JOB, ADA, ADA_WF = "1234", 42, 777, 555
STATUSES = [("D10100", "New Submissions"), ("C2010", "Schedule Interview"), ("C2020", "Offer")]


@pytest.fixture
def icims(icims_fake):
    icims_fake.seed({
        "customer_id": CID, "api_users": [{"username": "signer", "hmac_secret": "hmac-secret"}],
        "statuses": [{"id": i, "value": v} for i, v in STATUSES], "workflow_fields": ["field50001"],
        "jobs": [{"id": JOB, "jobtitle": "Nurse"}],
        "people": [{"id": ADA, "firstname": "Ana", "lastname": "Ruiz", "email": "ana@example.com"}],
        "workflows": [{"id": ADA_WF, "job": JOB, "person": ADA}]})
    return icims_fake


def adapter(fake, **changes) -> IcimsAts:
    credentials = {"customer_id": CID, "hmac_user": "signer", "hmac_secret": "hmac-secret",
                   "note_field": "field50001", "status_ids": ["C2010"], **changes}
    return IcimsAts(AtsConnection(name="Acme", provider="icims", base_url=fake.url,
                                  credentials={k: v for k, v in credentials.items() if v is not None}))


def test_it_reads_searches_and_writes_with_signed_calls(icims):
    ats = adapter(icims)

    app = ats.get_application(str(ADA_WF))
    person = ats.get_candidate(app.candidate_external_id)
    jobs = ats.list_jobs()
    ats.add_note(str(ADA_WF), "Interview booked", key="ats.note:1:1:booked")
    ats.move_stage(str(ADA_WF), from_stage_external_id="D10100", to_stage_external_id="C2010")

    assert (app.job_external_id, person.email, [j.external_id for j in jobs]) == (str(JOB), "ana@example.com",
                                                                                  [str(JOB)])
    workflow = icims.state()["workflows"][0]
    assert workflow["status"] == "C2010" and "[loopwise:ats.note:1:1:booked]" in workflow["fields"]["field50001"]
    assert {r["status"] for r in icims.requests() if r["path"].startswith("/customers/")} <= {200, 204}


def test_it_checks_auth_with_a_signed_call(icims):
    health = {c.component: c.ok for c in adapter(icims).check_components()}

    assert health["auth"] is True and health["list"] is True and health["search"] is True


def test_a_wrong_secret_is_the_connections_auth_error(icims):
    with pytest.raises(ProviderError) as caught:
        adapter(icims, hmac_secret="not-the-secret").get_application(str(ADA_WF))

    assert (caught.value.reason, caught.value.scope, caught.value.component) == ("auth", "connection", "auth")
    assert "Invalid Username or Password" in caught.value.message


def test_it_names_the_missing_user(icims):
    with pytest.raises(ProviderError) as caught:
        adapter(icims, hmac_user=None).get_application(str(ADA_WF))

    assert "hmac_user" in caught.value.message and caught.value.permanent and icims.requests() == []
