"""Keys for the integrator API (`/api/v1/`): named, scoped, stored hashed, revocable."""

from __future__ import annotations

import hashlib
import secrets

from django.db import models
from django.db.models import Q

__all__ = ["ApiKey"]


class ApiKey(models.Model):
    """One integrator's key. The raw key ("lw_<prefix>_<secret>") is shown once, at creation; only its SHA-256
    is stored. Keys are 256-bit random strings, so a plain hash is enough (no slow password hash: nothing to
    brute-force) and a lookup by `prefix` then a constant-time compare keeps authentication to one query."""

    class Scope(models.TextChoices):
        READ = "read", "read"
        WRITE = "write", "write"

    name = models.CharField(max_length=100, unique=True, help_text="Who uses it, e.g. 'careers-site'. Shown in "
                                                                   "the audit log as api:<name>.")
    prefix = models.CharField(max_length=16, unique=True, editable=False, help_text="Public part, for lookup.")
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list, help_text='A list of "read" and "write".')
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API key"
        indexes = [models.Index(fields=["prefix"], condition=Q(revoked_at__isnull=True),
                                name="scheduling_apikey_live_prefix")]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @staticmethod
    def generate() -> tuple[str, str]:
        """A fresh (prefix, raw key)."""
        prefix = secrets.token_hex(6)
        return prefix, f"lw_{prefix}_{secrets.token_urlsafe(32)}"

    @staticmethod
    def prefix_of(raw: str) -> str | None:
        parts = raw.split("_", 2)
        if len(parts) != 3 or parts[0] != "lw" or not parts[1] or not parts[2]:
            return None
        return parts[1]

    def matches(self, raw: str) -> bool:
        return secrets.compare_digest(self.key_hash, self.hash(raw))

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])

    @property
    def actor_label(self) -> str:
        """How the audit log names this key's writes."""
        return f"api:{self.name}"[:64]
