"""The OAuth 2.0 half of the `google` fake (see `integrations.fakes.google` for the whole fake, its seed and its
departures): Google's token endpoint (`https://oauth2.googleapis.com/token`), its authorize endpoint
(`https://accounts.google.com/o/oauth2/v2/auth`) and its revoke endpoint, served at `/token`, `/o/oauth2/v2/auth`
and `/revoke`, plus the bearer-token check every Calendar call makes.

Grants (form-encoded, as google-auth sends them; contracts/calendars.md section 1.6):
- `refresh_token` (client_id, client_secret, refresh_token, scope?): a user's stored grant.
- `urn:ietf:params:oauth:grant-type:jwt-bearer` (assertion): a service account's RS256 JWT. `iss` names the service
  account, `sub` the user it acts as (domain-wide delegation), `scope` the scopes; any `aud` is accepted.
- `authorization_code` (code, redirect_uri, client_id, client_secret, code_verifier?): the end of the consent flow
  that `GET /o/oauth2/v2/auth` starts; it approves at once and redirects with `code` and `state`.

Access tokens are opaque (`ya29.` + random) and map to a grant: who (a user, or a service account acting as itself
or as `sub`), which scopes, which refresh token. This module is a mixin: it reads and writes `self.store`, which
`GoogleFake.new_state` lays out.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from integrations.fakes.base import Abort, Request, Response

SCOPE = "https://www.googleapis.com/auth/"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEFAULT_GRANTED = [SCOPE + s for s in ("calendar", "calendar.events", "calendar.events.freebusy", "calendar.readonly")]
CODE_LIFETIME_S = 600
UNAUTHORIZED_CLIENT = ("Client is unauthorized to retrieve access tokens using this method, or client not authorized "
                       "for any of the scopes requested.")
BAD_JWT_TIME = ("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your "
                "iat and exp values in the JWT claim.")


def oauth_error(status: int, error: str, description: str) -> Abort:
    """The token endpoint's error answer, which google-auth turns into RefreshError("error: description")."""
    return Abort(status, description, body={"error": error, "error_description": description})


def api_auth_error(reason: str = "authError", message: str = "Invalid Credentials") -> Abort:
    """A Calendar API 401; google_auth_httplib2 refreshes the token and retries (at most twice)."""
    body = {"error": {"errors": [{"domain": "global", "reason": reason, "message": message,
                                  "locationType": "header", "location": "Authorization"}],
                      "code": 401, "message": message, "status": "UNAUTHENTICATED"}}
    return Abort(401, message, body=body,
                 headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'})


def decode_jwt(assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A JWT's header and claims, WITHOUT checking the signature (a departure: see the module docstring)."""
    try:
        header, payload, _signature = assertion.split(".")
        return _b64json(header), _b64json(payload)
    except (ValueError, TypeError):
        raise oauth_error(400, "invalid_grant", "Invalid JWT: Token is not a well-formed JWT.") from None


def _b64json(part: str) -> dict[str, Any]:
    value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def numeric_id(email: str) -> str:
    """A stable 21-digit id for a user or a service account, as Google gives them."""
    return str(int(hashlib.sha256(email.lower().encode()).hexdigest(), 16))[:21]


class GoogleAuth:
    """OAuth endpoints and token checks for GoogleFake (which supplies store, lock, url and fault_active)."""

    auth_routes = [
        ("POST", r"/token", "token"),
        ("GET", r"/o/oauth2/v2/auth", "authorize"),
        ("POST", r"/revoke", "revoke_token"),
    ]
    store: Any  # these three come from FakeServer
    url: str
    faults: list[Any]

    def _init_keys(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._key_id = secrets.token_hex(20)

    def service_account_info(self, client_email: str) -> dict[str, str]:
        """A service-account key file's contents, accepted by `service_account.Credentials.from_service_account_info`,
        signed with this fake's key and pointing `token_uri` at this fake. Seed the account too (`service_accounts`)."""
        pem = self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()
        return {"type": "service_account", "project_id": "loopwise-fake", "private_key_id": self._key_id,
                "private_key": pem, "client_email": client_email, "client_id": numeric_id(client_email),
                "auth_uri": f"{self.url}/o/oauth2/v2/auth", "token_uri": f"{self.url}/token",
                "universe_domain": "googleapis.com"}

    # ---- POST /token ------------------------------------------------------------------------------------------

    def token(self, req: Request) -> dict[str, Any]:
        form = req.form()
        grant = form.get("grant_type", "")
        if grant == "refresh_token":
            return self._refresh_grant(req, form)
        if grant == JWT_GRANT:
            return self._jwt_grant(req, form)
        if grant == "authorization_code":
            return self._code_grant(form)
        raise oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")

    def _client(self, form: dict[str, str]) -> dict[str, Any]:
        client = self.store["oauth_clients"].get(form.get("client_id", ""))
        if client is None:
            raise oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if "client_secret" not in form:
            raise oauth_error(400, "invalid_request", "client_secret is missing.")
        if form["client_secret"] != client["client_secret"]:
            raise oauth_error(401, "invalid_client", "Unauthorized")
        return client

    def _refresh_grant(self, req: Request, form: dict[str, str]) -> dict[str, Any]:
        client = self._client(form)
        if self.fault_active("bad_credentials", req=req):
            raise oauth_error(401, "invalid_client", "Unauthorized")
        stored = self.store["refresh_tokens"].get(form.get("refresh_token", ""))
        if stored is None:
            raise oauth_error(400, "invalid_grant", "Bad Request")
        if stored["client_id"] != client["client_id"]:
            raise oauth_error(401, "unauthorized_client", "Unauthorized")
        if self.fault_active("revoke", req=req):
            stored["revoked"] = True  # Google never un-revokes a grant: it stays revoked after the fault is cleared
        if stored["revoked"]:
            raise oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        if not self._user_alive(stored["user"]):
            raise oauth_error(400, "invalid_grant", "Account has been deleted")
        scopes = form["scope"].split() if form.get("scope") else list(stored["scopes"])
        if not set(scopes) <= set(stored["scopes"]):
            raise oauth_error(400, "invalid_scope", "Bad Request")
        return self._issue(kind="user", principal=stored["user"], subject=stored["user"], scopes=scopes,
                           client_id=client["client_id"], refresh_token=stored["token"])

    def _jwt_grant(self, req: Request, form: dict[str, str]) -> dict[str, Any]:
        _header, claims = decode_jwt(form.get("assertion", ""))
        account = self.store["service_accounts"].get(str(claims.get("iss", "")).lower())
        if account is None:
            raise oauth_error(400, "invalid_grant", "Invalid grant: account not found")
        if self.fault_active("bad_credentials", req=req):
            raise oauth_error(401, "unauthorized_client", UNAUTHORIZED_CLIENT)
        subject = str(claims["sub"]).lower() if claims.get("sub") else None
        if revoked := self.fault_active("revoke", req=req):
            if subject is not None and revoked.target == subject:
                raise oauth_error(400, "invalid_grant", "Invalid email or User ID")  # the fault named the user
            raise oauth_error(400, "invalid_grant", "Invalid JWT Signature.")  # the account's key was deleted
        now = time.time()
        if not (isinstance(claims.get("exp"), int | float) and isinstance(claims.get("iat"), int | float)) or \
                claims["exp"] < now - 300 or claims["iat"] > now + 300 or claims["exp"] - claims["iat"] > 3600:
            raise oauth_error(400, "invalid_grant", BAD_JWT_TIME)
        scopes = str(claims.get("scope", "")).split()
        if not scopes:
            raise oauth_error(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        if subject is not None:
            allowed = account["scopes"]
            if not account["delegation"] or (allowed is not None and not set(scopes) <= set(allowed)):
                raise oauth_error(401, "unauthorized_client", UNAUTHORIZED_CLIENT)
            if not self._user_alive(subject):
                raise oauth_error(400, "invalid_grant", "Invalid email or User ID")
        return self._issue(kind="service_account", principal=account["client_email"], subject=subject,
                           scopes=scopes, client_id=account["client_id"])

    def _code_grant(self, form: dict[str, str]) -> dict[str, Any]:
        client = self._client(form)
        code = self.store["codes"].pop(form.get("code", ""), None)  # single use, as at Google
        if code is None or code["client_id"] != client["client_id"] or code["expires_at"] < time.time():
            raise oauth_error(400, "invalid_grant", "Bad Request")
        if form.get("redirect_uri") != code["redirect_uri"]:
            raise oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        if code["code_challenge"]:
            verifier = form.get("code_verifier")
            if not verifier:
                raise oauth_error(400, "invalid_grant", "Missing code verifier.")
            if code["code_challenge_method"] == "S256":
                verifier = _b64url(hashlib.sha256(verifier.encode()).digest())
            if not secrets.compare_digest(verifier, code["code_challenge"]):
                raise oauth_error(400, "invalid_grant", "Invalid code verifier.")
        refresh = None
        if code["offline"] and (code["prompt_consent"] or not self._live_refresh_token(client["client_id"],
                                                                                       code["user"])):
            refresh = "1//0" + secrets.token_urlsafe(48)
            self.store["refresh_tokens"][refresh] = {"token": refresh, "client_id": client["client_id"],
                                                     "user": code["user"], "scopes": code["scopes"],
                                                     "revoked": False}
        answer = self._issue(kind="user", principal=code["user"], subject=code["user"], scopes=code["scopes"],
                             client_id=client["client_id"], refresh_token=refresh)
        if refresh:
            answer["refresh_token"] = refresh
        if {"openid", "email"} & set(code["scopes"]) or SCOPE + "userinfo.email" in code["scopes"]:
            answer["id_token"] = self._id_token(client["client_id"], code["user"])
        return answer

    def _issue(self, *, kind: str, principal: str, subject: str | None, scopes: list[str], client_id: str,
               refresh_token: str | None = None) -> dict[str, Any]:
        token = "ya29." + secrets.token_urlsafe(48)
        expires_in = self.store["settings"]["expires_in"]
        self.store["access_tokens"][token] = {
            "token": token, "kind": kind, "principal": principal, "subject": subject, "scopes": list(scopes),
            "client_id": client_id, "refresh_token": refresh_token, "expires_at": time.time() + expires_in}
        return {"access_token": token, "expires_in": expires_in, "token_type": "Bearer", "scope": " ".join(scopes)}

    def _id_token(self, client_id: str, user: str) -> str:
        now = int(time.time())
        header = {"alg": "RS256", "kid": self._key_id, "typ": "JWT"}
        claims = {"iss": "https://accounts.google.com", "azp": client_id, "aud": client_id, "sub": numeric_id(user),
                  "email": user, "email_verified": True, "iat": now, "exp": now + 3600}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    # ---- GET /o/oauth2/v2/auth -------------------------------------------------------------------------------

    def authorize(self, req: Request) -> Response:
        """Approves at once: 302 to `redirect_uri?state=...&code=...&scope=...`, for the `login_hint` user (else the
        first seeded user). Errors before a redirect can be trusted answer a page, as Google's do."""
        client = self.store["oauth_clients"].get(req.arg("client_id") or "")
        if client is None:
            return _error_page(401, "invalid_client", "The OAuth client was not found.")
        redirect_uri = req.arg("redirect_uri")
        if not redirect_uri or (client["redirect_uris"] and redirect_uri not in client["redirect_uris"]):
            return _error_page(400, "redirect_uri_mismatch", f"redirect_uri={redirect_uri} is not registered.")
        scopes = (req.arg("scope") or "").split()
        if not scopes:
            return _error_page(400, "invalid_request", "Missing required parameter: scope")
        challenge, method = req.arg("code_challenge"), req.arg("code_challenge_method")
        if method not in (None, "S256", "plain") or (method and not challenge):
            return _error_page(400, "invalid_request", "Invalid code_challenge_method.")
        state = req.arg("state")
        if req.arg("response_type") != "code":
            return _redirect(redirect_uri, error="unsupported_response_type", state=state)
        user = (req.arg("login_hint") or next(iter(self.store["users"]), "")).lower()
        if not self._user_alive(user):
            return _redirect(redirect_uri, error="access_denied", state=state)
        code = "4/0" + secrets.token_urlsafe(32)
        consent = {"client_id": client["client_id"], "user": user, "scopes": scopes, "redirect_uri": redirect_uri,
                   "state": state, "code_challenge": challenge,
                   "code_challenge_method": (method or "plain") if challenge else None,
                   "offline": req.arg("access_type") == "offline",
                   "prompt_consent": "consent" in (req.arg("prompt") or "").split()}
        self.store["consents"].append(consent)
        self.store["codes"][code] = {**consent, "expires_at": time.time() + CODE_LIFETIME_S}
        return _redirect(redirect_uri, state=state, code=code, scope=" ".join(scopes))

    # ---- POST /revoke ----------------------------------------------------------------------------------------

    def revoke_token(self, req: Request) -> dict[str, Any]:
        token = req.form().get("token") or req.arg("token") or ""
        access = self.store["access_tokens"].pop(token, None)
        refresh = self.store["refresh_tokens"].get(access["refresh_token"] if access else token)
        if access is None and (refresh is None or refresh["revoked"]):
            raise oauth_error(400, "invalid_token", "Token expired or revoked")
        if refresh is not None:  # revoking an access token revokes its grant too
            refresh["revoked"] = True
        return {}

    # ---- the bearer check ------------------------------------------------------------------------------------

    def authenticate(self, req: Request) -> dict[str, Any]:
        """The grant behind the request's bearer token, or a 401 that makes the client refresh."""
        header = req.headers.get("Authorization") or ""
        if not header.startswith("Bearer "):
            raise api_auth_error("required", "Login Required.")
        token = header.removeprefix("Bearer ").strip()
        grant = self.store["access_tokens"].get(token)
        if grant is None or grant["expires_at"] < time.time() or not self._grant_alive(grant):
            raise api_auth_error()
        if self.fault_active("expire_token", req=req):
            del self.store["access_tokens"][token]
            raise api_auth_error()
        return grant

    def _grant_alive(self, grant: dict[str, Any]) -> bool:
        """False once the grant is revoked (by state or by a live `revoke` fault) or its user is deleted."""
        if grant["kind"] == "user":
            stored = self.store["refresh_tokens"].get(grant["refresh_token"] or "")
            if (stored is not None and stored["revoked"]) or not self._user_alive(grant["principal"]):
                return False
            return not self._revoke_fault({grant["principal"], grant["client_id"], grant["refresh_token"] or ""})
        account = self.store["service_accounts"].get(grant["principal"])
        if account is None or (grant["subject"] and not self._user_alive(grant["subject"])):
            return False
        return not self._revoke_fault({account["client_email"], account["client_id"], grant["subject"] or ""})

    def _revoke_fault(self, subjects: set[str]) -> bool:
        """Whether a `revoke` fault names one of `subjects` (or nobody), without using it up: the token endpoint
        uses it up when the client refreshes."""
        return any(f.kind == "revoke" and (f.target is None or f.target in subjects) for f in self.faults)

    def _user_alive(self, email: str) -> bool:
        user = self.store["users"].get(email.lower())
        return user is not None and not user["deleted"]

    def _live_refresh_token(self, client_id: str, user: str) -> bool:
        return any(t["client_id"] == client_id and t["user"] == user and not t["revoked"]
                   for t in self.store["refresh_tokens"].values())


def _redirect(redirect_uri: str, **params: str | None) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return Response(302, "", {"Location": f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}"})


def _error_page(status: int, error: str, description: str) -> Response:
    return Response(status, f"<!doctype html><title>Error {status}: {error}</title>"
                            f"<h1>Access blocked: Error {status}: {error}</h1><p>{description}</p>")
