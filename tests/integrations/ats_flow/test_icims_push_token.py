"""The OAuth client-credentials token endpoint Loopwise serves per connection, from which iCIMS gets the bearer token
it sends with each push (issue 9; contract §1.4): a good token lets a gzipped push through, stored gunzipped and
processed into a request; an expired, unknown or other connection's token is refused and stores nothing; a wrong
client is refused the OAuth way; only the token's hash is stored and no secret or token reaches a log line."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from integrations.ats.icims import IcimsAts
from integrations.ats.push_tokens import TOKEN_LIFETIME
from integrations.models import AtsComponentHealth, AtsConnection, AtsPushToken, Health
from scheduling.models import AuditEvent, InboundEvent, SchedulingRequest
from tests.integrations.ats_flow.conftest import IC_PUSH_CLIENT, ZOE_APP, later

CLIENT_ID, CLIENT_SECRET = IC_PUSH_CLIENT["push_client_id"], IC_PUSH_CLIENT["push_client_secret"]


def token_url(connection: AtsConnection) -> str:
    return reverse("ats_push_token", args=[connection.webhook_key])


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def get_token(client, connection: AtsConnection, **form):
    form = {"grant_type": "client_credentials", **form}
    headers = {} if "client_id" in form else {"Authorization": basic(CLIENT_ID, CLIENT_SECRET)}
    return client.post(token_url(connection), data=form, headers=headers)


def pushed(flow, stage: str = "Onsite"):
    """What the fake pushed (gzipped, unauthenticated here) for a move."""
    answer = flow.move(stage)
    assert answer["deliveries"], "the fake sent no push"
    return flow.receiver.deliveries[-1]


def with_bearer(sent, token: str) -> dict[str, str]:
    return {**sent.headers, "Authorization": f"Bearer {token}"}


def test_it_issues_a_short_lived_bearer_token_to_the_push_client(icims_flow, client):
    response = get_token(client, icims_flow.connection)

    assert response.status_code == 200 and response["Cache-Control"].startswith("no-store")
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == TOKEN_LIFETIME.total_seconds() == 900
    [stored] = AtsPushToken.objects.all()
    assert stored.connection == icims_flow.connection
    assert stored.token_hash == hashlib.sha256(body["access_token"].encode()).hexdigest() != body["access_token"]
    assert stored.expires_at - stored.issued_at == TOKEN_LIFETIME


def test_it_takes_the_client_as_form_fields_too(icims_flow, client):
    response = get_token(client, icims_flow.connection, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)

    assert response.status_code == 200 and response.json()["access_token"]


def test_it_accepts_a_push_with_its_token_stores_it_gunzipped_and_makes_the_request(icims_flow, client, post_webhook,
                                                                                   run_queued):
    token = get_token(client, icims_flow.connection).json()["access_token"]
    sent = pushed(icims_flow)
    assert sent.headers["Content-Encoding"] == "gzip" and sent.body[:2] == b"\x1f\x8b"

    response = post_webhook(icims_flow, sent.body, with_bearer(sent, token))
    run_queued()

    assert response.status_code == 200
    [event] = InboundEvent.objects.all()
    assert json.loads(event.raw_body)["systemId"] == str(ZOE_APP) and event.state == "done"
    assert event.event_key == f"icims:1234:{ZOE_APP}:C2010"
    [request] = SchedulingRequest.objects.all()
    assert request.application.external_id == str(ZOE_APP) and request.options
    events = AtsComponentHealth.objects.get(connection=icims_flow.connection, component="events")
    assert events.health == Health.OK


def test_it_refuses_a_push_whose_token_has_expired(icims_flow, client, post_webhook, frozen):
    token = get_token(client, icims_flow.connection).json()["access_token"]
    sent = pushed(icims_flow)
    later(frozen, minutes=15, seconds=1)

    response = post_webhook(icims_flow, sent.body, with_bearer(sent, token))

    assert response.status_code == 401 and "expired" in response.json()["error"]
    assert InboundEvent.objects.count() == 0


@pytest.mark.parametrize("authorization", ["Bearer made-up-token", "", "Basic aWNpbXM6cHVzaC1wYXNzd29yZA=="])
def test_it_refuses_a_push_without_a_token_it_issued(icims_flow, post_webhook, authorization):
    sent = pushed(icims_flow)
    headers = {**sent.headers, "Authorization": authorization} if authorization else dict(sent.headers)

    response = post_webhook(icims_flow, sent.body, headers)

    assert response.status_code == 401
    assert InboundEvent.objects.count() == 0


def test_it_refuses_a_token_issued_to_another_connection(icims_flow, client, post_webhook):
    other = AtsConnection.objects.create(name="Other iCIMS", provider="icims", fallback_email="ops@other.test",
                                         credentials=dict(icims_flow.connection.credentials))
    token = get_token(client, other).json()["access_token"]
    sent = pushed(icims_flow)

    response = post_webhook(icims_flow, sent.body, with_bearer(sent, token))

    assert response.status_code == 401 and InboundEvent.objects.count() == 0


def test_it_refuses_a_wrong_secret_the_oauth_way(icims_flow, client):
    response = client.post(token_url(icims_flow.connection), data={"grant_type": "client_credentials"},
                           headers={"Authorization": basic(CLIENT_ID, "not-the-secret")})

    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic")
    assert AtsPushToken.objects.count() == 0


@pytest.mark.parametrize(("form", "headers", "status", "error"), [
    ({"grant_type": "password"}, True, 400, "unsupported_grant_type"),
    ({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, True, 400,
     "invalid_request"),
    ({"grant_type": "client_credentials"}, False, 401, "invalid_client"),
])
def test_it_names_what_is_wrong_with_a_token_request(icims_flow, client, form, headers, status, error):
    response = client.post(token_url(icims_flow.connection), data=form,
                           headers={"Authorization": basic(CLIENT_ID, CLIENT_SECRET)} if headers else {})

    assert response.status_code == status and response.json()["error"] == error
    assert response.json()["error_description"]


def test_it_serves_tokens_only_to_a_connection_set_up_for_oauth_pushes(icims_flow, client):
    connection = icims_flow.connection
    connection.credentials = {**connection.credentials, "push_auth": "basic"}
    connection.save(update_fields=["credentials"])

    assert get_token(client, connection).status_code == 401
    assert client.post(reverse("ats_push_token", args=["no-such-key"]),
                       data={"grant_type": "client_credentials"}).status_code == 404
    assert client.get(token_url(connection)).status_code == 405


def test_it_never_logs_the_secret_or_the_token(icims_flow, client, post_webhook, caplog):
    with caplog.at_level(logging.DEBUG):
        token = get_token(client, icims_flow.connection).json()["access_token"]
        client.post(token_url(icims_flow.connection), data={"grant_type": "client_credentials"},
                    headers={"Authorization": basic(CLIENT_ID, CLIENT_SECRET + "-typo")})
        sent = pushed(icims_flow)
        post_webhook(icims_flow, sent.body, with_bearer(sent, token + "x"))
        post_webhook(icims_flow, sent.body, with_bearer(sent, token))

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"connection #{icims_flow.connection.pk}" in logged  # the refusals are logged ...
    assert CLIENT_SECRET not in logged and token not in logged  # ... without what would let anyone in
    assert InboundEvent.objects.count() == 1


def test_it_forgets_expired_tokens_when_it_issues_a_new_one(icims_flow, client, frozen):
    get_token(client, icims_flow.connection)
    later(frozen, minutes=20)

    get_token(client, icims_flow.connection)

    assert AtsPushToken.objects.count() == 1
    assert AtsPushToken.objects.get().expires_at > dt.datetime.now(dt.UTC)


def test_the_admin_makes_a_new_push_client_and_shows_it_once(icims_flow, client, staff_client):
    get_token(client, icims_flow.connection)
    changelist = reverse("admin:integrations_atsconnection_changelist")

    shown = staff_client.post(changelist, {"action": "generate_push_client",
                                           ACTION_CHECKBOX_NAME: [icims_flow.connection.pk]})

    assert shown.status_code == 200 and "no-store" in shown["Cache-Control"]
    page = shown.content.decode()
    creds = AtsConnection.objects.get(pk=icims_flow.connection.pk).credentials
    assert creds["push_auth"] == "oauth" and creds["push_client_id"] != CLIENT_ID
    assert creds["push_client_id"] in page and creds["push_client_secret"] in page
    assert "http://127.0.0.1:8000" + token_url(icims_flow.connection) in page
    assert AtsPushToken.objects.count() == 0  # the old client's tokens stop working at once
    assert AuditEvent.objects.filter(action="ats_connection.push_client_generated").count() == 1
    change = staff_client.get(reverse("admin:integrations_atsconnection_change", args=[icims_flow.connection.pk]))
    assert token_url(icims_flow.connection) in change.content.decode()
    assert creds["push_client_secret"] not in change.content.decode()
    new = client.post(token_url(icims_flow.connection), data={"grant_type": "client_credentials"},
                      headers={"Authorization": basic(creds["push_client_id"], creds["push_client_secret"])})
    assert new.status_code == 200 and get_token(client, icims_flow.connection).status_code == 401


def test_the_admin_gives_a_push_client_to_one_icims_connection_only(icims_flow, staff_client):
    other = AtsConnection.objects.create(name="Acme Lever", provider="lever", fallback_email="ops@acme.test")

    answer = staff_client.post(reverse("admin:integrations_atsconnection_changelist"),
                               {"action": "generate_push_client", ACTION_CHECKBOX_NAME: [other.pk]}, follow=True)

    assert "Select exactly one iCIMS connection" in answer.content.decode()
    assert "push_client_id" not in AtsConnection.objects.get(pk=other.pk).credentials


def test_the_connection_check_counts_an_oauth_push_client_as_configured(icims_flow):
    events = {c.component: c for c in IcimsAts(icims_flow.connection).check_components()}["events"]

    assert events.ok is None and events.message.startswith("oauth push credentials configured")
