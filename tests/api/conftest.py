"""API fixtures: a real key per scope (read, write, read+write, revoked) and a client that sends one.
`world` (a small organisation on the google fake, time at a Monday morning) is the booking tests' own."""

from __future__ import annotations

import pytest
import time_machine
from rest_framework.test import APIClient

from integrations.calendars.freebusy import freebusy_refresh
from integrations.models import Calendar
from scheduling.api.auth import api_key_create, api_key_revoke
from tests.scheduling.booking.conftest import World, build_world
from tests.scheduling.booking.support import NOW


@pytest.fixture
def keys(db) -> dict[str, str]:
    """Raw keys by kind: "read", "write" (read and write), "write_only", "revoked"."""
    out = {}
    for kind, scopes in (("read", ["read"]), ("write", ["read", "write"]), ("write_only", ["write"]),
                         ("revoked", ["read", "write"])):
        key, raw = api_key_create(name=f"{kind}-key", scopes=scopes)
        if kind == "revoked":
            api_key_revoke(key=key)
        out[kind] = raw
    return out


@pytest.fixture
def api(keys):
    """api("read") -> an APIClient sending that key; api(None) sends none."""

    def make(kind: str | None) -> APIClient:
        client = APIClient()
        if kind is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {keys[kind]}")
        return client

    return make


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture
def world(db, google_fake, mail_fake, frozen) -> World:
    """The booking tests' organisation, with its calendars read once (as the periodic refresh would)."""
    built = build_world(google_fake, mail_fake)
    freebusy_refresh(calendars=list(Calendar.objects.all()))
    return built
