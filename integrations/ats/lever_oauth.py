"""Lever connections authorised by OAuth 2.0 (issue 9): the authorization-code sign-in that gives Loopwise a refresh
token, and the refresh itself (contracts/greenhouse-lever.md §2.1).

Credentials of such a connection: `client_id`, `client_secret` (the Lever OAuth app), then, once a Lever super admin
has signed in through Loopwise, `access_token`, `access_token_expires_at` (ISO 8601), `refresh_token`, all inside the
connection's encrypted credentials; `perform_as` is optional (a token already acts as the user who authorised it).
`authorize_url`/`token_url` override Lever's (`https://auth.lever.co/authorize`, `.../oauth/token`), as does a
custom `base_url` (the fake serves both on its own host).

- Sign-in (`authorize_start`, `authorize_finish`): staff open `/integrations/ats/<pk>/lever/authorize`, which
  redirects to Lever's authorize page with `audience=https://api.lever.co/v1/`, the scopes Loopwise needs (with
  `offline_access`, for a refresh token), `prompt=consent` and a random `state` kept in the session; Lever sends
  them back to `/integrations/ats/lever/callback` with a `code`, exchanged for the tokens, which replace the stored
  ones. This is the fix of a revoked grant, as a consent link is for a Google calendar: `fix_path` names it, and
  the red "auth" component, its email and the dashboard link to it.
- Refresh (`token_refresh`): when the access token is missing, expires within REFRESH_MARGIN, or Lever answers
  401. Lever rotates refresh tokens on every use (§2.1), so a refresh runs under a row lock on the connection: a
  worker that finds another has just refreshed takes that worker's token instead of spending the old refresh token
  a second time (Auth0 may treat a reused refresh token as stolen and revoke the whole grant). The new pair is
  saved before the lock is released.
- Errors: `invalid_grant` (revoked, expired or already used refresh token, or a bad code) and `invalid_client`
  (wrong client secret) are permanent `reason="auth"` errors of the "auth" component, scope "connection", naming the
  fix; 429, 5xx and transport failures are transient. No token or secret is ever put in a message or a log line.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from integrations.errors import ProviderError
from integrations.http import DEFAULT_TIMEOUT, transport_failure
from integrations.models import AtsConnection
from scheduling import clock
from scheduling.audit import audit_log
from scheduling.errors import LoopwiseError

__all__ = ["AUTHORIZE_URL", "TOKEN_URL", "AUDIENCE", "SCOPES", "REFRESH_MARGIN", "SESSION_KEY", "LeverOAuthError",
           "Started", "uses_refresh", "fix_path", "redirect_uri", "token_refresh", "authorize_start",
           "authorize_finish"]

AUTHORIZE_URL = "https://auth.lever.co/authorize"
TOKEN_URL = "https://auth.lever.co/oauth/token"
AUDIENCE = "https://api.lever.co/v1/"
SCOPES = ("opportunities:read:admin", "opportunities:write:admin", "stages:read:admin", "postings:read:admin",
          "notes:write:admin", "contact:read:admin", "users:read:admin", "webhooks:write:admin", "offline_access")
REFRESH_MARGIN = dt.timedelta(seconds=60)
DEFAULT_LIFETIME = dt.timedelta(hours=1)   # §2.1: access tokens last 1 h; used when `expires_in` is missing
SESSION_KEY = "lever_oauth"
PERMANENT_ERRORS = {"invalid_grant", "invalid_client", "unauthorized_client", "access_denied"}


class LeverOAuthError(LoopwiseError):
    """The sign-in could not be completed; the message is safe to show to staff."""


@dataclass(frozen=True)
class Started:
    authorize_url: str
    state: str


def uses_refresh(credentials: dict) -> bool:
    """True for a connection set up for OAuth with refresh (a client, not an API key)."""
    return bool(credentials.get("client_id") and credentials.get("client_secret") and not credentials.get("api_key"))


def fix_path(connection: AtsConnection) -> str:
    return reverse("ats_lever_authorize", args=[connection.pk])


def redirect_uri() -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("ats_lever_callback")


def _endpoints(connection: AtsConnection, credentials: dict) -> tuple[str, str]:
    custom = (connection.base_url or "").rstrip("/")
    if custom.endswith("/v1"):
        custom = custom[:-3]
    authorize = str(credentials.get("authorize_url") or (custom + "/authorize" if custom else AUTHORIZE_URL))
    token = str(credentials.get("token_url") or (custom + "/oauth/token" if custom else TOKEN_URL))
    return authorize, token


def _expires_at(answer: dict) -> str:
    lifetime = answer.get("expires_in")
    seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else \
        DEFAULT_LIFETIME.total_seconds()
    return (clock.now() + dt.timedelta(seconds=seconds)).isoformat()


def _fresh(credentials: dict) -> bool:
    """The stored access token is there and good for more than REFRESH_MARGIN."""
    if not credentials.get("access_token"):
        return False
    try:
        expires = dt.datetime.fromisoformat(str(credentials.get("access_token_expires_at") or ""))
    except ValueError:
        return False
    return expires.tzinfo is not None and expires - REFRESH_MARGIN > clock.now()


def _token_call(connection: AtsConnection, credentials: dict, form: dict[str, str], *, what: str,
                session: requests.Session | None = None, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """POST the token endpoint; the JSON answer, or a classified ProviderError (component "auth")."""
    _, url = _endpoints(connection, credentials)
    body = {**form, "client_id": str(credentials.get("client_id") or ""),
            "client_secret": str(credentials.get("client_secret") or "")}
    try:
        resp = (session or requests).post(url, data=body, timeout=timeout, allow_redirects=False,
                                          headers={"Accept": "application/json"})
    except requests.RequestException as e:
        raise transport_failure(e, provider="Lever's token endpoint", component="auth", what=what) from e
    try:
        answer = resp.json()
    except ValueError:
        answer = {}
    answer = answer if isinstance(answer, dict) else {}
    if 200 <= resp.status_code < 300 and isinstance(answer.get("access_token"), str) and answer["access_token"]:
        return answer
    error = str(answer.get("error") or "")
    described = f"{error}: {answer.get('error_description') or ''}".strip(": ") or f"HTTP {resp.status_code}"
    if resp.status_code == 429 or resp.status_code >= 500:
        wait = resp.headers.get("Retry-After") or ""
        raise ProviderError(f"Lever's token endpoint answered {resp.status_code} on {what}", permanent=False,
                            scope="connection", status=resp.status_code, reason="token_unavailable",
                            component="auth", retry_after=float(wait) if wait.isdigit() else None)
    if error == "invalid_client":
        message = (f"Lever refused the OAuth client on {what} ({described}): check client_id and client_secret, "
                   "then sign in to Lever again")
    elif error in PERMANENT_ERRORS or resp.status_code in (400, 401, 403):
        message = (f"Lever refused the grant on {what} ({described}): it was revoked, expired or already used; a "
                   "Lever super admin must sign in to Lever again from the connection's page")
    else:
        message = f"Lever's token endpoint answered {resp.status_code} on {what} ({described})"
    raise ProviderError(message, permanent=True, scope="connection", status=resp.status_code, reason="auth",
                        component="auth")


def token_refresh(connection: AtsConnection, *, stale: str | None, session: requests.Session | None = None,
                  timeout: float = DEFAULT_TIMEOUT) -> dict:
    """The connection's credentials with an access token good for more than REFRESH_MARGIN: the stored one when it
    is fresh and not `stale` (the token Lever just refused), else a new one from the refresh token, saved (see the
    module docstring). Raises ProviderError. An unsaved connection refreshes in memory only."""
    if connection.pk is None:
        creds = dict(connection.credentials or {})
        if _fresh(creds) and creds.get("access_token") != stale:
            return creds
        creds = _refreshed(connection, creds, session=session, timeout=timeout)
        connection.credentials = creds
        return creds
    with transaction.atomic():
        row = AtsConnection.objects.select_for_update().only("pk", "credentials", "base_url").get(pk=connection.pk)
        creds = dict(row.credentials or {})
        if not (_fresh(creds) and creds.get("access_token") != stale):
            creds = _refreshed(row, creds, session=session, timeout=timeout)
            row.credentials = creds
            row.save(update_fields=["credentials"])
    connection.credentials = creds
    return creds


def _refreshed(connection: AtsConnection, creds: dict, *, session, timeout: float) -> dict:
    if not creds.get("refresh_token"):
        raise ProviderError("Lever OAuth: no refresh token stored yet: a Lever super admin must sign in to Lever "
                            "from the connection's page", permanent=True, scope="connection", reason="auth",
                            component="auth")
    answer = _token_call(connection, creds, {"grant_type": "refresh_token", "refresh_token": creds["refresh_token"]},
                         what="token refresh", session=session, timeout=timeout)
    return {**creds, "access_token": answer["access_token"], "access_token_expires_at": _expires_at(answer),
            "refresh_token": answer.get("refresh_token") or creds["refresh_token"]}


# ---- the sign-in ---------------------------------------------------------------------------------------------

def authorize_start(*, connection: AtsConnection, session) -> Started:
    """Lever's authorize URL for `connection`, with a fresh `state` kept in the (staff) session."""
    if connection.provider != AtsConnection.Provider.LEVER:
        raise LeverOAuthError(f"{connection.name} is not a Lever connection.")
    creds = connection.credentials or {}
    if not uses_refresh(creds):
        raise LeverOAuthError(f"{connection.name} has no Lever OAuth client: store client_id and client_secret in "
                              "its credentials (and no api_key) first.")
    authorize, _ = _endpoints(connection, creds)
    state = secrets.token_urlsafe(24)
    session[SESSION_KEY] = {"state": state, "connection": connection.pk}
    query = {"client_id": creds["client_id"], "redirect_uri": redirect_uri(), "response_type": "code",
             "state": state, "audience": str(creds.get("audience") or AUDIENCE), "scope": " ".join(SCOPES),
             "prompt": "consent"}
    return Started(authorize_url=f"{authorize}?{urlencode(query)}", state=state)


def authorize_finish(*, state: str, code: str, error: str, session, actor=None) -> AtsConnection:
    """Exchange Lever's `code` for tokens and store them on the connection the session's `state` names. Raises
    LeverOAuthError (safe to show) for a refused sign-in, a state that does not match, or a failed exchange."""
    started = session.pop(SESSION_KEY, None) or {}
    if not started or not state or not secrets.compare_digest(str(started.get("state", "")), state):
        raise LeverOAuthError("This Lever sign-in does not match the one started here (it expired, or was started "
                              "in another browser). Start it again from the connection's page.")
    connection = AtsConnection.objects.filter(pk=started.get("connection")).first()
    if connection is None:
        raise LeverOAuthError("The connection of this sign-in is gone.")
    if error:
        raise LeverOAuthError(f"Lever did not grant access ({error[:100]}). Nothing was changed.")
    if not code:
        raise LeverOAuthError("Lever sent no authorization code. Start the sign-in again.")
    try:
        answer = _token_call(connection, connection.credentials or {},
                             {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri()},
                             what="code exchange")
    except ProviderError as e:
        raise LeverOAuthError(f"Lever refused the sign-in: {e.message}") from e
    if not answer.get("refresh_token"):
        raise LeverOAuthError("Lever gave no refresh token (was offline_access granted?). Nothing was changed.")
    with transaction.atomic():
        row = AtsConnection.objects.select_for_update().get(pk=connection.pk)
        creds = dict(row.credentials or {})
        creds.update(access_token=answer["access_token"], refresh_token=answer["refresh_token"],
                     access_token_expires_at=_expires_at(answer))
        row.credentials = creds
        row.save(update_fields=["credentials"])
        audit_log(action="ats_connection.lever_authorized", obj=row, actor=actor,
                  summary="Lever OAuth sign-in: new access and refresh tokens stored")
    return row
