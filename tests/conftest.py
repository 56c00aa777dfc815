"""Shared fixtures. Tests run on PostgreSQL (DATABASE_URL, set by `make test`)."""

from __future__ import annotations

import pytest

from tests.factories import UserFactory

pytest_plugins = ["tests.fixtures_fakes"]


@pytest.fixture
def staff_user(db):
    return UserFactory(username="ops", email="ops@example.com")


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture(autouse=True)
def _no_real_sleep(settings):
    """Waits go through scheduling.clock.sleep, capped tiny in tests."""
    settings.LOOPWISE_MAX_SLEEP_SECONDS = 0.01


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Factories set real passwords; the default hasher costs about half a second each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
