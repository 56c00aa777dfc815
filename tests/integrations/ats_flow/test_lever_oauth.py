"""Lever connections authorised by OAuth (issue 9; contract §2.1): a Lever super admin signs in from the connection's
page (authorization code), the access token is refreshed when it is about to expire or Lever answers 401, the
rotated refresh token is kept (encrypted) and spent once even by two workers at the same moment, and a revoked
grant turns the "auth" part red with the sign-in as its fix, in the admin, the email and the dashboard."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.db import connection as db_connection
from django.urls import reverse
from django.utils.html import strip_tags

from integrations.ats.base import provider_for
from integrations.ats.polling import ats_poll
from integrations.models import AtsComponentHealth, AtsConnection, Health
from scheduling.models import AuditEvent, Notice
from tests.integrations.ats_flow.conftest import LV_TOKENS, LV_USER, LV_ZOE_APP, later

OAUTH_CLIENT = {"client_id": "loopwise-lever-app", "client_secret": "lever-app-secret"}


@pytest.fixture
def oauth_flow(lever_flow):
    lever_flow.fake.seed({"oauth_clients": [{**OAUTH_CLIENT, "user_id": LV_USER}]})
    lever_flow.connection.credentials = {**OAUTH_CLIENT, "signature_tokens": LV_TOKENS}
    lever_flow.connection.save(update_fields=["credentials"])
    return lever_flow


def stored(flow) -> dict:
    return AtsConnection.objects.get(pk=flow.connection.pk).credentials


def token_calls(flow, grant: str) -> list[dict]:
    return [c for c in flow.fake.state()["token_calls"] if c["grant_type"] == grant]


def sign_in(flow, staff_client):
    """Staff open the sign-in link; Lever (the fake) approves and sends them back to the callback."""
    start = staff_client.get(reverse("ats_lever_authorize", args=[flow.connection.pk]))
    assert start.status_code == 302 and start["Location"].startswith(flow.fake.url + "/authorize?")
    query = parse_qs(urlsplit(start["Location"]).query)
    assert query["audience"] == ["https://api.lever.co/v1/"] and "offline_access" in query["scope"][0].split()
    approved = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert approved.status_code == 302
    back = urlsplit(approved.headers["Location"])
    return staff_client.get(f"{back.path}?{back.query}")


def test_it_signs_in_to_lever_and_keeps_the_tokens_encrypted(oauth_flow, staff_client):
    answer = sign_in(oauth_flow, staff_client)

    assert answer.status_code == 302
    assert answer["Location"] == reverse("admin:integrations_atsconnection_change", args=[oauth_flow.connection.pk])
    creds = stored(oauth_flow)
    assert creds["access_token"] and creds["refresh_token"] and creds["access_token_expires_at"]
    with db_connection.cursor() as cur:
        cur.execute("SELECT credentials FROM integrations_atsconnection WHERE id = %s", [oauth_flow.connection.pk])
        raw = cur.fetchone()[0]
    assert raw.startswith("fernet:") and creds["refresh_token"] not in raw and creds["access_token"] not in raw
    assert AuditEvent.objects.filter(action="ats_connection.lever_authorized").count() == 1
    assert AtsComponentHealth.objects.get(connection=oauth_flow.connection, component="auth").health == Health.OK

    app = provider_for(AtsConnection.objects.get(pk=oauth_flow.connection.pk)).get_application(LV_ZOE_APP)
    assert app.external_id == LV_ZOE_APP  # the API takes the token


def test_it_refuses_a_callback_it_did_not_start(oauth_flow, staff_client):
    answer = staff_client.get(reverse("ats_lever_callback") + "?code=stolen&state=forged", follow=True)

    assert "does not match the one started here" in answer.content.decode()
    assert "refresh_token" not in stored(oauth_flow) and token_calls(oauth_flow, "authorization_code") == []


def test_it_says_when_a_connection_has_no_oauth_client(lever_flow, staff_client):
    answer = staff_client.get(reverse("ats_lever_authorize", args=[lever_flow.connection.pk]), follow=True)

    assert "has no Lever OAuth client" in answer.content.decode()


def test_it_refreshes_a_token_about_to_expire_and_keeps_the_rotated_refresh_token(oauth_flow, staff_client, frozen):
    sign_in(oauth_flow, staff_client)
    first = stored(oauth_flow)
    later(frozen, minutes=59, seconds=30)  # within a minute of the hour's end

    with provider_for(AtsConnection.objects.get(pk=oauth_flow.connection.pk)) as ats:
        ats.get_application(LV_ZOE_APP)
        ats.get_candidate(ats.get_application(LV_ZOE_APP).candidate_external_id)

    now = stored(oauth_flow)
    assert len(token_calls(oauth_flow, "refresh_token")) == 1  # once, then the new token serves every call
    assert now["access_token"] != first["access_token"] and now["refresh_token"] != first["refresh_token"]
    spent = {t["token"]: t for t in oauth_flow.fake.state()["refresh_tokens"]}
    assert spent[first["refresh_token"]]["used"] and not spent[now["refresh_token"]]["used"]


def test_it_refreshes_once_when_lever_answers_401_and_carries_on(oauth_flow, staff_client):
    sign_in(oauth_flow, staff_client)
    oauth_flow.fake.add_fault(kind="expire_token", count=1)

    app = provider_for(AtsConnection.objects.get(pk=oauth_flow.connection.pk)).get_application(LV_ZOE_APP)

    assert app.external_id == LV_ZOE_APP
    assert len(token_calls(oauth_flow, "refresh_token")) == 1


def test_a_revoked_grant_turns_auth_red_with_the_sign_in_as_its_fix(oauth_flow, staff_client, settings,
                                                                   django_capture_on_commit_callbacks):
    sign_in(oauth_flow, staff_client)
    oauth_flow.fake.add_fault(kind="revoke", target=LV_USER)
    fix = reverse("ats_lever_authorize", args=[oauth_flow.connection.pk])

    with django_capture_on_commit_callbacks(execute=True):
        assert "poll failed (auth)" in ats_poll(connection=oauth_flow.connection)

    auth = AtsComponentHealth.objects.get(connection=oauth_flow.connection, component="auth")
    assert auth.health == Health.RED and "invalid_grant" in auth.last_error and "sign in to Lever" in auth.last_error
    told = Notice.objects.filter(kind="ats.red")
    assert told and all(f"{settings.PUBLIC_BASE_URL}{fix}" in n.body for n in told)
    dashboard = staff_client.get("/dashboard/").content.decode()
    assert f'href="{fix}">Sign in to Lever again (a Lever super admin)</a>' in dashboard
    page = staff_client.get(reverse("admin:integrations_atsconnection_change", args=[oauth_flow.connection.pk]))
    assert f'href="{fix}">Sign in to Lever</a>' in page.content.decode()

    oauth_flow.fake.clear_faults()
    sign_in(oauth_flow, staff_client)  # the fix
    assert "poll failed" not in ats_poll(connection=AtsConnection.objects.get(pk=oauth_flow.connection.pk))
    assert AtsComponentHealth.objects.get(connection=oauth_flow.connection, component="auth").health == Health.OK


def test_an_api_key_connection_has_no_sign_in_fix(lever_flow, staff_client):
    lever_flow.fake.add_fault(kind="bad_credentials")

    ats_poll(connection=lever_flow.connection)

    dashboard = " ".join(strip_tags(staff_client.get("/dashboard/").content.decode()).split())
    assert f"ATS {lever_flow.connection.name}: auth" in dashboard and "Sign in to Lever" not in dashboard


def test_no_token_reaches_a_log_line(oauth_flow, staff_client, frozen, caplog):
    with caplog.at_level("DEBUG"):
        sign_in(oauth_flow, staff_client)
        later(frozen, hours=1)
        provider_for(AtsConnection.objects.get(pk=oauth_flow.connection.pk)).get_application(LV_ZOE_APP)
        oauth_flow.fake.add_fault(kind="revoke")
        later(frozen, hours=1)
        ats_poll(connection=AtsConnection.objects.get(pk=oauth_flow.connection.pk))

    logged = "\n".join(r.getMessage() for r in caplog.records)
    secrets = [OAUTH_CLIENT["client_secret"], *(t["token"] for t in oauth_flow.fake.state()["refresh_tokens"]),
               *(t["token"] for t in oauth_flow.fake.state()["oauth_tokens"])]
    assert secrets and not [s for s in secrets if s in logged]


@pytest.mark.django_db(transaction=True)
def test_two_workers_refreshing_at_once_spend_the_refresh_token_once(oauth_flow, staff_client, frozen):
    sign_in(oauth_flow, staff_client)
    later(frozen, hours=1)  # expired for both
    barrier, errors, read = threading.Barrier(2), [], []

    def worker() -> None:
        try:
            ats = provider_for(AtsConnection.objects.get(pk=oauth_flow.connection.pk))
            barrier.wait(timeout=10)
            read.append(ats.get_application(LV_ZOE_APP).external_id)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == [] and read == [LV_ZOE_APP, LV_ZOE_APP]
    assert len(token_calls(oauth_flow, "refresh_token")) == 1  # the second worker took the first one's token
    assert not any(t["revoked"] for t in oauth_flow.fake.state()["refresh_tokens"])
