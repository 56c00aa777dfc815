"""Connection credentials are write-only in the admin: never rendered, kept when left empty, replaced when entered."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.urls import reverse

from integrations.models import AtsConnection, CalendarConnection
from tests import factories as f
from tests.scheduling.admin.helpers import form_data

SECRET = "q7Zx9vKp2LmW4rTn8bYc"  # random enough that no 6-letter piece of it occurs in a page by chance
CONNECTIONS = [
    pytest.param(f.AtsConnectionFactory, "integrations_atsconnection", id="ats"),
    pytest.param(f.CalendarConnectionFactory, "integrations_calendarconnection", id="calendar"),
]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _pieces(secret: str, size: int = 6) -> list[str]:
    return [secret[i:i + size] for i in range(len(secret) - size + 1)]


def _assert_not_shown(html: str) -> None:
    leaked = [piece for piece in _pieces(SECRET) if piece in html]
    assert leaked == []


@pytest.mark.parametrize(("factory", "prefix"), CONNECTIONS)
def test_it_never_shows_the_secret(staff_client, factory, prefix):
    conn = factory(credentials={"client_id": "id-1", "client_secret": SECRET})

    pages = [reverse(f"admin:{prefix}_changelist"), reverse(f"admin:{prefix}_change", args=[conn.pk]),
             reverse(f"admin:{prefix}_history", args=[conn.pk]), reverse(f"admin:{prefix}_delete", args=[conn.pk])]
    for url in pages:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        _assert_not_shown(response.content.decode())

    html = staff_client.get(pages[1]).content.decode()
    assert "Set (2 keys)" in html


@pytest.mark.parametrize(("factory", "prefix"), CONNECTIONS)
def test_it_keeps_the_secret_when_the_field_is_left_empty(staff_client, factory, prefix):
    conn = factory(credentials={"client_secret": SECRET})
    url = reverse(f"admin:{prefix}_change", args=[conn.pk])
    data = form_data(staff_client.get(url))
    assert data.get("new_credentials", "") == ""
    data["name"] = "Renamed"

    response = staff_client.post(url, data)

    assert response.status_code == 302
    conn.refresh_from_db()
    assert conn.name == "Renamed"
    assert conn.credentials == {"client_secret": SECRET}


@pytest.mark.parametrize(("factory", "prefix"), CONNECTIONS)
def test_it_replaces_the_secret_with_a_new_json_object(staff_client, factory, prefix):
    conn = factory(credentials={"client_secret": SECRET})
    url = reverse(f"admin:{prefix}_change", args=[conn.pk])
    data = form_data(staff_client.get(url))
    data["new_credentials"] = '{"api_key": "brand-new-key"}'

    response = staff_client.post(url, data)

    assert response.status_code == 302
    conn.refresh_from_db()
    assert conn.credentials == {"api_key": "brand-new-key"}


@pytest.mark.parametrize(("factory", "prefix"), CONNECTIONS)
def test_it_names_the_field_when_the_json_is_invalid_and_does_not_echo_it(staff_client, factory, prefix):
    conn = factory(credentials={"client_secret": "old"})
    url = reverse(f"admin:{prefix}_change", args=[conn.pk])
    data = form_data(staff_client.get(url))
    data["new_credentials"] = '{"api_key": "' + SECRET + '"'  # unterminated

    response = staff_client.post(url, data)

    html = response.content.decode()
    assert response.status_code == 200
    assert "New credentials: not valid JSON" in html
    _assert_not_shown(html)
    conn.refresh_from_db()
    assert conn.credentials == {"client_secret": "old"}


@pytest.mark.parametrize(("factory", "prefix"), CONNECTIONS)
def test_it_removes_the_secret_when_asked(staff_client, factory, prefix):
    conn = factory(credentials={"client_secret": SECRET})
    url = reverse(f"admin:{prefix}_change", args=[conn.pk])
    data = form_data(staff_client.get(url))
    data["remove_credentials"] = "on"

    assert staff_client.post(url, data).status_code == 302

    conn.refresh_from_db()
    assert conn.credentials == {}
    assert "Not set" in staff_client.get(url).content.decode()


def test_it_creates_a_connection_with_credentials(staff_client):
    response = staff_client.post(reverse("admin:integrations_atsconnection_add"), {
        "name": "Lever EU", "provider": "lever", "fallback_email": "ops@example.com", "active": "on",
        "new_credentials": '{"api_key": "' + SECRET + '"}',
    })

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert AtsConnection.objects.get(name="Lever EU").credentials == {"api_key": SECRET}


def test_it_keeps_the_secret_out_of_the_admin_history(staff_client):
    conn = f.CalendarConnectionFactory(credentials={})
    url = reverse("admin:integrations_calendarconnection_change", args=[conn.pk])
    data = form_data(staff_client.get(url))
    data["new_credentials"] = '{"refresh_token": "' + SECRET + '"}'

    assert staff_client.post(url, data).status_code == 302

    assert CalendarConnection.objects.get(pk=conn.pk).credentials == {"refresh_token": SECRET}
    entries = list(LogEntry.objects.values_list("object_repr", "change_message"))
    assert entries and SECRET not in str(entries)


@pytest.mark.parametrize(("factory", "prefix"), CONNECTIONS)
def test_it_stays_usable_when_no_key_opens_the_stored_secret(staff_client, factory, prefix):
    conn = factory()
    with connection.cursor() as cur:  # as if the key that encrypted it had been dropped from the key list
        cur.execute(f"UPDATE {type(conn)._meta.db_table} SET credentials = %s WHERE id = %s",
                    ["fernet:not-a-token-any-key-opens", conn.pk])
    url = reverse(f"admin:{prefix}_change", args=[conn.pk])

    assert staff_client.get(reverse(f"admin:{prefix}_changelist")).status_code == 200
    response = staff_client.get(url)
    assert response.status_code == 200
    assert "Unreadable: no key in FIELD_ENCRYPTION_KEYS opens them." in response.content.decode()

    data = form_data(response)
    data["new_credentials"] = '{"api_key": "fresh"}'
    assert staff_client.post(url, data).status_code == 302
    assert type(conn).objects.get(pk=conn.pk).credentials == {"api_key": "fresh"}
