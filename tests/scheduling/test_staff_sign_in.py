"""Staff sign in with email and password through allauth; there is no public sign-up."""

from __future__ import annotations

import pytest

from tests.factories import UserFactory


@pytest.mark.django_db
def test_it_signs_staff_in_with_email_and_password_and_opens_the_admin(client):
    UserFactory(username="casey", email="casey@example.com", password="a-long-enough-pass-phrase")
    resp = client.post("/accounts/login/", {"login": "casey@example.com", "password": "a-long-enough-pass-phrase"})
    assert resp.status_code == 302 and resp["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_it_refuses_a_wrong_password_and_names_the_problem(client):
    UserFactory(username="casey", email="casey@example.com", password="a-long-enough-pass-phrase")
    resp = client.post("/accounts/login/", {"login": "casey@example.com", "password": "wrong"})
    assert resp.status_code == 200 and b"not correct" in resp.content
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_there_is_no_public_sign_up(client):
    resp = client.post("/accounts/signup/", {"email": "eve@example.com", "password1": "x-Very-long-pass-1",
                                             "password2": "x-Very-long-pass-1"})
    assert b"Sign Up Closed" in resp.content or resp.status_code in (403, 404)
    from scheduling.models import User

    assert not User.objects.filter(email="eve@example.com").exists()


@pytest.mark.django_db
def test_the_health_endpoint_answers_when_the_database_does(client):
    assert client.get("/healthz").json() == {"status": "ok"}
