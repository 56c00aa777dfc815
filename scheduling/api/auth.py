"""Who may call the API: an API key (`Authorization: Bearer <key>`) with scopes read/write, or a signed-in staff
user (their session, with Django's CSRF check on writes). Keys are created with `api_key_create` (the admin and
`manage.py create_api_key` call it) and revoked with `api_key_revoke`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from rest_framework import authentication, exceptions, permissions

from scheduling import clock
from scheduling.audit import audit_log
from scheduling.models import ApiKey

__all__ = ["ApiKeyAuthentication", "StaffSessionAuthentication", "HasScope", "ApiKeyUser", "api_key_create",
           "api_key_revoke", "actor_label", "SCOPES"]

SCOPES = tuple(ApiKey.Scope.values)
# last_used_at is written at most this often per key: one UPDATE per request would double the work of a read.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def api_key_create(*, name: str, scopes: list[str], actor=None) -> tuple[ApiKey, str]:
    """Create a key; returns it and the raw key, which is shown once and never stored. Raises ValueError on an
    unknown scope or an empty list."""
    scopes = sorted(set(scopes))
    if not scopes or any(s not in SCOPES for s in scopes):
        raise ValueError(f"scopes must be a non-empty subset of {', '.join(SCOPES)}")
    prefix, raw = ApiKey.generate()
    with transaction.atomic():
        key = ApiKey.objects.create(name=name, prefix=prefix, key_hash=ApiKey.hash(raw), scopes=scopes,
                                    created_at=clock.now())
        audit_log(action="api_key.created", obj=key, actor=actor, summary=f"scopes {','.join(scopes)}")
    return key, raw


def api_key_revoke(*, key: ApiKey, actor=None) -> bool:
    """Revoke a key (its next request answers 401). Returns False when it was revoked already."""
    with transaction.atomic():
        won = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=clock.now())
        if won:
            audit_log(action="api_key.revoked", obj=key, actor=actor)
    key.refresh_from_db(fields=["revoked_at"])
    return bool(won)


@dataclass(frozen=True)
class ApiKeyUser:
    """`request.user` for a key: authenticated, never staff, never a database user (so never an audit `actor`)."""

    key: ApiKey
    is_authenticated: bool = True
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    is_anonymous: bool = False

    @property
    def pk(self) -> None:
        return None

    def __str__(self) -> str:
        return self.key.actor_label


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer lw_<prefix>_<secret>`: one indexed lookup by prefix, then a constant-time compare
    of SHA-256 digests. A missing header leaves the next authenticator to try; a wrong, unknown or revoked key
    is a 401."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("the Authorization header must be 'Bearer <key>'")
        try:
            raw = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("invalid API key") from None
        prefix = ApiKey.prefix_of(raw)
        key = ApiKey.objects.filter(prefix=prefix).first() if prefix else None
        if key is None or not key.matches(raw):
            raise exceptions.AuthenticationFailed("invalid API key")
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("this API key has been revoked")
        now = clock.now()
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
        return ApiKeyUser(key), key

    def authenticate_header(self, request) -> str:
        # Makes an unauthenticated request a 401 with WWW-Authenticate, not a 403.
        return f'{self.keyword} realm="api"'


class StaffSessionAuthentication(authentication.SessionAuthentication):
    """A signed-in staff user's session (the admin's), with the CSRF check DRF applies to session writes."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None or not result[0].is_staff:
            return None
        return result


class HasScope(permissions.BasePermission):
    """Safe methods need the read scope, others the write scope; a view may name its own with `required_scope`
    (the solver's door needs only read). Staff sessions may do everything."""

    message = "this API key lacks the scope this operation needs"

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            scope = getattr(view, "required_scope", None) or (
                ApiKey.Scope.READ if request.method in permissions.SAFE_METHODS else ApiKey.Scope.WRITE)
            if not request.auth.has_scope(scope):
                self.message = f"this API key lacks the {scope!s} scope"
                return False
            return True
        user = request.user
        if user is None or not getattr(user, "is_authenticated", False):
            raise exceptions.NotAuthenticated()
        return bool(user.is_staff and user.is_active)


def actor_label(request) -> str:
    """The audit log's name for whoever made this request: `api:<key name>`, or `staff:<username>`."""
    if isinstance(request.auth, ApiKey):
        return request.auth.actor_label
    return f"staff:{request.user.get_username()}"[:64]


def actor_user(request):
    """The database user behind a staff session (an audit `actor`), or None for a key."""
    return None if isinstance(request.auth, ApiKey) else request.user
