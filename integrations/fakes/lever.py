"""The `lever` fake: Lever's Data API v1 and its signed webhooks, in memory, over plain http on 127.0.0.1, so that an
adapter written on `requests` runs unchanged with only its base URL (https://api.lever.co) pointed here
(contracts/greenhouse-lever.md section 2):

    fake = LeverFake.start(webhook_url="http://127.0.0.1:8000/webhooks/ats/KEY/")
    ids = fake.seed({"users": [{"name": "Riley Recruiter"}], "api_keys": [{"key": "k"}],
                     "postings": [{"text": "Backend Engineer"}],
                     "opportunities": [{"name": "Ada Lo", "emails": ["ada@x.io"], "posting": "<posting id>"}],
                     "signature_tokens": {"candidateStageChange": "sig-token"}})["ids"]
    requests.get(fake.url + "/v1/opportunities", params={"updated_at_start": 1730000000000}, auth=("k", ""))
    fake.stage_change(ids["opportunities"][0], "Phone Screen")  # moves it and POSTs the signed webhook

Paths, all under `/v1/`, JSON, every answer in the `{"data": ...}` envelope: GET `postings` (`state`), `stages`
(account-wide, not per posting), `opportunities` (`updated_at_start`/`_end`, `created_at_start`/`_end` in epoch
milliseconds, inclusive; `stage_id`, `posting_id`, `archived`, `email`; `expand` = stage, applications, contact,
repeatable), `opportunities/{id}` (`expand`), `opportunities/{id}/notes`, `contacts/{id}`, `users`, `users/{id}`;
POST `opportunities/{id}/notes?perform_as=<user id>` (`{"value", "secret"?, "score"?, "notifyFollowers"?,
"createdAt"?}`; answers `{"data": {"noteId": id}}`, or `{"id": id}` with `settings.note_id_field = "id"`, the
contract's disputed field); PUT `opportunities/{id}/stage?perform_as=` (`{"stage": id}`; answers `{"data":
<opportunity>}` and updates `stage`, `stageChanges`, `lastAdvancedAt`, `updatedAt`); GET/POST `webhooks`, DELETE
`webhooks/{id}` (a registered hook answers `configuration.signatureToken`).

Auth: `Authorization: Basic base64(<api key>:)` (the key is the username, the password empty) for a seeded key, or
`Authorization: Bearer <token>` for a seeded or issued OAuth token (an issued one expires after
`settings.oauth_token_lifetime` seconds: 401 "The access token has expired"). Either acts as its `user_id`;
`perform_as` (a user id) overrides it on writes, and an unknown or deactivated `perform_as` is a 400. Keys carry scopes
(`<resource>:<read|write>:admin`, a write scope includes read; default all of SCOPES): a missing one is a 403.

Pagination: `limit` 1-100 (default 100; over 100 is a 400); lists answer `{"data": [...], "hasNext": bool,
"next": "<offset token>"}` and take the token back as `offset`. The token is opaque and tied to the query's other
parameters: any change answers 400 "Invalid offset token". Opportunities are ordered by (createdAt, id).

OAuth (§2.1), for seeded `oauth_clients`: `GET /authorize` (`client_id`, `redirect_uri`, `response_type=code`,
`state`, `audience` ending in `/v1/`, `scope`) approves at once and redirects (302) to `redirect_uri` with `code`
and `state`; `POST /oauth/token` (form or JSON, the client by `client_id`/`client_secret`) takes `grant_type`
authorization_code (`code`, `redirect_uri`) or refresh_token and answers `{"access_token", "token_type": "Bearer",
"expires_in", "scope", "refresh_token"?}` (a refresh token with `offline_access`). Refresh tokens rotate: each works
once, and using one a second time revokes its whole grant, access tokens included (Auth0's reuse detection). Errors
are Auth0's: 401 `{"error": "invalid_client"}`, 403 `{"error": "invalid_grant", "error_description": "Unknown or
invalid refresh token."}`. Every token call is kept in `token_calls` (`{grant_type, client_id, at}`).

Rate limit: a token bucket per key or token, `settings.rate_per_second` (10) sustained, `settings.rate_burst` (20);
going over answers 429 `{"code": "TooManyRequests", ...}`, without `Retry-After` unless `settings.retry_after` is
true (the contract, §3 #10: not documented). Errors: `{"code": "<ErrorName>", "message": "<text>"}` with 400, 401,
403, 404, 429, 5xx.

Webhooks. One subscription per event type (`candidateStageChange`...), each with its own signature token (seed
`signature_tokens: {event: token}`; default "fake-signature-token" for candidateStageChange), delivered to
`webhook_url`. A stage change, through `POST /_fake/stage_change` `{"application": <opportunity id>, "stage": id or
text, "user_id"?}` (delivered before the control call answers) or through the API's PUT (delivered right after from
a thread; `settings.webhook_on_api_move`), POSTs `{"triggeredAt": ms, "event": "candidateStageChange", "token":
<random>, "signature": hex(HMAC-SHA256(signature token, token + triggeredAt)), "data": {"opportunityId",
"candidateId", "contactId", "fromStageId", "toStageId"}}`. Any non-2xx answer (or none) is retried, the same bytes,
after `settings.webhook_retry_delays` seconds (five retries). `settings.signature_scheme` switches to either of the
two unverified schemes the contract says to refuse (`header`: a `Lever-Signature` header over `triggeredAt.body`;
`token_only`: HMAC over the token alone). Control calls: `POST /_fake/ping` (`{"event"?}`: the signed test
delivery, with empty `data`), `POST /_fake/webhooks` (`{"url"?, "enabled"?, "signature_tokens"?}`), `DELETE
/_fake/webhooks` (the subscriptions are removed: stage changes still happen and polling sees them; nothing is
delivered), `POST /_fake/redeliver` (`{"delivery": n}` or `{"last": k}`: the same bytes again, once).

Seed (adds; ids are UUIDs, assigned when left out, and answered: `{"seeded": true, "ids": {...}}`):

    {"users": [{"id"?, "name", "email"?, "deactivatedAt"?}],
     "api_keys": [{"key", "user_id"? (the first user), "scopes"?}], "oauth_tokens": [{"token", "user_id"?}],
     "oauth_clients": [{"client_id", "client_secret", "user_id"? (the first user)}],
     "stages": [{"id"?, "text"}]   # replaces the account's stages (default New Applicant, Phone Screen,
                                   # On-site Interview, Offer); a stage in use cannot be dropped
     "postings": [{"id"?, "text", "state"? ("published")}],
     "opportunities": [{"id"?, "name", "emails"?, "phones"? ([str or {"type", "value"}]), "posting"?, "stage"?
                        (id or text; default the first), "contact"? (an id: another opportunity of that person),
                        "archived"?, "createdAt"?, "updatedAt"? (ms), "origin"?}],
     "webhook_url"?, "signature_tokens"?, "webhooks_enabled"?,
     "settings"? {"rate_per_second": 10, "rate_burst": 20, "retry_after": false, "webhook_retry_delays": [60, 300,
                  900, 3600, 14400], "webhook_on_api_move": true, "webhook_timeout": 10, "note_id_field":
                  "noteId", "signature_scheme": "token_triggered_at", "oauth_token_lifetime": 3600}}

`GET /_fake/state`: users, api_keys, oauth_tokens, oauth_clients, refresh_tokens (`{token, client_id, user_id, grant,
used, revoked}`), token_calls, stages, postings, contacts, opportunities, applications, notes, moves (`{n,
opportunity, from_stage, to_stage, user, source: api|stage_change, at}`), deliveries (`{n, event, opportunity,
url, body, status, attempts, redelivery_of}`), webhooks, settings.

Faults (`target`: a path prefix, an API key or token, or the acting user id): `bad_credentials` (every key is
refused: 401; the token endpoint answers invalid_client), `revoke` (the key or token is revoked: 401 while the fault
lasts; a refresh token of that user, client or value is revoked for good: invalid_grant), `expire_token` (a Bearer token
answers 401 once and is forgotten), `throttle` (429; `Retry-After` when the fault gives `retry_after`), `error`,
`slow`, `timeout` (applied, then the answer is held: a note IS written), `drop` (nothing applied).

Departures from the real service, and why:
- One plain-http host; no TLS (Lever refuses http). The OAuth authorize and token endpoints (auth.lever.co) are
  served on the same host; the authorize page asks nobody and approves at once.
- The signature scheme (§3 #9) is the one several independent clients use; token per event type. The connection
  test delivery's event name is not documented: the fake sends the subscription's event with empty `data`.
- Retry intervals are invented (the contract has only "up to 5 times at increasing intervals").
- Rate-limit numbers are fixed per bucket (Lever says they vary with load); no `X-RateLimit-*` headers.
- Notes: the shape follows public clients (`fields[0].value` carries the text); `score` and `notifyFollowers` are
  stored, not acted on. Archive, tags, files, feedback, interviews and referrals are not modelled.
- Applications are created one per opportunity with a posting; their shape is minimal.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from integrations.fakes.base import Abort, FakeServer, Fault, Request, Response
from integrations.fakes.greenhouse_wire import post_raw
from integrations.fakes.lever_wire import (
    DEFAULT_STAGES,
    ERROR_CODES,
    SCOPES,
    SIGNATURE_SCHEMES,
    basic_key,
    envelope,
    lever_error,
    ms_param,
    note_json,
    now_ms,
    opportunity_json,
    paged,
)

DEFAULT_TOKEN = "fake-signature-token"
STAGE_CHANGE = "candidateStageChange"
EVENTS = ("applicationCreated", "candidateStageChange", "candidateArchiveChange", "candidateHired",
          "candidateDeleted", "interviewCreated", "interviewUpdated", "interviewDeleted", "contactCreated",
          "contactUpdated")
DEFAULT_SETTINGS = {"rate_per_second": 10, "rate_burst": 20, "retry_after": False, "oauth_token_lifetime": 3600,
                    "webhook_retry_delays": [60, 300, 900, 3600, 14400], "webhook_on_api_move": True,
                    "webhook_timeout": 10, "note_id_field": "noteId", "signature_scheme": "token_triggered_at"}
SEED_KEYS = {"users", "api_keys", "oauth_tokens", "oauth_clients", "stages", "postings", "opportunities", "webhook_url",
             "signature_tokens", "webhooks_enabled", "settings"}
SCOPE_OF = {"postings": "postings", "stages": "stages", "opportunities": "opportunities", "notes": "notes",
            "contacts": "contact", "users": "users", "webhooks": "webhooks", "stage": "opportunities"}


def _uuid() -> str:
    return str(uuid.uuid4())


class LeverFake(FakeServer):
    name = "lever"
    routes = [
        ("GET", r"/authorize", "oauth_authorize"),
        ("POST", r"/oauth/token", "oauth_token"),
        ("GET", r"/v1/postings", "postings_list"),
        ("GET", r"/v1/stages", "stages_list"),
        ("GET", r"/v1/opportunities", "opportunities_list"),
        ("GET", r"/v1/opportunities/(?P<id>[^/]+)", "opportunity_get"),
        ("GET", r"/v1/opportunities/(?P<id>[^/]+)/notes", "notes_list"),
        ("POST", r"/v1/opportunities/(?P<id>[^/]+)/notes", "note_create"),
        ("PUT", r"/v1/opportunities/(?P<id>[^/]+)/stage", "stage_update"),
        ("GET", r"/v1/contacts/(?P<id>[^/]+)", "contact_get"),
        ("GET", r"/v1/users", "users_list"),
        ("GET", r"/v1/users/(?P<id>[^/]+)", "user_get"),
        ("GET", r"/v1/webhooks", "webhooks_list"),
        ("POST", r"/v1/webhooks", "webhook_create"),
        ("DELETE", r"/v1/webhooks/(?P<id>[^/]+)", "webhook_delete"),
    ]

    def __init__(self, *, webhook_url: str | None = None):
        self._default_webhook_url = webhook_url
        super().__init__(webhook_url=webhook_url)

    def new_state(self) -> dict[str, Any]:
        self.webhook_url = self._default_webhook_url
        stages = {}
        for text in DEFAULT_STAGES:
            stage_id = _uuid()
            stages[stage_id] = {"id": stage_id, "text": text}
        return {"users": {}, "api_keys": {}, "oauth_tokens": {}, "oauth_clients": {}, "oauth_codes": {},
                "refresh_tokens": {}, "token_calls": [], "stages": stages, "postings": {}, "contacts": {},
                "opportunities": {}, "applications": {}, "notes": {}, "moves": [], "deliveries": [],
                "webhooks": {STAGE_CHANGE: {"id": _uuid(), "event": STAGE_CHANGE, "url": self._default_webhook_url,
                                            "signatureToken": DEFAULT_TOKEN, "enabled": True}},
                "settings": json.loads(json.dumps(DEFAULT_SETTINGS)), "buckets": {}}

    # ---- seed and state ------------------------------------------------------------------------------------

    def on_seed(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise Abort(400, "expected a JSON object", field="body")
        if unknown := sorted(set(data) - SEED_KEYS):
            raise Abort(400, f"unknown seed key {unknown[0]!r}", field=unknown[0])
        s, moment, made = self.store, now_ms(), {}
        self._seed_settings(data.get("settings") or {})
        for item in self._items(data, "users"):
            user = {"id": str(item.get("id") or _uuid()), "name": self._text(item, "name", "users"),
                    "email": item.get("email") or "", "accessRole": "super admin",
                    "deactivatedAt": item.get("deactivatedAt"), "createdAt": moment}
            s["users"][user["id"]] = user
            made.setdefault("users", []).append(user["id"])
        first_user = next(iter(s["users"]), None)
        for item in self._items(data, "oauth_clients"):
            client = {"client_id": self._text(item, "client_id", "oauth_clients"),
                      "client_secret": self._text(item, "client_secret", "oauth_clients"),
                      "user_id": item.get("user_id") or first_user}
            s["oauth_clients"][client["client_id"]] = client
        for kind, field in (("api_keys", "key"), ("oauth_tokens", "token")):
            for item in self._items(data, kind):
                scopes = item.get("scopes", list(SCOPES))
                if not isinstance(scopes, list) or not all(isinstance(x, str) for x in scopes):
                    raise Abort(400, f"{kind}: scopes must be a list of strings", field=kind)
                value = self._text(item, field, kind)
                s[kind][value] = {field: value, "user_id": item.get("user_id") or first_user, "scopes": scopes}
        if "stages" in data:
            self._seed_stages(self._items(data, "stages"))
        made["stages"] = list(s["stages"])
        for item in self._items(data, "postings"):
            posting = {"id": str(item.get("id") or _uuid()), "text": self._text(item, "text", "postings"),
                       "state": item.get("state", "published"), "createdAt": moment, "updatedAt": moment,
                       "categories": {"team": item.get("team", ""), "location": item.get("location", "")}}
            s["postings"][posting["id"]] = posting
            made.setdefault("postings", []).append(posting["id"])
        for item in self._items(data, "opportunities"):
            made.setdefault("opportunities", []).append(self._seed_opportunity(item, moment))
        for key, kind in (("webhook_url", str), ("webhooks_enabled", bool)):
            if key in data and type(data[key]) is not kind:
                raise Abort(400, f"{key} must be {'true or false' if kind is bool else 'a string'}", field=key)
        self._configure({k: data[k] for k in ("webhook_url", "webhooks_enabled", "signature_tokens") if k in data})
        return {"seeded": True, "ids": made}

    def _seed_settings(self, changes: Any) -> None:
        settings = self.store["settings"]
        if not isinstance(changes, dict) or set(changes) - set(settings):
            raise Abort(400, f"settings must be an object with keys among {sorted(settings)}", field="settings")
        if changes.get("signature_scheme", SIGNATURE_SCHEMES[0]) not in SIGNATURE_SCHEMES:
            raise Abort(400, f"settings.signature_scheme is one of {', '.join(SIGNATURE_SCHEMES)}", field="settings")
        if changes.get("note_id_field", "id") not in ("id", "noteId"):
            raise Abort(400, "settings.note_id_field is id or noteId", field="settings")
        settings.update(changes)

    def _seed_stages(self, items: list[dict[str, Any]]) -> None:
        s = self.store
        by_text = {st["text"]: st["id"] for st in s["stages"].values()}
        stages = {}
        for item in items:
            text = self._text(item, "text", "stages")
            stage_id = str(item.get("id") or by_text.get(text) or _uuid())
            stages[stage_id] = {"id": stage_id, "text": text}
        if in_use := sorted(o["id"] for o in s["opportunities"].values() if o["stage"] not in stages):
            raise Abort(400, f"opportunity {in_use[0]} is in a stage this seed drops", field="stages")
        s["stages"] = stages

    def _seed_opportunity(self, item: dict[str, Any], moment: int) -> str:
        s = self.store
        opp_id = str(item.get("id") or _uuid())
        name = self._text(item, "name", "opportunities")
        emails = [e for e in item.get("emails") or [] if isinstance(e, str)]
        phones = [p if isinstance(p, dict) else {"type": "mobile", "value": p} for p in item.get("phones") or []]
        contact_id = str(item.get("contact") or _uuid())
        s["contacts"].setdefault(contact_id, {"id": contact_id, "name": name, "headline": item.get("headline", ""),
                                              "isAnonymized": False, "location": {"name": ""}, "emails": emails,
                                              "phones": phones})
        stage = self._find_stage(item.get("stage")) if item.get("stage") is not None else \
            next(iter(s["stages"].values()))
        created, updated = item.get("createdAt", moment), item.get("updatedAt", moment)
        if type(created) is not int or type(updated) is not int:
            raise Abort(400, "createdAt and updatedAt are epoch milliseconds (integers)", field="opportunities")
        applications = []
        if (posting := item.get("posting")) is not None:
            if posting not in s["postings"]:
                raise Abort(400, f"opportunity {opp_id}: seed posting {posting!r} first", field="opportunities")
            app_id = _uuid()
            s["applications"][app_id] = {"id": app_id, "type": "posting", "posting": posting,
                                         "opportunityId": opp_id, "candidateId": opp_id, "createdAt": created,
                                         "user": None, "postingOwner": None, "postingHiringManager": None}
            applications.append(app_id)
        s["opportunities"][opp_id] = {
            "id": opp_id, "name": name, "contact": contact_id, "headline": item.get("headline", ""),
            "emails": emails, "phones": phones, "stage": stage["id"],
            "stageChanges": [{"toStageId": stage["id"], "toStageIndex": self._index(stage["id"]),
                              "updatedAt": updated, "userId": None}],
            "applications": applications, "archived": item.get("archived"), "createdAt": created,
            "updatedAt": updated, "lastAdvancedAt": updated, "lastInteractionAt": updated, "owner": None,
            "tags": [], "sources": [], "origin": item.get("origin", "applied"), "links": [], "followers": [],
            "urls": {"list": "https://hire.lever.co/candidates",
                     "show": f"https://hire.lever.co/candidates/{opp_id}"}}
        return opp_id

    @staticmethod
    def _items(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
        items = data.get(key) or []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise Abort(400, f"{key} must be a list of objects", field=key)
        return items

    @staticmethod
    def _text(item: dict[str, Any], key: str, where: str) -> str:
        value = item.get(key)
        if not isinstance(value, str) or not value:
            raise Abort(400, f"each of {where} needs {key} (a non-empty string)", field=where)
        return value

    def state_json(self) -> dict[str, Any]:
        s = self.store
        state = {k: list(s[k].values()) for k in ("users", "api_keys", "oauth_tokens", "oauth_clients",
                                                   "refresh_tokens", "stages", "postings",
                                                   "contacts", "opportunities", "applications", "notes")}
        state.update(moves=s["moves"], deliveries=s["deliveries"], webhooks=list(s["webhooks"].values()),
                     settings=s["settings"], token_calls=s["token_calls"])
        return json.loads(json.dumps(state, default=str))

    # ---- auth, limits, faults ------------------------------------------------------------------------------

    def check_fault(self, fault: Fault) -> None:
        if fault.kind in ("ignore_transaction_id", "quota_exhausted", "component_down"):
            raise Abort(400, f"the lever fake has no {fault.kind} fault", field="kind")

    def _credential(self, req: Request) -> tuple[str, dict[str, Any]] | None:
        header = req.headers.get("Authorization") or ""
        if (key := basic_key(header)) is not None:
            found = self.store["api_keys"].get(key)
            return (key, found) if found else None
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
            found = self.store["oauth_tokens"].get(token)
            return (token, found) if found else None
        return None

    def fault_subjects(self, req: Request) -> set[str]:
        with self.lock:
            found = self._credential(req)
        return {found[0], str(found[1]["user_id"])} if found else set()

    def _authorized(self, req: Request, write: bool = False) -> dict[str, Any]:
        """The key's or token's record after Lever's checks: known, not revoked, the rate limit, the scope."""
        header = req.headers.get("Authorization") or ""
        found = self._credential(req)
        if not header:
            raise lever_error(401, "No API key or OAuth token was provided")
        if found is None or self.fault_active("bad_credentials", req=req) or self.fault_active("revoke", req=req):
            raise lever_error(401, "Invalid API key or OAuth token")
        secret, record = found
        if "token" in record and (self.fault_active("expire_token", req=req)
                                  or record.get("expires_at") and now_ms() >= record["expires_at"]):
            del self.store["oauth_tokens"][secret]
            raise lever_error(401, "The access token has expired")
        self._take(secret)
        resource = req.path.split("/")[-1] if req.path.endswith(("/notes", "/stage")) else req.path.split("/")[2]
        scope = f"{SCOPE_OF.get(resource, resource)}:{'write' if write else 'read'}:admin"
        granted = record["scopes"]
        if scope not in granted and scope.replace(":read:", ":write:") not in granted:
            raise lever_error(403, f"This API key does not have the {scope} permission")
        return record

    def _take(self, secret: str) -> None:
        """One token from the key's bucket (rate_per_second sustained, rate_burst at most); 429 when empty."""
        settings, moment = self.store["settings"], time.monotonic()
        bucket = self.store["buckets"].setdefault(secret, {"tokens": float(settings["rate_burst"]), "at": moment})
        bucket["tokens"] = min(float(settings["rate_burst"]),
                               bucket["tokens"] + (moment - bucket["at"]) * settings["rate_per_second"])
        bucket["at"] = moment
        if bucket["tokens"] < 1:
            wait = math.ceil((1 - bucket["tokens"]) / settings["rate_per_second"])
            raise lever_error(429, "Too many requests: slow down",
                              headers={"Retry-After": str(wait)} if settings["retry_after"] else None)
        bucket["tokens"] -= 1

    def _acting(self, req: Request, record: dict[str, Any]) -> str | None:
        perform_as = req.arg("perform_as")
        if perform_as is None:
            return record["user_id"]
        user = self.store["users"].get(perform_as)
        if user is None or user["deactivatedAt"]:
            raise lever_error(400, f"perform_as: {perform_as} is not an active user of this account")
        return perform_as

    def fault_response(self, fault: Fault, req: Request) -> Response:
        status = fault.status or (429 if fault.kind == "throttle" else 503)
        headers = {"Retry-After": f"{math.ceil(fault.retry_after)}"} if fault.retry_after is not None else {}
        message = "Too many requests: slow down" if status == 429 else "The service is temporarily unavailable"
        return Response(status, {"code": ERROR_CODES.get(status, "Error"), "message": message}, headers)

    def error_body(self, status: int, reason: str) -> dict[str, Any]:
        return {"code": ERROR_CODES.get(status, "Error"), "message": reason.replace("_", " ")}

    # ---- OAuth (authorization code with rotating refresh tokens, §2.1) -------------------------------------

    def oauth_authorize(self, req: Request) -> Response:
        """Approves at once (fakes.md): back to `redirect_uri` with `code` and `state`, as the client's user."""
        client = self.store["oauth_clients"].get(req.arg("client_id") or "")
        redirect, state = req.arg("redirect_uri") or "", req.arg("state") or ""
        if client is None or req.arg("response_type") != "code" or not redirect.startswith(("http://", "https://")):
            raise Abort(400, "unknown client_id, response_type other than code, or no redirect_uri")
        if not (req.arg("audience") or "").endswith("/v1/"):
            raise Abort(400, "audience must be https://api.lever.co/v1/ (with its trailing slash)")
        scopes = (req.arg("scope") or "").split()
        code = secrets.token_urlsafe(16)
        self.store["oauth_codes"][code] = {"client_id": client["client_id"], "redirect_uri": redirect,
                                           "user_id": client["user_id"], "scopes": scopes, "at": now_ms()}
        joiner = "&" if "?" in redirect else "?"
        return Response(302, b"", {"Location": f"{redirect}{joiner}{urlencode({'code': code, 'state': state})}"})

    def oauth_token(self, req: Request) -> Response:
        """`grant_type` authorization_code or refresh_token; the client by form fields or JSON (Auth0 takes both).
        A refresh token works once: it rotates, and a used one revokes its whole grant (Auth0's reuse detection)."""
        content_type = (req.headers.get("Content-Type") or "").split(";")[0].strip()
        data = req.json() if content_type == "application/json" else req.form()
        if not isinstance(data, dict):
            return _oauth_error(400, "invalid_request", "expected a form or a JSON object")
        grant, client_id = str(data.get("grant_type") or ""), str(data.get("client_id") or "")
        client = self.store["oauth_clients"].get(client_id)
        self.store["token_calls"].append({"grant_type": grant, "client_id": client_id, "at": now_ms()})
        if client is None or not secrets.compare_digest(client["client_secret"], str(data.get("client_secret") or "")) \
                or self.fault_active("bad_credentials", req=req):
            return _oauth_error(401, "invalid_client", "Unauthorized")
        if grant == "authorization_code":
            code = self.store["oauth_codes"].pop(str(data.get("code") or ""), None)
            if code is None or code["client_id"] != client_id or code["redirect_uri"] != data.get("redirect_uri"):
                return _oauth_error(403, "invalid_grant", "Invalid authorization code")
            grant_id = secrets.token_hex(8)
            return Response(200, self._issue(client_id, code["user_id"], code["scopes"], grant_id))
        if grant == "refresh_token":
            old = self.store["refresh_tokens"].get(str(data.get("refresh_token") or ""))
            if old is None or old["client_id"] != client_id or old["revoked"]:
                return _oauth_error(403, "invalid_grant", "Unknown or invalid refresh token.")
            if self.fault_active("revoke", req=req, subjects={client_id, str(old["user_id"]), old["token"]}):
                old["revoked"] = True
                return _oauth_error(403, "invalid_grant", "Unknown or invalid refresh token.")
            if old["used"]:
                self._revoke_grant(old["grant"])
                return _oauth_error(403, "invalid_grant", "Unknown or invalid refresh token.")
            old["used"] = True
            return Response(200, self._issue(client_id, old["user_id"], old["scopes"], old["grant"]))
        return _oauth_error(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")

    def _issue(self, client_id: str, user_id: str | None, scopes: list[str], grant: str) -> dict[str, Any]:
        lifetime = int(self.store["settings"]["oauth_token_lifetime"])
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
        granted = [x for x in scopes if x != "offline_access"] or list(SCOPES)
        self.store["oauth_tokens"][access] = {"token": access, "user_id": user_id, "scopes": granted,
                                              "expires_at": now_ms() + lifetime * 1000, "grant": grant}
        answer = {"access_token": access, "token_type": "Bearer", "expires_in": lifetime, "scope": " ".join(scopes)}
        if "offline_access" in scopes or not scopes:
            self.store["refresh_tokens"][refresh] = {"token": refresh, "client_id": client_id, "user_id": user_id,
                                                     "scopes": scopes, "grant": grant, "used": False,
                                                     "revoked": False}
            answer["refresh_token"] = refresh
        return answer

    def _revoke_grant(self, grant: str) -> None:
        for record in self.store["refresh_tokens"].values():
            if record["grant"] == grant:
                record["revoked"] = True
        for token in [t for t, r in self.store["oauth_tokens"].items() if r.get("grant") == grant]:
            del self.store["oauth_tokens"][token]

    # ---- reads ---------------------------------------------------------------------------------------------

    def _opportunity(self, req: Request) -> dict[str, Any]:
        opp = self.store["opportunities"].get(req.params["id"])
        if opp is None:
            raise lever_error(404, f"Opportunity {req.params['id']} not found")
        return opp

    def _show(self, opp: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        s = self.store
        return opportunity_json(opp, s["stages"], s["applications"], expand, s["contacts"].get(opp["contact"]))

    def postings_list(self, req: Request) -> dict[str, Any]:
        self._authorized(req)
        states = req.query.get("state")
        items = [p for p in self.store["postings"].values() if not states or p["state"] in states]
        return paged(req, sorted(items, key=lambda p: [p["createdAt"], p["id"]]), lambda p: [p["createdAt"], p["id"]])

    def stages_list(self, req: Request) -> dict[str, Any]:
        self._authorized(req)
        items = list(self.store["stages"].values())
        return paged(req, items, lambda st: [items.index(st)])

    def opportunities_list(self, req: Request) -> dict[str, Any]:
        self._authorized(req)
        bounds = {name: ms_param(req, name) for name in ("updated_at_start", "updated_at_end", "created_at_start",
                                                         "created_at_end")}
        expand = req.query.get("expand", [])
        archived = req.arg("archived")
        wanted = {k: req.query.get(k) for k in ("stage_id", "posting_id", "email")}

        def keep(o: dict[str, Any]) -> bool:
            for field, start, end in (("updatedAt", "updated_at_start", "updated_at_end"),
                                      ("createdAt", "created_at_start", "created_at_end")):
                if bounds[start] is not None and o[field] < bounds[start]:
                    return False
                if bounds[end] is not None and o[field] > bounds[end]:
                    return False
            if archived in ("true", "false") and (o["archived"] is not None) != (archived == "true"):
                return False
            postings = {self.store["applications"][a]["posting"] for a in o["applications"]}
            return ((not wanted["stage_id"] or o["stage"] in wanted["stage_id"])
                    and (not wanted["posting_id"] or postings & set(wanted["posting_id"]))
                    and (not wanted["email"] or set(wanted["email"]) & set(o["emails"])))

        items = sorted((o for o in self.store["opportunities"].values() if keep(o)),
                       key=lambda o: [o["createdAt"], o["id"]])
        answer = paged(req, items, lambda o: [o["createdAt"], o["id"]])
        answer["data"] = [self._show(o, expand) for o in answer["data"]]
        return answer

    def opportunity_get(self, req: Request) -> dict[str, Any]:
        self._authorized(req)
        return {"data": self._show(self._opportunity(req), req.query.get("expand", []))}

    def notes_list(self, req: Request) -> dict[str, Any]:
        self._authorized(req)
        opp = self._opportunity(req)
        items = [note_json(n) for n in self.store["notes"].values() if n["opportunity"] == opp["id"]]
        return paged(req, items, lambda n: [n["createdAt"], n["id"]])

    def contact_get(self, req: Request) -> dict[str, Any]:
        self._authorized(req)
        contact = self.store["contacts"].get(req.params["id"])
        if contact is None:
            raise lever_error(404, f"Contact {req.params['id']} not found")
        return {"data": contact}

    def users_list(self, req: Request) -> dict[str, Any]:
        self._authorized(req)
        items = list(self.store["users"].values())
        return paged(req, items, lambda u: [items.index(u)])

    def user_get(self, req: Request) -> dict[str, Any]:
        self._authorized(req)
        user = self.store["users"].get(req.params["id"])
        if user is None:
            raise lever_error(404, f"User {req.params['id']} not found")
        return {"data": user}

    # ---- writes --------------------------------------------------------------------------------------------

    def note_create(self, req: Request) -> dict[str, Any]:
        record = self._authorized(req, write=True)
        opp = self._opportunity(req)
        user = self._acting(req, record)
        body = req.json()
        if not isinstance(body, dict) or not isinstance(body.get("value"), str) or not body["value"].strip():
            raise lever_error(400, "value is required: the note's text")
        moment = now_ms()
        created = body.get("createdAt") if type(body.get("createdAt")) is int else moment
        note = {"id": _uuid(), "opportunity": opp["id"], "text": "", "fields": [
                    {"type": "note", "text": "Note", "value": body["value"]}],
                "user": user, "secret": bool(body.get("secret", False)), "score": body.get("score"),
                "notifyFollowers": bool(body.get("notifyFollowers", False)), "createdAt": created,
                "completedAt": created, "deletedAt": None, "perform_as": req.arg("perform_as")}
        self.store["notes"][note["id"]] = note
        opp["updatedAt"] = opp["lastInteractionAt"] = moment
        return {"data": {self.store["settings"]["note_id_field"]: note["id"]}}

    def stage_update(self, req: Request) -> dict[str, Any]:
        record = self._authorized(req, write=True)
        opp = self._opportunity(req)
        user = self._acting(req, record)
        body = req.json()
        stage_id = body.get("stage") if isinstance(body, dict) else None
        if not isinstance(stage_id, str) or stage_id not in self.store["stages"]:
            raise lever_error(400, f"stage must be the id of one of the account's stages, not {stage_id!r}")
        self.move(opp, self.store["stages"][stage_id], user=user, source="api", perform_as=req.arg("perform_as"))
        if self.store["settings"]["webhook_on_api_move"] and (delivery := self._new_delivery(opp)):
            store = self.store
            threading.Thread(target=self._send, args=(delivery, store), daemon=True).start()
        return {"data": self._show(opp, [])}

    def move(self, opp: dict[str, Any], stage: dict[str, Any], *, user: str | None, source: str,
             perform_as: str | None = None) -> dict[str, Any]:
        moment = now_ms()
        move = {"n": len(self.store["moves"]) + 1, "opportunity": opp["id"], "from_stage": opp["stage"],
                "to_stage": stage["id"], "user": user, "perform_as": perform_as, "source": source, "at": moment}
        self.store["moves"].append(move)
        opp["stageChanges"].append({"toStageId": stage["id"], "toStageIndex": self._index(stage["id"]),
                                    "updatedAt": moment, "userId": user})
        opp.update(stage=stage["id"], lastAdvancedAt=moment, updatedAt=moment, lastInteractionAt=moment)
        return move

    def _index(self, stage_id: str) -> int:
        return list(self.store["stages"]).index(stage_id)

    def _find_stage(self, ref: Any) -> dict[str, Any]:
        stages = self.store["stages"]
        if ref in stages:
            return stages[ref]
        found = [st for st in stages.values() if isinstance(ref, str) and st["text"].lower() == ref.lower()]
        if not found:
            names = ", ".join(repr(st["text"]) for st in stages.values())
            raise Abort(400, f"no stage {ref!r} (the account has {names})", field="stage")
        return found[0]

    # ---- webhooks (API) ------------------------------------------------------------------------------------

    def webhooks_list(self, req: Request) -> dict[str, Any]:
        self._authorized(req, write=True)
        return {"data": [self._hook_json(h) for h in self.store["webhooks"].values() if h["enabled"]],
                "hasNext": False}

    def webhook_create(self, req: Request) -> Response:
        self._authorized(req, write=True)
        body = req.json()
        if not isinstance(body, dict) or body.get("event") not in EVENTS or not isinstance(body.get("url"), str):
            raise lever_error(400, f"event must be one of {', '.join(EVENTS)}, and url a string")
        hook = {"id": _uuid(), "event": body["event"], "url": body["url"],
                "signatureToken": secrets.token_urlsafe(24), "enabled": True}
        self.store["webhooks"][body["event"]] = hook
        return Response(201, {"data": self._hook_json(hook)})

    def webhook_delete(self, req: Request) -> None:
        self._authorized(req, write=True)
        for event, hook in list(self.store["webhooks"].items()):
            if hook["id"] == req.params["id"]:
                del self.store["webhooks"][event]
                return None
        raise lever_error(404, f"Webhook {req.params['id']} not found")

    @staticmethod
    def _hook_json(hook: dict[str, Any]) -> dict[str, Any]:
        return {"id": hook["id"], "event": hook["event"], "url": hook["url"],
                "configuration": {"signatureToken": hook["signatureToken"], "conditions": {}}}

    # ---- webhooks (deliveries) -----------------------------------------------------------------------------

    def on_stage_change(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise Abort(400, "expected a JSON object", field="body")
        with self.lock:
            store = self.store
            opp = store["opportunities"].get(str(data.get("application")))
            if opp is None:
                raise Abort(404, f"no opportunity {data.get('application')!r}", field="application")
            stage = self._find_stage(data.get("stage"))
            if stage["id"] == opp["stage"]:
                raise Abort(409, f"opportunity {opp['id']} is already in {stage['text']!r}", field="stage")
            move = self.move(opp, stage, user=data.get("user_id"), source="stage_change")
            delivery = self._new_delivery(opp, from_stage=move["from_stage"])
        if delivery is not None:
            self._send(delivery, store)
        with self.lock:
            return {"application": self._show(opp, ["stage"]), "move": move,
                    "delivery": None if delivery is None else _summary(delivery)}

    def _new_delivery(self, opp: dict[str, Any] | None, *, from_stage: str | None = None, event: str = STAGE_CHANGE,
                      retry: bool = True, force: bool = False) -> dict[str, Any] | None:
        """A delivery record (under the lock); None without an enabled subscription for `event`."""
        hook = self.store["webhooks"].get(event)
        if hook is None or not hook["url"] or not (hook["enabled"] or force):
            return None
        if opp is None:
            data: dict[str, Any] = {}
        else:
            before = from_stage or (opp["stageChanges"][-2]["toStageId"] if len(opp["stageChanges"]) > 1 else None)
            data = {"opportunityId": opp["id"], "candidateId": opp["id"], "contactId": opp["contact"],
                    "fromStageId": before, "toStageId": opp["stage"]}
        token, triggered = secrets.token_hex(20), now_ms()
        body, headers = envelope(event, data, token, triggered, hook["signatureToken"],
                                 self.store["settings"]["signature_scheme"])
        delivery = {"n": len(self.store["deliveries"]) + 1, "event": event, "token": token, "triggeredAt": triggered,
                    "opportunity": opp["id"] if opp else None, "url": hook["url"], "body": body.decode(),
                    "headers": headers, "status": None, "attempts": [], "redelivery_of": None, "retry": retry}
        self.store["deliveries"].append(delivery)
        return delivery

    def _send(self, delivery: dict[str, Any], store: dict[str, Any]) -> int | None:
        """POSTs a delivery (without the lock), records the answer and schedules a retry on a non-2xx one."""
        if self.store is not store or self._stopping.is_set():
            return None
        status = post_raw(delivery["url"], delivery["body"].encode(), delivery["headers"],
                          timeout=store["settings"]["webhook_timeout"])
        with self.lock:
            delivery["attempts"].append({"at": now_ms(), "status": status})
            delivery["status"] = status
            delays = store["settings"]["webhook_retry_delays"]
            tries = len(delivery["attempts"])
            if not (status and 200 <= status < 300) and delivery["retry"] and tries <= len(delays) \
                    and self.store is store:
                timer = threading.Timer(delays[tries - 1], self._send, args=(delivery, store))
                timer.daemon = True
                timer.start()
        return status

    # ---- control calls beyond the base's -------------------------------------------------------------------

    def _control(self, req: Request) -> Response:
        extra = {("POST", "/_fake/ping"): self._ping, ("POST", "/_fake/redeliver"): self._redeliver,
                 ("POST", "/_fake/webhooks"): self._configure_hooks,
                 ("DELETE", "/_fake/webhooks"): self._remove_hooks}
        handler = extra.get((req.method, req.path.rstrip("/")))
        if handler is None:
            return super()._control(req)
        try:
            return handler(req)
        except Abort as e:
            return Response(e.status, {"error": e.message, "field": e.field} if e.field else {"error": e.message})

    def _configure(self, data: dict[str, Any]) -> None:
        """url / webhook_url, enabled / webhooks_enabled, signature_tokens {event: token} (under the lock)."""
        hooks = self.store["webhooks"]
        tokens = data.get("signature_tokens") or {}
        if not isinstance(tokens, dict) or not all(e in EVENTS and isinstance(t, str) and t
                                                   for e, t in tokens.items()):
            raise Abort(400, "signature_tokens maps event names to non-empty strings", field="signature_tokens")
        for event, token in tokens.items():
            hooks.setdefault(event, {"id": _uuid(), "event": event, "url": None, "enabled": True})
            hooks[event]["signatureToken"] = token
        url = data.get("url", data.get("webhook_url"))
        enabled = data.get("enabled", data.get("webhooks_enabled"))
        for hook in hooks.values():
            if url is not None:
                hook["url"] = url
            if enabled is not None:
                hook["enabled"] = enabled
        if STAGE_CHANGE in hooks:
            self.webhook_url = hooks[STAGE_CHANGE]["url"]

    def _configure_hooks(self, req: Request) -> Response:
        data = req.json() if req.body else {}
        if not isinstance(data, dict) or set(data) - {"url", "enabled", "signature_tokens"}:
            raise Abort(400, "send {url?, enabled?, signature_tokens?}", field="body")
        with self.lock:
            if STAGE_CHANGE not in self.store["webhooks"]:  # re-subscribing after a removal
                self.store["webhooks"][STAGE_CHANGE] = {"id": _uuid(), "event": STAGE_CHANGE, "url": None,
                                                        "signatureToken": DEFAULT_TOKEN, "enabled": True}
            self._configure(data)
            return Response(200, {"webhooks": list(self.store["webhooks"].values())})

    def _remove_hooks(self, req: Request) -> Response:
        with self.lock:
            self.store["webhooks"] = {}
            self.webhook_url = None
            return Response(200, {"webhooks": []})

    def _ping(self, req: Request) -> Response:
        data = req.json() if req.body else {}
        event = data.get("event", STAGE_CHANGE) if isinstance(data, dict) else None
        with self.lock:
            store = self.store
            delivery = self._new_delivery(None, event=event, retry=False, force=True)
            if delivery is None:
                raise Abort(400, f"no subscription with a URL for {event!r}", field="event")
        self._send(delivery, store)
        with self.lock:
            return Response(200, {"delivery": _summary(delivery)})

    def _redeliver(self, req: Request) -> Response:
        data = req.json()
        with self.lock:
            store, done = self.store, self.store["deliveries"]
            if isinstance(data, dict) and set(data) == {"delivery"} and type(data["delivery"]) is int:
                chosen = [d for d in done if d["n"] == data["delivery"]]
                if not chosen:
                    raise Abort(404, f"no delivery {data['delivery']}", field="delivery")
            elif isinstance(data, dict) and set(data) == {"last"} and type(data["last"]) is int and data["last"] > 0:
                chosen = [d for d in done if d["redelivery_of"] is None][-data["last"]:]
            else:
                raise Abort(400, 'send {"delivery": n} or {"last": k}', field="body")
            again = []
            for original in chosen:
                copy = {**original, "n": len(done) + 1, "status": None, "attempts": [], "retry": False,
                        "redelivery_of": original["n"]}
                done.append(copy)
                again.append(copy)
        for delivery in again:
            self._send(delivery, store)
        with self.lock:
            return Response(200, {"deliveries": [_summary(d) for d in again]})

    # ---- client helpers ------------------------------------------------------------------------------------

    def ping(self, event: str = STAGE_CHANGE) -> dict[str, Any]:
        return self._call("POST", "/_fake/ping", {"event": event})

    def configure_webhooks(self, **hook: Any) -> dict[str, Any]:
        return self._call("POST", "/_fake/webhooks", hook)

    def remove_webhooks(self) -> dict[str, Any]:
        return self._call("DELETE", "/_fake/webhooks")

    def redeliver(self, *, delivery: int | None = None, last: int | None = None) -> list[dict[str, Any]]:
        body = {"delivery": delivery} if delivery is not None else {"last": last}
        return self._call("POST", "/_fake/redeliver", body)["deliveries"]


def _oauth_error(status: int, error: str, description: str) -> Response:
    return Response(status, {"error": error, "error_description": description})


def _summary(delivery: dict[str, Any]) -> dict[str, Any]:
    return {k: delivery[k] for k in ("n", "event", "token", "triggeredAt", "opportunity", "status",
                                     "redelivery_of")}
