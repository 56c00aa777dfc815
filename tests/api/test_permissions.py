"""Who may call what: no key, a wrong key, a revoked key (401); a read key writing (403); a write key, a staff
session (allowed); last use recorded."""

from __future__ import annotations

from rest_framework.test import APIClient

from scheduling.models import ApiKey
from tests import factories as f

LIST = "/api/v1/requisitions/"


def test_it_answers_401_without_a_key(api):
    response = api(None).get(LIST)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == {"errors": [{"field": None, "message": "Authentication credentials were not "
                                                                     "provided."}]}


def test_it_answers_401_for_a_wrong_key(api, keys):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=keys["read"][:-2] + "xx")
    assert client.get(LIST).status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-key")
    assert client.get(LIST).json()["errors"][0]["message"] == "invalid API key"


def test_it_answers_401_for_a_revoked_key(api):
    response = api("revoked").get(LIST)
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "this API key has been revoked"


def test_it_answers_403_when_a_read_key_writes(api):
    candidate = f.CandidateFactory()
    response = api("read").post(f"/api/v1/candidates/{candidate.pk}/erase")
    assert response.status_code == 403
    assert response.json() == {"errors": [{"field": None, "message": "this API key lacks the write scope"}]}
    candidate.refresh_from_db()
    assert candidate.erased_at is None


def test_it_answers_403_when_a_write_only_key_reads(api):
    assert api("write_only").get(LIST).status_code == 403


def test_it_lets_a_write_key_write(api):
    candidate = f.CandidateFactory()
    assert api("write").post(f"/api/v1/candidates/{candidate.pk}/erase").status_code == 200


def test_it_lets_a_staff_session_read_and_write(staff_user):
    client = APIClient()
    client.force_login(staff_user)
    f.RequisitionFactory(title="Backend Engineer")
    assert client.get(LIST).json()["results"][0]["title"] == "Backend Engineer"
    candidate = f.CandidateFactory()
    assert client.post(f"/api/v1/candidates/{candidate.pk}/erase").status_code == 200


def test_it_refuses_a_session_that_is_not_staff(db):
    client = APIClient()
    client.force_login(f.UserFactory(is_staff=False, is_superuser=False))
    assert client.get(LIST).status_code == 401


def test_it_records_when_a_key_was_last_used(api):
    assert ApiKey.objects.get(name="read-key").last_used_at is None
    api("read").get(LIST)
    assert ApiKey.objects.get(name="read-key").last_used_at is not None


def test_it_stores_only_the_hash(keys):
    key = ApiKey.objects.get(name="read-key")
    assert keys["read"] not in (key.key_hash, key.prefix) and key.key_hash == ApiKey.hash(keys["read"])
