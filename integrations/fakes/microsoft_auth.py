"""The identity-platform half of the `microsoft` fake (integrations/fakes/microsoft.py): what msal calls on the
TLS login host (OpenID configuration, `/oauth2/v2.0/token`, `/oauth2/v2.0/authorize`, instance discovery) and the
bearer check Graph makes. A mixin over base.FakeServer; the store and the faults are the fake's."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import trustme

from integrations.fakes.base import Abort, Request, Response
from integrations.fakes.microsoft_wire import aad_error, graph_error

GRAPH = "https://graph.microsoft.com/"
DEFAULT_SCOPE = GRAPH + ".default"
OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}
CODE_LIFETIME_S = 600
APP_ROLES = ["Calendars.ReadWrite", "User.Read.All"]
REFRESH_STATES = {  # a seeded refresh token's state: (AADSTS code, description)
    "expired": (700082, "The refresh token has expired due to inactivity. The token was issued on "
                        "2025-01-01T00:00:00.0000000Z and was inactive for 90.00:00:00."),
    "revoked": (50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The "
                       "user might have changed or reset their password."),
    "consent_withdrawn": (65001, "The user or administrator has not consented to use the application. Send an "
                                 "interactive authorization request for this user and resource."),
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class MicrosoftAuth:
    auth_routes = [
        ("GET", r"/(?P<tenant>[^/]+)/+v2\.0/\.well-known/openid-configuration", "openid_configuration"),
        ("GET", r"/common/discovery/instance", "instance_discovery"),
        ("POST", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token", "token"),
        ("GET", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/authorize", "authorize"),
    ]
    store: Any  # these come from FakeServer
    faults: list[Any]
    login_url: str
    ca_pem_path: str

    def _start_login(self) -> None:
        """The TLS listener for the login host, with a certificate from a fresh trustme CA; the CA's PEM goes to
        a file for the clients (`ca_pem_path`)."""
        self._ca = trustme.CA()
        cert = self._ca.issue_cert("127.0.0.1", "localhost")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        self._ca_dir = tempfile.TemporaryDirectory(prefix="microsoft-fake-")
        path = Path(self._ca_dir.name) / "ca.pem"
        self._ca.cert_pem.write_to_path(str(path))
        self.ca_pem_path = str(path)
        self.login_url = self.listen(ssl_context=context)  # type: ignore[attr-defined]

    def authority(self, tenant: str) -> str:
        """What to pass msal as `authority` (with `instance_discovery=False`)."""
        return f"{self.login_url}/{tenant}"

    # ---- discovery -----------------------------------------------------------------------------------------

    def openid_configuration(self, req: Request) -> dict[str, Any]:
        tenant = self._tenant(req.params["tenant"], page=True)
        base = f"{self.login_url}/{tenant}"
        return {"token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                          "client_secret_basic"],
                "jwks_uri": f"{self.login_url}/{tenant}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"], "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/v2.0", "request_uri_parameter_supported": False,
                "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode", "http_logout_supported": True,
                "frontchannel_logout_supported": True, "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "name", "preferred_username",
                                     "oid", "tid", "email"],
                "kerberos_endpoint": f"{base}/kerberos", "tenant_region_scope": "EU", "cloud_instance_name":
                "microsoftonline.com", "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com", "rbac_url": "https://pas.windows.net"}

    def instance_discovery(self, req: Request) -> dict[str, Any]:
        """msal's instance discovery, for a client that points `instance_discovery` here instead of switching it
        off: it names this host's OpenID configuration."""
        endpoint = req.arg("authorization_endpoint") or ""
        tenant = endpoint.removeprefix(self.login_url + "/").split("/")[0] or self.store["tenant"]
        return {"tenant_discovery_endpoint": f"{self.login_url}/{tenant}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1", "metadata": [{"preferred_network": self.login_url.split("//")[1],
                                                    "preferred_cache": self.login_url.split("//")[1],
                                                    "aliases": [self.login_url.split("//")[1]]}]}

    def _tenant(self, tenant: str, *, page: bool = False) -> str:
        if self.store["tenant"] is None or tenant.lower() != self.store["tenant"].lower():
            if page:
                raise Abort(400, "tenant not found", body={
                    "error": "invalid_tenant", "error_description": f"AADSTS90002: Tenant '{tenant}' not found. "
                    "Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
                    "error_codes": [90002]})
            raise aad_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found. Check to make sure you "
                                                           "have the correct tenant ID and are signing into the "
                                                           "correct cloud.")
        return self.store["tenant"]

    # ---- POST /{tenant}/oauth2/v2.0/token ---------------------------------------------------------------------

    def token(self, req: Request) -> dict[str, Any]:
        tenant = self._tenant(req.params["tenant"])
        form = req.form()
        grant = form.get("grant_type", "")
        if grant not in ("client_credentials", "authorization_code", "refresh_token"):
            raise aad_error(400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type "
                                                                  f"'{grant}'.")
        app = self._app(req, form, tenant)
        if grant == "client_credentials":
            return self._client_grant(req, form, app)
        if grant == "authorization_code":
            return self._code_grant(req, form, app)
        return self._refresh_grant(req, form, app)

    def _app(self, req: Request, form: dict[str, str], tenant: str) -> dict[str, Any]:
        app = self.store["apps"].get(form.get("client_id", ""))
        if app is None:
            raise aad_error(400, "unauthorized_client", 700016,
                            f"Application with identifier '{form.get('client_id')}' was not found in the directory "
                            f"'{tenant}'. This can happen if the application has not been installed by the "
                            "administrator of the tenant or consented to by any user in the tenant.")
        if "client_secret" not in form and "client_assertion" not in form:
            raise aad_error(401, "invalid_client", 7000218, "The request body must contain the following "
                                                            "parameter: 'client_assertion' or 'client_secret'.")
        if form.get("client_secret") != app["client_secret"] or \
                self.fault_active("bad_credentials", req=req):  # type: ignore[attr-defined]
            raise aad_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret "
                                                            "being sent in the request is the client secret value, "
                                                            f"not the client secret ID, for a secret added to app "
                                                            f"'{app['client_id']}'.")
        return app

    def _client_grant(self, req: Request, form: dict[str, str], app: dict[str, Any]) -> dict[str, Any]:
        scopes = form.get("scope", "").split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise aad_error(400, "invalid_scope", 1002012, f"The provided value for scope {form.get('scope')} is "
                                                           "not valid. Client credential flows must have a scope "
                                                           "value with /.default suffixed to the resource "
                                                           "identifier (application ID URI).")
        if scopes[0] != DEFAULT_SCOPE:
            raise aad_error(400, "invalid_resource", 500011, f"The resource principal named "
                                                             f"{scopes[0].removesuffix('.default')} was not found in "
                                                             f"the tenant named {self.store['tenant']}.")
        if self.fault_active("revoke", req=req) or app["consent_revoked"]:  # type: ignore[attr-defined]
            app["consent_revoked"] = True  # stays withdrawn until seeded again, as an admin must re-consent
            raise aad_error(400, "invalid_grant", 65001, REFRESH_STATES["consent_withdrawn"][1])
        return self._issue(kind="app", user=None, app=app, scopes=[DEFAULT_SCOPE],
                           roles=APP_ROLES if app["app_only"] else [])

    def _refresh_grant(self, req: Request, form: dict[str, str], app: dict[str, Any]) -> dict[str, Any]:
        stored = self.store["refresh_tokens"].get(form.get("refresh_token", ""))
        if stored is None or stored["client_id"] != app["client_id"]:
            raise aad_error(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        if self.fault_active("revoke", req=req):  # type: ignore[attr-defined]
            self._revoke_grant(stored["client_id"], stored["user"])
        if stored["state"] in REFRESH_STATES:
            raise aad_error(400, "invalid_grant", *REFRESH_STATES[stored["state"]])
        user = self.store["mailboxes"].get(stored["user"])
        if user is None or user["deleted"]:
            raise aad_error(400, "invalid_grant", 50034, "The user account does not exist in the "
                                                         f"{self.store['tenant']} directory. To sign into this "
                                                         "application, the account must be added to the directory.")
        scopes = _resource_scopes(form.get("scope", "")) or stored["scopes"]
        answer = self._issue(kind="user", user=stored["user"], app=app, scopes=scopes, roles=[])
        return self._delegated(answer, app, stored["user"], scopes, nonce=None)

    def _code_grant(self, req: Request, form: dict[str, str], app: dict[str, Any]) -> dict[str, Any]:
        code = self.store["codes"].get(form.get("code", ""))
        if code is None or code["client_id"] != app["client_id"]:
            raise aad_error(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        if code["redeemed"]:
            raise aad_error(400, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please "
                                                         "retry with a new valid code or use an existing refresh "
                                                         "token.")
        if code["expires_at"] < time.time():
            raise aad_error(400, "invalid_grant", 70008, "The provided authorization code or refresh token has "
                                                         "expired due to inactivity. Send a new interactive "
                                                         "authorization request for this user and resource.")
        if form.get("redirect_uri") != code["redirect_uri"]:
            raise aad_error(400, "invalid_grant", 50011, "The redirect URI specified in the request does not "
                                                         "match the redirect URI configured for the application.")
        if code["code_challenge"]:
            verifier = form.get("code_verifier") or ""
            if code["code_challenge_method"] == "S256":
                verifier = b64url(hashlib.sha256(verifier.encode()).digest())
            if not form.get("code_verifier") or not secrets.compare_digest(verifier, code["code_challenge"]):
                raise aad_error(400, "invalid_grant", 501481, "The Code_Verifier does not match the "
                                                              "code_challenge supplied in the authorization request.")
        code["redeemed"] = True
        answer = self._issue(kind="user", user=code["user"], app=app, scopes=code["scopes"], roles=[])
        return self._delegated(answer, app, code["user"], code["scopes"], nonce=code["nonce"],
                               offline="offline_access" in code["oidc"])

    def _delegated(self, answer: dict[str, Any], app: dict[str, Any], user: str, scopes: list[str], *,
                   nonce: str | None, offline: bool = True) -> dict[str, Any]:
        """A delegated answer: a new refresh token (the old one stays valid, as at AAD), client_info and an
        id_token whose `aud` is the client id (msal checks neither signature nor issuer)."""
        mailbox = self.store["mailboxes"][user]
        if offline:
            refresh = "1.A" + secrets.token_urlsafe(96)
            self.store["refresh_tokens"][refresh] = {"token": refresh, "client_id": app["client_id"], "user": user,
                                                     "scopes": list(scopes), "state": "valid"}
            answer["refresh_token"] = refresh
        now = int(time.time())
        tenant = self.store["tenant"]
        claims = {"aud": app["client_id"], "iss": f"{self.login_url}/{tenant}/v2.0", "iat": now, "nbf": now,
                  "exp": now + 3600, "name": mailbox["name"], "oid": mailbox["id"],
                  "preferred_username": mailbox["email"], "sub": b64url(hashlib.sha256(
                      f"{app['client_id']} {mailbox['id']}".encode()).digest()), "tid": tenant, "ver": "2.0"}
        if nonce:
            claims["nonce"] = nonce
        header = {"typ": "JWT", "alg": "RS256", "kid": "loopwise-fake"}
        answer["id_token"] = ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()),
                                       b64url(secrets.token_bytes(64))])
        answer["client_info"] = b64url(json.dumps({"uid": mailbox["id"], "utid": tenant}).encode())
        answer["scope"] = " ".join(scopes + (["openid", "profile", "offline_access"] if offline else []))
        return answer

    def _issue(self, *, kind: str, user: str | None, app: dict[str, Any], scopes: list[str],
               roles: list[str]) -> dict[str, Any]:
        token = "EwB" + secrets.token_urlsafe(120)
        expires_in = self.store["settings"]["expires_in"]
        self.store["access_tokens"][token] = {"token": token, "kind": kind, "user": user,
                                              "client_id": app["client_id"], "scopes": list(scopes),
                                              "roles": list(roles), "issued_at": time.time(),
                                              "expires_at": time.time() + expires_in}
        return {"token_type": "Bearer", "scope": " ".join(scopes), "expires_in": expires_in,
                "ext_expires_in": expires_in, "access_token": token}

    def _revoke_grant(self, client_id: str, user: str) -> None:
        """Revokes every refresh token of the grant, and (through `revoked_at`) the access tokens issued so far."""
        for stored in self.store["refresh_tokens"].values():
            if stored["client_id"] == client_id and stored["user"] == user and stored["state"] == "valid":
                stored["state"] = "revoked"
        self.store["revoked_at"][f"{client_id} {user}"] = time.time()

    # ---- GET /{tenant}/oauth2/v2.0/authorize ------------------------------------------------------------------

    def authorize(self, req: Request) -> Response:
        """Approves at once: 302 to `redirect_uri?code=...&state=...&session_state=...` for the `login_hint` user
        (else the first seeded user). Errors that cannot be trusted to the redirect answer a page, as AAD's do."""
        self._tenant(req.params["tenant"], page=True)
        app = self.store["apps"].get(req.arg("client_id") or "")
        if app is None:
            return _error_page(400, 700016, f"Application with identifier '{req.arg('client_id')}' was not found "
                                            "in the directory.")
        redirect_uri = req.arg("redirect_uri") or ""
        if not redirect_uri or (app["redirect_uris"] and redirect_uri not in app["redirect_uris"]):
            return _error_page(400, 50011, f"The redirect URI '{redirect_uri}' specified in the request does not "
                                           "match the redirect URIs configured for the application.")
        state = req.arg("state")
        if req.arg("response_type") != "code":
            return _redirect(redirect_uri, error="unsupported_response_type", state=state,
                             error_description="AADSTS70005: response_type 'id_token' is not enabled for the "
                                               "application.")
        challenge, method = req.arg("code_challenge"), req.arg("code_challenge_method")
        if method not in (None, "S256", "plain") or (method and not challenge):
            return _redirect(redirect_uri, error="invalid_request", state=state,
                             error_description="AADSTS501491: Invalid size of Code_Challenge parameter.")
        requested = (req.arg("scope") or "").split()
        first = next((e for e, m in self.store["mailboxes"].items() if m["kind"] == "user"), "")
        user = (req.arg("login_hint") or first).lower()
        mailbox = self.store["mailboxes"].get(user)
        if mailbox is None or mailbox["deleted"] or mailbox["kind"] != "user":
            return _redirect(redirect_uri, error="access_denied", state=state,
                             error_description="AADSTS50034: The user account does not exist in the directory.")
        code = "1.A" + secrets.token_urlsafe(64)
        consent = {"client_id": app["client_id"], "user": user, "scopes": _resource_scopes(" ".join(requested)),
                   "oidc": sorted(OIDC_SCOPES & set(requested)), "redirect_uri": redirect_uri, "state": state,
                   "nonce": req.arg("nonce"), "code_challenge": challenge,
                   "code_challenge_method": (method or "plain") if challenge else None}
        self.store["consents"].append(consent)
        self.store["codes"][code] = {**consent, "redeemed": False, "expires_at": time.time() + CODE_LIFETIME_S}
        return _redirect(redirect_uri, code=code, state=state, session_state=str(uuid.uuid4()))

    # ---- the bearer check Graph makes --------------------------------------------------------------------------

    def authenticate(self, req: Request) -> dict[str, Any]:
        """The grant behind the request's bearer token, or Graph's 401 InvalidAuthenticationToken."""
        header = req.headers.get("Authorization") or ""
        if not header.startswith("Bearer ") or not header[7:].strip():
            raise _unauthenticated("Access token is empty.")
        token = header[7:].strip()
        grant = self.store["access_tokens"].get(token)
        if grant is None:
            raise _unauthenticated("IDX14100: JWT is not well formed, there are no dots (.).")
        if grant["expires_at"] < time.time():
            raise _unauthenticated("Lifetime validation failed, the token is expired.")
        if self._revoked(grant):
            raise _unauthenticated("Continuous access evaluation resulted in challenge with result: "
                                   "InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp")
        if self.fault_active("expire_token", req=req):  # type: ignore[attr-defined]
            del self.store["access_tokens"][token]
            raise _unauthenticated("Lifetime validation failed, the token is expired.")
        return grant

    def _revoked(self, grant: dict[str, Any]) -> bool:
        """Whether the token's grant is gone: a live `revoke` fault naming its user or client (or nobody), a
        revoked refresh grant, withdrawn admin consent, or a deleted user. Continuous access evaluation makes
        Graph refuse such a token before it expires."""
        subjects = {grant["client_id"]} | ({grant["user"]} if grant["user"] else set())
        if any(f.kind == "revoke" and (f.target is None or f.target in subjects) for f in self.faults):
            return True
        if grant["kind"] == "app":
            return self.store["apps"][grant["client_id"]]["consent_revoked"]
        mailbox = self.store["mailboxes"].get(grant["user"])
        revoked_at = self.store["revoked_at"].get(f"{grant['client_id']} {grant['user']}")
        return mailbox is None or mailbox["deleted"] or (revoked_at is not None and grant["issued_at"] <= revoked_at)


def _resource_scopes(scope: str) -> list[str]:
    """The Graph scopes of a request (`https://graph.microsoft.com/Calendars.ReadWrite` or `Calendars.ReadWrite`),
    without the OpenID ones msal adds."""
    return [s if s.startswith("https://") else GRAPH + s for s in scope.split() if s not in OIDC_SCOPES]


def _unauthenticated(message: str) -> Abort:
    return graph_error(401, "InvalidAuthenticationToken", message, headers={
        "WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
                            'authorize", client_id="00000003-0000-0000-c000-000000000000"'})


def _redirect(redirect_uri: str, **params: str | None) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return Response(302, "", {"Location": f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}"})


def _error_page(status: int, code: int, description: str) -> Response:
    return Response(status, f"<!doctype html><title>Sign in to your account</title><h1>Sorry, but we're having "
                            f"trouble signing you in.</h1><p>AADSTS{code}: {description}</p>")
