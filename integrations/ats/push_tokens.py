"""The OAuth 2.0 client-credentials token endpoint Loopwise serves to an ATS for its pushes (iCIMS, issue 9).

iCIMS can authenticate its Event Notifications by OAuth: it calls *our* client-credentials token URL and expects
`{"access_token", "token_type": "Bearer", "expires_in"}` (contracts/icims-jobvite.md §1.4), then sends the token as
`Authorization: Bearer` on each push. Each connection has its own URL, `/webhooks/ats/<webhook key>/token` (the
webhook key keeps it unguessable), and its own client: `push_client_id` and `push_client_secret` in the connection's
encrypted credentials, with `push_auth` "oauth". `push_client_generate` makes a fresh pair (the admin action shows
it once, for the customer's iCIMS setup).

Choices where the contract is silent:
- The request is RFC 6749 §4.4: `grant_type=client_credentials`, the client authenticated by HTTP Basic (the RFC's
  preferred form, §2.3.1: id and secret form-encoded, then base64) or by `client_id`/`client_secret` form fields;
  both at once is refused (§2.3). A `scope` or `audience` is accepted and ignored.
- Tokens live TOKEN_LIFETIME (15 minutes: a push comes in well under a second, so a captured token is worth little
  for long; iCIMS asks for a new one when `expires_in` runs out). Only the token's SHA-256 is stored (AtsPushToken);
  a stolen database gives nobody a working token. The connection's expired tokens are deleted when it gets a new one.
- Errors follow RFC 6749 §5.2: 400 `invalid_request` / `unsupported_grant_type`, 401 `invalid_client` (with
  `WWW-Authenticate` when the client tried Basic). Nothing secret is logged: the connection id and the error code.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import unquote_plus

from django.db import transaction

from integrations.models import AtsConnection, AtsPushToken
from scheduling import clock
from scheduling.audit import audit_log

__all__ = ["TOKEN_LIFETIME", "PushTokenRefused", "IssuedToken", "client_from_request", "push_token_issue",
           "push_token_valid", "push_client_generate", "token_hash"]

logger = logging.getLogger(__name__)

TOKEN_LIFETIME = dt.timedelta(minutes=15)


class PushTokenRefused(Exception):
    """A token request refused: `error` is the RFC 6749 code, `description` safe to answer (no secret in it)."""

    def __init__(self, error: str, description: str, *, status: int = 400, basic: bool = False):
        super().__init__(f"{error}: {description}")
        self.error, self.description, self.status, self.basic = error, description, status, basic


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int

    def as_json(self) -> dict:
        return {"access_token": self.access_token, "token_type": "Bearer", "expires_in": self.expires_in}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def client_from_request(authorization: str, form: dict[str, str]) -> tuple[str, str, bool]:
    """(client_id, client_secret, by Basic) from the Authorization header or the form; raises PushTokenRefused."""
    by_form = "client_id" in form or "client_secret" in form
    if authorization.lower().startswith("basic "):
        if by_form:
            raise PushTokenRefused("invalid_request", "authenticate the client one way: Basic or form fields")
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise PushTokenRefused("invalid_client", "malformed Basic Authorization header", status=401,
                                   basic=True) from None
        client_id, sep, client_secret = decoded.partition(":")
        if not sep:
            raise PushTokenRefused("invalid_client", "malformed Basic Authorization header", status=401, basic=True)
        return unquote_plus(client_id), unquote_plus(client_secret), True
    if authorization:
        raise PushTokenRefused("invalid_client", "unsupported client authentication", status=401)
    if not form.get("client_id"):
        raise PushTokenRefused("invalid_client", "no client credentials (Basic, or client_id and client_secret)",
                               status=401)
    return form.get("client_id", ""), form.get("client_secret", ""), False


def push_token_issue(*, connection: AtsConnection, grant_type: str, client_id: str, client_secret: str,
                     basic: bool = False) -> IssuedToken:
    """A new token for `connection`'s push client, or PushTokenRefused. Compares in constant time."""
    if grant_type != "client_credentials":
        raise PushTokenRefused("unsupported_grant_type", "only grant_type=client_credentials is served here")
    creds = connection.credentials or {}
    wanted_id, wanted_secret = str(creds.get("push_client_id") or ""), str(creds.get("push_client_secret") or "")
    configured = str(creds.get("push_auth") or "").lower() == "oauth" and wanted_id and wanted_secret
    matches = hmac.compare_digest(client_id.encode(), wanted_id.encode()) & hmac.compare_digest(
        client_secret.encode(), wanted_secret.encode())
    if not configured or not matches:
        logger.warning("push token refused for ATS connection #%s: invalid_client%s", connection.pk,
                       "" if configured else " (push_auth is not oauth with a push client)")
        raise PushTokenRefused("invalid_client", "unknown client or wrong secret", status=401, basic=basic)
    token, now = secrets.token_urlsafe(32), clock.now()
    with transaction.atomic():
        AtsPushToken.objects.filter(connection=connection, expires_at__lte=now).delete()
        AtsPushToken.objects.create(connection=connection, token_hash=token_hash(token), issued_at=now,
                                    expires_at=now + TOKEN_LIFETIME)
    logger.info("push token issued for ATS connection #%s", connection.pk)
    return IssuedToken(access_token=token, expires_in=int(TOKEN_LIFETIME.total_seconds()))


def push_token_valid(*, connection: AtsConnection, token: str) -> bool:
    """True when `token` was issued to `connection` and has not expired."""
    if not token or connection.pk is None:
        return False
    return AtsPushToken.objects.filter(connection_id=connection.pk, token_hash=token_hash(token),
                                       expires_at__gt=clock.now()).exists()


def push_client_generate(*, connection: AtsConnection, actor=None) -> tuple[str, str]:
    """A fresh push client for `connection` (push_auth "oauth"), replacing any other push credentials' mode; its
    tokens already issued stop working. Returns (client_id, client_secret): show them once."""
    client_id, client_secret = f"loopwise-{connection.pk}-{secrets.token_hex(4)}", secrets.token_urlsafe(32)
    with transaction.atomic():
        row = AtsConnection.objects.select_for_update().get(pk=connection.pk)
        creds = dict(row.credentials or {})
        creds.update(push_auth="oauth", push_client_id=client_id, push_client_secret=client_secret)
        row.credentials = creds
        row.save(update_fields=["credentials"])
        AtsPushToken.objects.filter(connection=row).delete()
        audit_log(action="ats_connection.push_client_generated", obj=row, actor=actor,
                  summary=f"new push OAuth client {client_id}")
    connection.credentials = creds
    return client_id, client_secret
