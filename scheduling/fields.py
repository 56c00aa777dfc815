"""Encrypted model fields on `cryptography`'s MultiFernet, with a dedicated key list.

Why not django-fernet-encrypted-fields: it derives its keys from SECRET_KEY (so rotating the
session key touches every secret), and when a value cannot be decrypted it quietly returns the
ciphertext, which would turn a key mistake into a confusing provider error. Here the keys are
their own list (`FIELD_ENCRYPTION_KEYS`, newest first), a value that no key opens raises
`SecretUnreadable`, and `rotate()` re-encrypts under the newest key (`manage.py rotate_secrets`).
"""

from __future__ import annotations

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "fernet:"


class SecretUnreadable(Exception):
    """A stored secret that none of FIELD_ENCRYPTION_KEYS can decrypt."""


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS: at least one Fernet key is needed")
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError as e:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS: not a valid Fernet key ({e})") from None


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(text: str) -> str:
    return PREFIX + fernet().encrypt(text.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise SecretUnreadable("stored value is not encrypted")
    try:
        return fernet().decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("no key in FIELD_ENCRYPTION_KEYS opens this secret") from None


def rotate(stored: str) -> str:
    """The same secret, encrypted under the newest key."""
    try:
        return PREFIX + fernet().rotate(stored[len(PREFIX):].encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("no key in FIELD_ENCRYPTION_KEYS opens this secret") from None


class EncryptedTextField(models.TextField):
    """A text secret; stored encrypted, empty string stored as empty."""

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(str(value))


class EncryptedJSONField(models.TextField):
    """A JSON document of secrets (client id and secret, refresh token ...), stored encrypted."""

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return {}
        return json.loads(decrypt(value))

    def to_python(self, value):
        if isinstance(value, dict):
            return value
        if value in (None, ""):
            return {}
        return json.loads(value)

    def get_prep_value(self, value):
        if value in (None, "", {}):
            return ""
        return encrypt(json.dumps(value, sort_keys=True))

    def value_to_string(self, obj):
        return "(secret)"
