import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """UserFactory hashes a password per user; the default hasher makes that take a second each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
