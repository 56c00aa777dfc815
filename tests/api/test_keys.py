"""Keys are made in the admin or by `manage.py create_api_key`, shown once, and revoked by an admin action."""

from __future__ import annotations

import io

from django.core.management import call_command

from scheduling.models import ApiKey


def test_it_prints_a_new_key_once(db):
    out = io.StringIO()
    call_command("create_api_key", "careers-site", "--scopes", "read,write", stdout=out, stderr=io.StringIO())
    raw = out.getvalue().strip()
    key = ApiKey.objects.get(name="careers-site")
    assert key.scopes == ["read", "write"] and key.matches(raw) and raw not in key.key_hash


def test_it_creates_a_key_in_the_admin_and_shows_it_in_a_message(staff_client):
    response = staff_client.post("/admin/scheduling/apikey/add/", {"name": "data-team", "scope_choices": ["read"]},
                                 follow=True)
    key = ApiKey.objects.get(name="data-team")
    shown = [str(m) for m in response.context["messages"]]
    raw = next(word for m in shown for word in m.split() if word.startswith("lw_"))
    assert key.matches(raw) and key.scopes == ["read"]
    assert raw not in staff_client.get(f"/admin/scheduling/apikey/{key.pk}/change/").content.decode()


def test_it_revokes_keys_from_the_admin(staff_client, keys, api):
    key = ApiKey.objects.get(name="read-key")
    staff_client.post("/admin/scheduling/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api("read").get("/api/v1/pools/").status_code == 401
