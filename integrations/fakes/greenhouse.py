"""The `greenhouse` fake: Greenhouse Harvest API v3 with OAuth 2.0 client credentials, and Greenhouse's signed web
hooks, in memory, over plain http on 127.0.0.1, so that an adapter written on `requests` runs unchanged with only
its two base URLs (auth.greenhouse.io, harvest.greenhouse.io) pointed here (contracts/greenhouse-lever.md section 1):

    fake = GreenhouseFake.start(webhook_url="http://127.0.0.1:8000/hooks/greenhouse/KEY")
    fake.seed({"users": [{"id": 4080001, "first_name": "Amelia", "last_name": "Hart"}],
               "clients": [{"client_id": "cid", "client_secret": "s"}], "webhook_secret": "hook-secret",
               "jobs": [{"id": 42, "name": "Backend Engineer", "stages": [{"name": "Application Review"},
                                                                         {"name": "Onsite Interview"}]}],
               "candidates": [{"id": 777, "first_name": "Ada", "last_name": "Lo", "email_addresses": ["ada@x.io"]}],
               "applications": [{"id": 555, "candidate_id": 777, "job_id": 42, "stage": "Application Review"}]})
    token = requests.post(fake.url + "/token", auth=("cid", "s"),
                          data={"grant_type": "client_credentials", "sub": "4080001"}).json()["access_token"]
    requests.get(fake.url + "/v3/applications", params={"updated_at": "gte|2026-11-01T00:00:00Z"},
                 headers={"Authorization": f"Bearer {token}"})
    fake.stage_change(555, "Onsite Interview")  # moves it and POSTs the signed candidate_stage_change web hook

Paths. `POST /token` (client credentials in Basic auth or as client_id/client_secret form fields; `grant_type=
client_credentials`; `sub` optional, a user id, else the credential's integration service user acts); answers
`{"access_token": <JWT-shaped>, "token_type": "Bearer", "expires_in": 3600, "expires_at": <RFC 3339>}`. Under `/v3/`,
each with a Bearer token: GET `jobs`, `job_interview_stages`, `candidates`, `applications`, `application_stages`,
`notes`, `users` (bare JSON arrays; filters `ids` (at most 50), `created_at`/`updated_at` as `gte|<ISO>` (or `lte`,
`gt`, `lt`; `updated_at[gte]=` also accepted), plus per resource: jobs `status`, `requisition_id`, `opened_at`,
`closed_at`; stages `job_ids`, `active`; candidates `email`, `tag`, `last_activity_at`; applications `candidate_ids`,
`job_ids`, `stage_ids`, `stage_name`, `status` (active|rejected|hired|converted; answers say `in_process`),
`prospect`, `last_activity_at`; application_stages `application_ids`, `job_interview_stage_ids`, `current`; notes
`candidate_ids`, `application_ids`, `user_ids`, `type`, `visibility`; users `primary_email`, `deactivated`,
`show_service_accounts`), and `fields`; `per_page` 1-500, default 100. The single-record forms `GET /v3/jobs/{id}`,
`candidates/{id}`, `applications/{id}`, `job_interview_stages/{id}` and `users/{id}` are served too. `POST /v3/notes`
(`{"candidate_id", "application_id"?, "user_id"?, "body", "visibility", "note_type": "NOTE"}`; 201 with the note);
`POST /v3/applications/{id}/move` (`{"from_stage_id", "to_stage_id"?, "to_job_id"?, "email_from_user_id"?}`; 204).
There is no way to delete or edit a note (`DELETE /v3/notes/{id}` is 404).

Pagination: ordered by id; more results give `Link: <URL/v3/...?cursor=...>; rel="next"` and nothing else; the
cursor (URL-safe base64) must be the only parameter (else 422 "When passing a cursor, do not include other query
params."); no Link header on the last page. Rate limits: every `/v3/` and `/token` answer carries
`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix seconds); each client has a fixed window
of `rate_window` seconds (30; the token endpoint its own 60 s window) starting at its first call after a reset, of
`rate_limit` calls (75); going over answers 429 with `Retry-After`. Raise `rate_limit` for benchmarks.

Errors: 401 `{"message": "Unauthorized", "errors": ["Token could not be decoded. ..."]}` (no, unknown, expired or
revoked token); 403 `{"message": "Forbidden", "errors": [...]}` for a missing scope, and on GETs when the acting user
(`sub`) is not a Site Admin; 404 `{"message": "Resource not found"}` (+ `"errors": "Application not found"` when the
route exists); 422 `{"message": "Unprocessable Content", "errors": [... strings or {field: text}]}` (per_page over
500, more than 50 ids, an unknown query parameter, a cursor with other parameters, a bad note, `from_stage_id` not
the current stage, a stage not in the job, advancing past the last stage, moving an inactive application); token
endpoint: 401 `{"error": "invalid_client"}`, 400 `{"error": "unsupported_grant_type"}`, 400 `{"message", "errorId"}`
for an unknown, deactivated or service `sub`.

Moves and notes. The application's `stage_id`, `from_stage_id`, `to_stage_id` and the web hook's `current_stage.id`
are all job interview stage ids (`/v3/job_interview_stages`). A move without `to_*` advances to the next active stage
by `sort_order`; `to_job_id` alone moves to that job's first stage. A move updates `updated_at` and
`last_activity_at`, closes the current `application_stages` row and opens a new one. Notes are not checked against
candidates or applications (an orphan note is created, as Greenhouse does: state marks it `orphan`);
`note_type` must be exactly "NOTE" (the 422 lists lower-case values, as Greenhouse's does); `visibility` is one of
admin_only, private, public (or the `*_visible` spellings); `user_id` defaults to the acting user.

Web hooks. One hook, `{"url", "secret", "enabled"}`: `url` from `--webhook-url` / `webhook_url` or the seed,
`secret` seeded as `webhook_secret` (default "fake-webhook-secret"). A stage change, through `POST /_fake/stage_change`
`{"application": id, "stage": name or id, "user_id"?}` (delivered before the control call answers) or through the
API's move (delivered right after, from a background thread; `settings.webhook_on_api_move`), POSTs the documented
`candidate_stage_change` body: compact JSON with non-ASCII, `<`, `>`, `&` escaped as \\uXXXX, headers `Signature:
sha256 <hex HMAC-SHA256 of the raw body with the secret>`, `Greenhouse-Event-ID` (a UUID, kept by retries and
redeliveries), `Content-Type: application/json`, `User-Agent: Greenhouse-Webhooks`. Any answer but 200 (or no
answer) is retried after `settings.webhook_retry_delays` seconds (Greenhouse's 1 m, 15 m, 1 h, 2 h, 4 h, 8 h by
default). Control calls: `POST /_fake/ping` (`{"url"?, "secret"?}`: saves the hook and pings it with `{"action":
"ping", "payload": {web_hook_id, name, endpoint_url, event, active, ...}}`; a failed ping leaves the hook disabled,
as Greenhouse does), `POST /_fake/webhooks` (`{"url"?, "secret"?, "enabled"?}`), `DELETE /_fake/webhooks` (the
subscription is removed: stage changes still happen and polling sees them, nothing is delivered), `POST
/_fake/redeliver` (`{"delivery": n}` or `{"last": k}`: the same bytes, signature and event id again, once each, even
when disabled). `GET /_fake/board` is a small page listing applications, with a form that moves one (for the demo).
Client helpers besides the base's (`stage_change(application, stage)`, `seed`, `state`...): `ping(url=, secret=)`,
`configure_webhooks(url=, secret=, enabled=)`, `remove_webhooks()`, `redeliver(delivery=n)` / `redeliver(last=k)`.

Seed (`POST /_fake/seed`; seeding adds, a given id seeded again is replaced (a job's stages keep their ids by name,
and a stage an application is in cannot be dropped); ids are assigned when left out, and the answer lists them:
`{"seeded": true, "ids": {"users": [...], "jobs": [...], "stages": {"<job id>": [...]}, "candidates": [...],
"applications": [...]}}`):

    {"users": [{"id"?, "first_name", "last_name", "primary_email"?, "site_admin"? (true), "deactivated"? (false)}],
     "clients": [{"client_id", "client_secret", "scopes"? (default all of SCOPES)}],   # each gets a service user
     "jobs": [{"id"?, "name", "status"? ("open"), "requisition_id"?,
               "stages"? ([{"id"?, "name", "active"? (true), "interviews"? ([{"id"?, "name"}])}], in sort_order;
                          default Application Review, Preliminary Phone Screen, Onsite Interview, Offer)}],
     "candidates": [{"id"?, "first_name", "last_name", "email_addresses"? ([str or {"value", "type"}]),
                     "phone_numbers"?, "tags"?, "external_id"?, "company"?, "title"?, "recruiter_id"?,
                     "coordinator_id"?, "custom_fields"?}],
     "applications": [{"id"?, "candidate_id", "job_id", "stage"? (name or id; default the first stage),
                       "status"? ("active", "rejected", "hired", "converted"), "recruiter_id"?, "coordinator_id"?,
                       "created_at"?, "updated_at"?}],
     "webhook_url"?, "webhook_secret"?, "webhooks_enabled"? (true),
     "settings"? {"token_lifetime": 3600, "rate_limit": 75, "rate_window": 30, "token_rate_window": 60,
                  "webhook_retry_delays": [60, 900, 3600, 7200, 14400, 28800], "webhook_on_api_move": true,
                  "webhook_timeout": 10}}

`GET /_fake/state`: users (service users flagged `service_account`), clients, tokens, jobs (each with its `stages`),
stages, candidates, applications (v3 shape plus `current_stage`), application_stages, notes, moves (`{n,
application_id, from_stage_id, to_stage_id, from_job_id, to_job_id, user_id, source: api|stage_change, at}`),
deliveries (`{n, event_id, action, application_id, url, body, signature, status, attempts: [{at, status}],
redelivery_of}`), webhook, settings.

Faults (`target`: a path prefix, a client id, or the acting user's id): `bad_credentials` (the token endpoint
answers 401 invalid_client), `revoke` (the credential is revoked: the token endpoint answers 401 invalid_client and
its tokens 401, while the fault lasts), `expire_token` (the next API call with a valid token answers 401 and the
token is forgotten), `throttle` (429 with Retry-After and X-RateLimit-Remaining 0), `error` (5xx), `slow`,
`timeout` (the request is applied, e.g. a note IS created, then the answer is held), `drop` (nothing applied).

Departures from the real service, and why:
- One plain-http host serves both auth.greenhouse.io and harvest.greenhouse.io, so one URL configures both.
- Tokens are looked up, never decoded; their JWT shape is for show. `expires_in` and `expires_at` are both sent
  (the contract's disputed field, section 3 #2). Secret rotation (the old secret's week of grace) is not modelled.
- Contract section 3 #4 is settled one way: a single stage id space (job interview stage ids) for `stage_id`,
  `from_stage_id`, `to_stage_id`, `stage_ids` and the web hook's `current_stage.id`. `application_stages` rows
  have ids of their own and point at `job_interview_stage_id`.
- Unknown query parameters answer 422 (Greenhouse's handling is not documented); `updated_at[gte]=` is accepted
  besides `updated_at=gte|` (section 3 #3). Error texts other than the contract's are plausible, not observed.
- The rate limit is per client in a window that starts at the client's first call (Greenhouse's window is fixed
  on its own clock); `X-RateLimit-Reset` is that window's end in Unix seconds.
- An API move fires the stage-change web hook like a move in the UI (assumed; Greenhouse fires hooks on events,
  not on their source). Move does not send candidate emails or run stage-transition rules.
- Web hook bodies carry the documented v1-era fields; attachments, educations, employments, offices, departments
  are empty, `source` null. Basic auth and extra headers on web hooks are not modelled. Redeliveries are not
  retried. The ping body follows public fixtures, not documentation.
- The site-admin rule applies to every GET; scopes are enforced per route as listed in SCOPES.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import secrets
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from integrations.fakes.base import Abort, FakeServer, Fault, Request, Response
from integrations.fakes.greenhouse_wire import (
    LISTS,
    NOTE_TYPES_SHOWN,
    SCOPES,
    SINGLE,
    STATUS_MESSAGES,
    VISIBILITIES,
    ListQuery,
    application_json,
    application_record,
    application_stage_json,
    basic_credentials,
    board_page,
    candidate_record,
    check_settings,
    forbidden,
    gh_error,
    iso,
    job_record,
    jwt_like,
    list_query,
    not_found,
    note_json,
    now,
    page,
    parse_iso,
    ping_payload,
    post_raw,
    seed_items,
    seed_text,
    signature,
    stage_change_payload,
    stage_list,
    token_error,
    unauthorized,
    unprocessable,
    user_json,
    user_record,
    webhook_body,
)

DEFAULT_SECRET = "fake-webhook-secret"
DEFAULT_SETTINGS = {"token_lifetime": 3600, "rate_limit": 75, "rate_window": 30, "token_rate_window": 60,
                    "webhook_retry_delays": [60, 900, 3600, 7200, 14400, 28800], "webhook_on_api_move": True,
                    "webhook_timeout": 10}
FIRST_IDS = {"users": 4_000_001, "jobs": 200_001, "stages": 300_001, "candidates": 600_001,
             "applications": 500_001, "application_stages": 800_001, "notes": 700_001, "interviews": 900_001}
SEED_KEYS = {"users", "clients", "jobs", "candidates", "applications", "webhook_url", "webhook_secret",
             "webhooks_enabled", "settings"}


class GreenhouseFake(FakeServer):
    name = "greenhouse"
    routes = [
        ("POST", r"/token", "token"),
        ("GET", r"/v3/jobs", "jobs_list"),
        ("GET", r"/v3/jobs/(?P<id>[^/]+)", "jobs_get"),
        ("GET", r"/v3/job_interview_stages", "stages_list"),
        ("GET", r"/v3/job_interview_stages/(?P<id>[^/]+)", "stages_get"),
        ("GET", r"/v3/candidates", "candidates_list"),
        ("GET", r"/v3/candidates/(?P<id>[^/]+)", "candidates_get"),
        ("GET", r"/v3/applications", "applications_list"),
        ("GET", r"/v3/applications/(?P<id>[^/]+)", "applications_get"),
        ("POST", r"/v3/applications/(?P<id>[^/]+)/move", "application_move"),
        ("GET", r"/v3/application_stages", "application_stages_list"),
        ("GET", r"/v3/notes", "notes_list"),
        ("POST", r"/v3/notes", "note_create"),
        ("GET", r"/v3/users", "users_list"),
        ("GET", r"/v3/users/(?P<id>[^/]+)", "users_get"),
    ]

    def __init__(self, *, webhook_url: str | None = None):
        self._default_webhook_url = webhook_url
        self._key = secrets.token_bytes(32)
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_seq = itertools.count()
        self._timer_wake = threading.Condition()
        super().__init__(webhook_url=webhook_url)

    def new_state(self) -> dict[str, Any]:
        self.webhook_url = self._default_webhook_url
        return {"users": {}, "clients": {}, "tokens": {}, "jobs": {}, "stages": {}, "candidates": {},
                "applications": {}, "application_stages": {}, "notes": {}, "moves": [], "deliveries": [],
                "webhook": {"id": 1, "name": "Loopwise", "url": self._default_webhook_url, "secret": DEFAULT_SECRET,
                            "enabled": True, "event": "Candidate Stage Change", "created_at": iso(now())},
                "settings": json.loads(json.dumps(DEFAULT_SETTINGS)), "rate": {}, "next_ids": dict(FIRST_IDS)}

    def on_start(self) -> None:
        threading.Thread(target=self._run_timers, daemon=True, name="greenhouse-webhooks").start()

    def on_stop(self) -> None:
        with self._timer_wake:
            self._timer_wake.notify_all()

    # ---- seed and state ------------------------------------------------------------------------------------

    def on_seed(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise Abort(400, "expected a JSON object", field="body")
        if unknown := sorted(set(data) - SEED_KEYS):
            raise Abort(400, f"unknown seed key {unknown[0]!r}", field=unknown[0])
        s, moment, made = self.store, iso(now()), {}
        check_settings(s["settings"], data.get("settings") or {})
        for item in seed_items(data, "users"):
            user = user_record(item, self.next_id("users", item.get("id")), moment)
            s["users"][user["id"]] = user
            made.setdefault("users", []).append(user["id"])
        for item in seed_items(data, "clients"):
            client_id = seed_text(item, "client_id", "clients")
            scopes = item.get("scopes", list(SCOPES))
            if not isinstance(scopes, list) or not all(isinstance(x, str) for x in scopes):
                raise Abort(400, f"client {client_id}: scopes must be a list of strings", field="clients")
            old = s["clients"].get(client_id)
            service = old["service_user_id"] if old else self.next_id("users")
            s["users"].setdefault(service, user_record({}, service, moment, service=True))
            s["clients"][client_id] = {"client_id": client_id, "scopes": scopes, "service_user_id": service,
                                       "client_secret": seed_text(item, "client_secret", "clients")}
        for item in seed_items(data, "jobs"):
            made.setdefault("jobs", []).append(self._seed_job(item, moment, made.setdefault("stages", {})))
        for item in seed_items(data, "candidates"):
            candidate = candidate_record(item, self.next_id("candidates", item.get("id")), moment)
            s["candidates"][candidate["id"]] = candidate
            made.setdefault("candidates", []).append(candidate["id"])
        for item in seed_items(data, "applications"):
            if item.get("candidate_id") not in s["candidates"] or item.get("job_id") not in s["jobs"]:
                raise Abort(400, f"application {item.get('id')!r}: seed its candidate and job first (integer ids)",
                            field="applications")
            stages = self._stages_of(item["job_id"], active_only=False)
            stage = self._find_stage(item["job_id"], item["stage"]) if "stage" in item else stages[0]
            app = application_record(item, self.next_id("applications", item.get("id")), stage["id"], moment)
            for row in [r for r in s["application_stages"].values() if r["application_id"] == app["id"]]:
                del s["application_stages"][row["id"]]
            app["row_id"] = self.open_stage_row(app["id"], stage["id"], app["updated_at"])
            s["applications"][app["id"]] = app
            made.setdefault("applications", []).append(app["id"])
        hook = s["webhook"]
        for key, field, kind in (("webhook_url", "url", str), ("webhook_secret", "secret", str),
                                 ("webhooks_enabled", "enabled", bool)):
            if key in data:
                if type(data[key]) is not kind or (kind is str and not data[key]):
                    raise Abort(400, f"{key} must be {'true or false' if kind is bool else 'a string'}", field=key)
                hook[field] = data[key]
        self.webhook_url = hook["url"]
        return {"seeded": True, "ids": made}

    def _seed_job(self, item: dict[str, Any], moment: str, made: dict[str, list[int]]) -> int:
        """Adds or replaces a job and its stages; stages seeded again by name keep their ids, and a stage that an
        application is in cannot be dropped."""
        s = self.store
        job = job_record(item, self.next_id("jobs", item.get("id")), moment)
        old = {st["name"]: st["id"] for st in s["stages"].values() if st["job_id"] == job["id"]}
        stages = []
        for order, given in enumerate(stage_list(item)):
            name = seed_text(given, "name", "jobs")
            stage_id = self.next_id("stages", given["id"] if given.get("id") is not None else old.get(name))
            if stage_id in s["stages"] and s["stages"][stage_id]["job_id"] != job["id"]:
                raise Abort(400, f"stage {stage_id} belongs to job {s['stages'][stage_id]['job_id']}", field="jobs")
            interviews = [{"id": self.next_id("interviews", i.get("id")), "name": seed_text(i, "name", "jobs")}
                          for i in seed_items(given, "interviews")]
            stages.append({"id": stage_id, "job_id": job["id"], "sort_order": order, "name": name,
                           "active": bool(given.get("active", True)), "created_at": moment, "updated_at": moment,
                           "interviews": interviews})
        kept = {st["id"] for st in stages}
        if in_use := sorted(a["id"] for a in s["applications"].values()
                            if a["job_id"] == job["id"] and a["stage_id"] not in kept):
            raise Abort(400, f"job {job['id']}: application {in_use[0]} is in a stage this seed drops", field="jobs")
        for stage_id in set(old.values()) - kept:
            del s["stages"][stage_id]
        s["jobs"][job["id"]] = job
        s["stages"].update({st["id"]: st for st in stages})
        made[str(job["id"])] = sorted(kept, key=lambda i: s["stages"][i]["sort_order"])
        return job["id"]

    def next_id(self, kind: str, given: Any = None) -> int:
        """`given` (an int, or digits) when there is one, else the next free id of that kind."""
        ids = self.store["next_ids"]
        if given is None:
            ids[kind] += 1
            return ids[kind] - 1
        if type(given) is str and given.isdigit():
            given = int(given)
        if type(given) is not int or given < 1:
            raise Abort(400, f"{kind}: an id must be a positive integer, not {given!r}", field=kind)
        ids[kind] = max(ids[kind], given + 1)
        return given

    def state_json(self) -> dict[str, Any]:
        s, moment = self.store, now()
        jobs = [{**j, "stages": self._stages_of(j["id"], active_only=False)} for j in self._sorted("jobs")]
        apps = [{**self._app_json(a), "current_stage": {"id": a["stage_id"], "name": self._stage_name(a)}}
                for a in self._sorted("applications")]
        state = {"users": [{**user_json(u), "service_account": u["service_account"]} for u in self._sorted("users")],
                 "clients": list(s["clients"].values()), "tokens": list(s["tokens"].values()), "jobs": jobs,
                 "stages": [self._stage_json(st) for st in self._sorted("stages")],
                 "candidates": [self._candidate_json(c) for c in self._sorted("candidates")], "applications": apps,
                 "application_stages": [application_stage_json(r, moment) for r in self._sorted("application_stages")],
                 "notes": self._sorted("notes"), "moves": s["moves"], "deliveries": s["deliveries"],
                 "webhook": s["webhook"], "settings": s["settings"]}
        return json.loads(json.dumps(state, default=str))

    # ---- faults and answers --------------------------------------------------------------------------------

    def check_fault(self, fault: Fault) -> None:
        if fault.kind in ("ignore_transaction_id", "quota_exhausted", "component_down"):
            raise Abort(400, f"the greenhouse fake has no {fault.kind} fault", field="kind")

    def fault_subjects(self, req: Request) -> set[str]:
        """The token's client and acting user; at /token the client named by Basic auth or the form."""
        with self.lock:
            token = self._bearer(req)
            if token is not None:
                return {token["client_id"], str(token["user_id"])}
            if req.path == "/token":
                return {self._client_credentials(req)[0]}
        return set()

    def fault_response(self, fault: Fault, req: Request) -> Response:
        throttle = fault.kind == "throttle"
        status = fault.status or (429 if throttle else 503)
        headers = {"Retry-After": f"{1 if fault.retry_after is None else math.ceil(fault.retry_after)}"} \
            if throttle else {}
        message = STATUS_MESSAGES.get(status, "Error")
        if req.path == "/token":
            return Response(status, token_error(status, message).body, headers)
        errors = ["Rate limit exceeded"] if throttle else None
        return Response(status, gh_error(status, message, errors).body, headers)

    def error_body(self, status: int, reason: str) -> dict[str, Any]:
        if status in (404, 405) or status >= 500:
            return {"message": STATUS_MESSAGES.get(status, "Internal Server Error")}
        return gh_error(status, STATUS_MESSAGES.get(status, "Error"), [reason]).body

    def on_response(self, req: Request, resp: Response) -> None:
        """Rate-limit headers on every /v3/ and /token answer; an unknown method on a known path is a 404, as in
        Rails, rather than the base's 405."""
        if not (req.path.startswith("/v3/") or req.path == "/token"):
            return
        if resp.status == 405:
            resp.status, resp.body = 404, {"message": "Resource not found"}
        key, window = self._bucket_key(req)
        bucket = self._bucket(key, window)
        limit = self.store["settings"]["rate_limit"]
        remaining = 0 if resp.status == 429 else max(0, limit - bucket["count"])
        resp.headers.update({"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
                             "X-RateLimit-Reset": str(math.ceil(bucket["start"] + window))})

    def _bucket_key(self, req: Request) -> tuple[str, float]:
        settings = self.store["settings"]
        if req.path == "/token":
            return f"token {self._client_credentials(req)[0]}", settings["token_rate_window"]
        token = self._bearer(req)
        return f"api {token['client_id'] if token else ''}", settings["rate_window"]

    def _bucket(self, key: str, window: float) -> dict[str, float]:
        bucket, moment = self.store["rate"].get(key), time.time()
        if bucket is None or moment >= bucket["start"] + window:
            bucket = self.store["rate"][key] = {"start": moment, "count": 0}
        return bucket

    def _count(self, req: Request) -> None:
        """Counts one call against its client's window; 429 with Retry-After once over the limit."""
        key, window = self._bucket_key(req)
        bucket = self._bucket(key, window)
        bucket["count"] += 1
        if bucket["count"] > self.store["settings"]["rate_limit"]:
            wait = max(1, math.ceil(bucket["start"] + window - time.time()))
            raise gh_error(429, "Too Many Requests", ["Rate limit exceeded"], headers={"Retry-After": str(wait)})

    # ---- OAuth ---------------------------------------------------------------------------------------------

    def token(self, req: Request) -> Response:
        self._count(req)
        form = req.form()
        client_id, secret = self._client_credentials(req)
        client = self.store["clients"].get(client_id)
        if client is None or not secrets.compare_digest(secret.encode(), client["client_secret"].encode()) \
                or self.fault_active(("bad_credentials", "revoke"), req=req):
            return Response(401, {"error": "invalid_client"})
        grant = form.get("grant_type")
        if grant != "client_credentials":
            return Response(400, {"error": "unsupported_grant_type" if grant else "invalid_request"})
        sub = form.get("sub")
        if sub:
            user = self.store["users"].get(int(sub)) if sub.isdigit() else None
            if user is None or user["deactivated"] or user["service_account"]:
                raise token_error(400, f"Invalid sub: {sub} is not an active user of this organization")
            user_id = user["id"]
        else:
            user_id = client["service_user_id"]
        issued = now()
        lifetime = self.store["settings"]["token_lifetime"]
        expires = issued + timedelta(seconds=lifetime)
        access = jwt_like({"iss": "https://auth.greenhouse.io", "sub": str(user_id), "client_id": client_id,
                           "iat": int(issued.timestamp()), "exp": int(expires.timestamp()),
                           "jti": secrets.token_hex(8)}, self._key)
        self.store["tokens"][access] = {"token": access, "client_id": client_id, "user_id": user_id,
                                        "sub": sub or None, "issued_at": iso(issued), "expires_at": iso(expires)}
        return Response(200, {"access_token": access, "token_type": "Bearer", "expires_in": lifetime,
                              "expires_at": iso(expires)}, {"Cache-Control": "no-store"})

    def _client_credentials(self, req: Request) -> tuple[str, str]:
        basic = basic_credentials(req.headers.get("Authorization"))
        if basic is not None:
            return basic
        form = {k: v[0] for k, v in parse_qs(req.body.decode(errors="replace")).items()}
        return form.get("client_id", ""), form.get("client_secret", "")

    def _bearer(self, req: Request) -> dict[str, Any] | None:
        header = req.headers.get("Authorization") or ""
        if not header.lower().startswith("bearer "):
            return None
        return self.store["tokens"].get(header[7:].strip())

    def _authorized(self, req: Request, scope: str) -> dict[str, Any]:
        """The token's record after the checks Harvest makes: a live token, the rate limit, the scope, and on
        GETs a Site Admin (or the service user) acting."""
        header = req.headers.get("Authorization") or ""
        if not header.lower().startswith("bearer "):
            raise unauthorized("No bearer token was sent.")
        token = self._bearer(req)
        if token is None:
            raise unauthorized("Invalid token.")
        if parse_iso(token["expires_at"]) <= now():
            raise unauthorized("Signature has expired.")
        if token["client_id"] not in self.store["clients"] or self.fault_active("revoke", req=req):
            raise unauthorized("The API credential has been revoked.")
        if self.fault_active("expire_token", req=req):
            del self.store["tokens"][token["token"]]
            raise unauthorized("Signature has expired.")
        self._count(req)
        if scope not in self.store["clients"][token["client_id"]]["scopes"]:
            raise forbidden(f"This API credential does not have the {scope} scope.")
        user = self.store["users"].get(token["user_id"])
        if req.method == "GET" and not (user and (user["site_admin"] or user["service_account"])):
            raise forbidden("The acting user must be a Site Admin to use list endpoints.")
        return token

    # ---- reads ---------------------------------------------------------------------------------------------

    def _list(self, req: Request, resource: str,
              items: list[dict[str, Any]] | Callable[[ListQuery], list[dict[str, Any]]]) -> Response:
        scope, params = LISTS[resource]
        self._authorized(req, scope)
        q = list_query(req, params)
        items = items(q) if callable(items) else items
        shown, headers = page(items, q, lambda cursor: f"{self.url}{req.path}?cursor={cursor}")
        return Response(200, shown, headers)

    def _one(self, req: Request, resource: str, show: Callable[[dict[str, Any]], dict[str, Any]]) -> dict:
        self._authorized(req, LISTS[resource][0])
        raw = req.params["id"]
        record = self.store[resource].get(int(raw)) if raw.isdigit() else None
        if record is None or (resource == "users" and record["service_account"]):
            raise not_found(SINGLE[resource])
        return show(record)

    def jobs_list(self, req: Request) -> Response:
        return self._list(req, "jobs", self._sorted("jobs"))

    def jobs_get(self, req: Request) -> dict[str, Any]:
        return self._one(req, "jobs", dict)

    def stages_list(self, req: Request) -> Response:
        return self._list(req, "stages", [self._stage_json(s) for s in self._sorted("stages")])

    def stages_get(self, req: Request) -> dict[str, Any]:
        return self._one(req, "stages", self._stage_json)

    def candidates_list(self, req: Request) -> Response:
        return self._list(req, "candidates", [self._candidate_json(c) for c in self._sorted("candidates")])

    def candidates_get(self, req: Request) -> dict[str, Any]:
        return self._one(req, "candidates", self._candidate_json)

    def applications_list(self, req: Request) -> Response:
        return self._list(req, "applications", [self._app_json(a) for a in self._sorted("applications")])

    def applications_get(self, req: Request) -> dict[str, Any]:
        return self._one(req, "applications", self._app_json)

    def application_stages_list(self, req: Request) -> Response:
        moment = now()
        rows = [application_stage_json(r, moment) for r in self._sorted("application_stages")]
        return self._list(req, "application_stages", rows)

    def notes_list(self, req: Request) -> Response:
        return self._list(req, "notes", [note_json(n) for n in self._sorted("notes")])

    def users_list(self, req: Request) -> Response:
        def users(q: ListQuery) -> list[dict[str, Any]]:  # a cursor keeps the first page's query
            service = "true" in q.query.get("show_service_accounts", [])
            return [user_json(u) for u in self._sorted("users") if service or not u["service_account"]]
        return self._list(req, "users", users)

    def users_get(self, req: Request) -> dict[str, Any]:
        return self._one(req, "users", user_json)

    # ---- writes --------------------------------------------------------------------------------------------

    def note_create(self, req: Request) -> Response:
        token = self._authorized(req, "harvest:notes:create")
        body = req.json()
        if not isinstance(body, dict):
            raise unprocessable("The request body must be a JSON object.")
        errors: list[dict[str, str]] = []
        for field in ("candidate_id", "application_id", "user_id"):
            value = body.get(field)
            if value is not None and type(value) is not int and not (type(value) is str and value.isdigit()):
                errors.append({field: "must be an integer"})
        if body.get("candidate_id") is None:
            errors.append({"candidate_id": "is required"})
        if not isinstance(body.get("body"), str) or not body["body"].strip():
            errors.append({"body": "is required"})
        if body.get("visibility") not in VISIBILITIES:
            errors.append({"visibility": f"must be one of: {', '.join(VISIBILITIES[:3])}"})
        if body.get("note_type") != "NOTE":
            errors.append({"note_type": f"must be one of: {', '.join(NOTE_TYPES_SHOWN)}"})
        user_id = int(body["user_id"]) if str(body.get("user_id") or "").isdigit() else token["user_id"]
        if body.get("user_id") is not None and user_id not in self.store["users"]:
            errors.append({"user_id": "is not a user of this organization"})
        if errors:
            raise unprocessable(*errors)
        candidate_id = int(body["candidate_id"])
        application_id = int(body["application_id"]) if body.get("application_id") is not None else None
        moment = iso(now())
        note = {"id": self.next_id("notes"), "candidate_id": candidate_id, "application_id": application_id,
                "user_id": user_id, "body": body["body"], "subject": None, "type": "NOTE",
                "visibility": body["visibility"], "email_from": None, "email_to": None, "email_cc": None,
                "import_hash": None, "created_at": moment, "updated_at": moment,
                "orphan": candidate_id not in self.store["candidates"]}
        self.store["notes"][note["id"]] = note
        for kind, record_id in (("candidates", candidate_id), ("applications", application_id)):
            if record_id in self.store[kind]:
                self.store[kind][record_id]["last_activity_at"] = moment
        return Response(201, note_json(note))

    def application_move(self, req: Request) -> None:
        token = self._authorized(req, "harvest:applications:move")
        raw = req.params["id"]
        app = self.store["applications"].get(int(raw)) if raw.isdigit() else None
        if app is None:
            raise not_found("Application")
        body = req.json()
        if not isinstance(body, dict):
            raise unprocessable("The request body must be a JSON object.")
        ints = {}
        for field in ("from_stage_id", "to_stage_id", "to_job_id", "email_from_user_id"):
            value = body.get(field)
            if value is not None and type(value) is not int and not (type(value) is str and value.isdigit()):
                raise unprocessable({field: "must be an integer"})
            ints[field] = None if value is None else int(value)
        if ints["from_stage_id"] is None:
            raise unprocessable({"from_stage_id": "is required"})
        if app["status"] != "active":
            raise unprocessable("Only active applications can be moved.")
        if ints["from_stage_id"] != app["stage_id"]:
            raise unprocessable({"from_stage_id": "does not match the application's current stage"})
        if ints["email_from_user_id"] is not None and ints["email_from_user_id"] not in self.store["users"]:
            raise unprocessable({"email_from_user_id": "is not a user of this organization"})
        job_id = app["job_id"] if ints["to_job_id"] is None else ints["to_job_id"]
        if job_id not in self.store["jobs"]:
            raise unprocessable({"to_job_id": "is not a job of this organization"})
        stages = self._stages_of(job_id)
        if ints["to_stage_id"] is not None:
            stage = next((s for s in stages if s["id"] == ints["to_stage_id"]), None)
            if stage is None:
                raise unprocessable({"to_stage_id": "is not an active stage of the job"})
            if stage["id"] == app["stage_id"]:
                raise unprocessable({"to_stage_id": "is the application's current stage"})
        elif ints["to_job_id"] is not None:
            if not stages:
                raise unprocessable({"to_job_id": "has no active stages"})
            stage = stages[0]
        else:
            later = [s for s in stages if s["sort_order"] > self.store["stages"][app["stage_id"]]["sort_order"]]
            if not later:
                raise unprocessable("The application is already in the last stage of its job.")
            stage = later[0]
        self.move(app, stage, user_id=token["user_id"], source="api")
        if self.store["settings"]["webhook_on_api_move"] and (delivery := self._stage_change_delivery(app)):
            store = self.store
            self._schedule(0, lambda: self._send(delivery, store))

    def move(self, app: dict[str, Any], stage: dict[str, Any], *, user_id: int | None, source: str) -> dict:
        """Moves `app` to `stage` (under the lock): the application, its stage history and a `moves` entry."""
        moment = iso(now())
        move = {"n": len(self.store["moves"]) + 1, "application_id": app["id"], "from_stage_id": app["stage_id"],
                "to_stage_id": stage["id"], "from_stage_name": self._stage_name(app), "to_stage_name": stage["name"],
                "from_job_id": app["job_id"], "to_job_id": stage["job_id"], "user_id": user_id, "source": source,
                "at": moment}
        self.store["moves"].append(move)
        self.store["application_stages"][app["row_id"]].update(current=False, exited_at=moment, updated_at=moment)
        app["row_id"] = self.open_stage_row(app["id"], stage["id"], moment)
        app.update(stage_id=stage["id"], job_id=stage["job_id"], updated_at=moment, last_activity_at=moment)
        if app["candidate_id"] in self.store["candidates"]:
            self.store["candidates"][app["candidate_id"]]["last_activity_at"] = moment
        return move

    def open_stage_row(self, application_id: int, stage_id: int, moment: str) -> int:
        row_id = self.next_id("application_stages")
        self.store["application_stages"][row_id] = {
            "id": row_id, "application_id": application_id, "job_interview_stage_id": stage_id,
            "entered_at": moment, "exited_at": None, "current": True, "created_at": moment, "updated_at": moment}
        return row_id

    # ---- web hooks -----------------------------------------------------------------------------------------

    def on_stage_change(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise Abort(400, "expected a JSON object", field="body")
        with self.lock:
            store = self.store
            app = self._find_application(data.get("application"))
            stage = self._find_stage(app["job_id"], data.get("stage"))
            if app["status"] != "active":
                raise Abort(409, f"application {app['id']} is {app['status']}, not active", field="application")
            if stage["id"] == app["stage_id"]:
                raise Abort(409, f"application {app['id']} is already in {stage['name']!r}", field="stage")
            user_id = data.get("user_id")
            if user_id is not None and type(user_id) is not int:
                raise Abort(400, "user_id must be an integer", field="user_id")
            move = self.move(app, stage, user_id=user_id, source="stage_change")
            delivery = self._stage_change_delivery(app)
        if delivery is not None:
            self._send(delivery, store)
        with self.lock:
            return {"application": self._app_json(app), "move": move,
                    "delivery": None if delivery is None else _summary(delivery)}

    def _find_application(self, ref: Any) -> dict[str, Any]:
        if type(ref) is str and ref.isdigit():
            ref = int(ref)
        app = self.store["applications"].get(ref) if type(ref) is int else None
        if app is None:
            raise Abort(404, f"no application {ref!r}", field="application")
        return app

    def _find_stage(self, job_id: int, ref: Any) -> dict[str, Any]:
        stages = self._stages_of(job_id, active_only=False)
        if type(ref) is int or (type(ref) is str and ref.isdigit()):
            found = [s for s in stages if s["id"] == int(ref)]
        else:
            found = [s for s in stages if s["name"] == ref] or [
                s for s in stages if isinstance(ref, str) and s["name"].lower() == ref.lower()]
        if not found:
            names = ", ".join(repr(s["name"]) for s in stages)
            raise Abort(400, f"job {job_id} has no stage {ref!r} (it has {names})", field="stage")
        return found[0]

    def _stage_change_delivery(self, app: dict[str, Any]) -> dict[str, Any] | None:
        s = self.store
        payload = stage_change_payload(app, s["candidates"].get(app["candidate_id"]), s["jobs"][app["job_id"]],
                                       s["stages"][app["stage_id"]], s["users"])
        return self._new_delivery("candidate_stage_change", webhook_body(payload), app["id"], retry=True)

    def _new_delivery(self, action: str, body: bytes, application_id: int | None, *, retry: bool,
                      force: bool = False) -> dict[str, Any] | None:
        """A delivery record (under the lock); None when the hook is disabled or has no URL, unless `force`."""
        hook = self.store["webhook"]
        if not hook["url"] or not (hook["enabled"] or force):
            return None
        delivery = {"n": len(self.store["deliveries"]) + 1, "event_id": str(uuid.uuid4()), "action": action,
                    "application_id": application_id, "url": hook["url"], "body": body.decode("ascii"),
                    "signature": signature(hook["secret"], body), "status": None, "attempts": [],
                    "redelivery_of": None, "retry": retry}
        self.store["deliveries"].append(delivery)
        return delivery

    def _send(self, delivery: dict[str, Any], store: dict[str, Any]) -> int | None:
        """POSTs a delivery (without the lock: the receiver may call back), records the answer and schedules a
        retry for anything but 200. Does nothing once the store has been reset."""
        if self.store is not store:
            return None
        headers = {"Content-Type": "application/json", "Signature": delivery["signature"],
                   "Greenhouse-Event-ID": delivery["event_id"], "User-Agent": "Greenhouse-Webhooks"}
        status = post_raw(delivery["url"], delivery["body"].encode("ascii"), headers,
                          timeout=store["settings"]["webhook_timeout"])
        with self.lock:
            delivery["attempts"].append({"at": iso(now()), "status": status})
            delivery["status"] = status
            delays = store["settings"]["webhook_retry_delays"]
            tries = len(delivery["attempts"])
            if status != 200 and delivery["retry"] and tries <= len(delays) and self.store is store:
                self._schedule(delays[tries - 1], lambda: self._send(delivery, store))
        return status

    def _schedule(self, delay: float, job: Callable[[], None]) -> None:
        with self._timer_wake:
            heapq.heappush(self._timers, (time.monotonic() + delay, next(self._timer_seq), job))
            self._timer_wake.notify()

    def _run_timers(self) -> None:
        while True:
            with self._timer_wake:
                while not self._stopping.is_set() and (not self._timers or self._timers[0][0] > time.monotonic()):
                    self._timer_wake.wait(self._timers[0][0] - time.monotonic() if self._timers else None)
                if self._stopping.is_set():
                    return
                job = heapq.heappop(self._timers)[2]
            try:
                job()
            except Exception:  # noqa: BLE001 - one failed delivery must not stop the others
                traceback.print_exc()

    # ---- control calls beyond the base's -------------------------------------------------------------------

    def _control(self, req: Request) -> Response:
        extra = {("POST", "/_fake/ping"): self._ping, ("POST", "/_fake/redeliver"): self._redeliver,
                 ("POST", "/_fake/webhooks"): self._configure_hook, ("DELETE", "/_fake/webhooks"): self._remove_hook,
                 ("GET", "/_fake/board"): self._board, ("POST", "/_fake/board"): self._board_move}
        handler = extra.get((req.method, req.path.rstrip("/")))
        if handler is None:
            return super()._control(req)
        try:
            return handler(req)
        except Abort as e:
            return Response(e.status, {"error": e.message, "field": e.field} if e.field else {"error": e.message})

    def _hook_options(self, req: Request, allowed: tuple[str, ...]) -> dict[str, Any]:
        data = req.json() if req.body else {}
        if not isinstance(data, dict):
            raise Abort(400, "expected a JSON object", field="body")
        for key, value in data.items():
            if key not in allowed:
                raise Abort(400, f"unknown field {key!r}", field=key)
            if (key == "enabled") != (type(value) is bool) or (key != "enabled" and not isinstance(value, str)):
                raise Abort(400, f"{key} must be {'true or false' if key == 'enabled' else 'a string'}", field=key)
        return data

    def _configure_hook(self, req: Request) -> Response:
        data = self._hook_options(req, ("url", "secret", "enabled"))
        with self.lock:
            self.store["webhook"].update(data)
            self.webhook_url = self.store["webhook"]["url"]
            return Response(200, dict(self.store["webhook"]))

    def _remove_hook(self, req: Request) -> Response:
        with self.lock:
            self.store["webhook"]["enabled"] = False
            return Response(200, dict(self.store["webhook"]))

    def _ping(self, req: Request) -> Response:
        data = self._hook_options(req, ("url", "secret"))
        with self.lock:
            store, hook = self.store, self.store["webhook"]
            hook.update(data)
            self.webhook_url = hook["url"]
            if not hook["url"]:
                raise Abort(400, "the hook has no URL: start with --webhook-url or send {\"url\": ...}", field="url")
            delivery = self._new_delivery("ping", webhook_body(ping_payload(hook, now())), None, retry=False,
                                          force=True)
        status = self._send(delivery, store)
        with self.lock:
            hook["enabled"] = status == 200
            return Response(200, {"delivery": _summary(delivery), "webhooks_enabled": hook["enabled"]})

    def _redeliver(self, req: Request) -> Response:
        data = req.json()
        with self.lock:
            store, done = self.store, self.store["deliveries"]
            originals = [d for d in done if d["redelivery_of"] is None]
            if isinstance(data, dict) and type(data.get("delivery")) is int and set(data) == {"delivery"}:
                chosen = [d for d in done if d["n"] == data["delivery"]]
                if not chosen:
                    raise Abort(404, f"no delivery {data['delivery']}", field="delivery")
            elif isinstance(data, dict) and type(data.get("last")) is int and data["last"] >= 1 and set(data) == {
                    "last"}:
                chosen = originals[-data["last"]:]
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

    def _board(self, req: Request, message: str = "") -> Response:
        with self.lock:
            rows = [{"id": a["id"], "candidate": _name(self.store["candidates"].get(a["candidate_id"]) or {}),
                     "job": self.store["jobs"][a["job_id"]]["name"], "stage": self._stage_name(a),
                     "status": a["status"], "stage_id": a["stage_id"], "stages": self._stages_of(a["job_id"])}
                    for a in self._sorted("applications")]
            page_html = board_page(rows, self.store["webhook"], self.store["deliveries"][::-1][:20], message)
        return Response(200, page_html)

    def _board_move(self, req: Request) -> Response:
        form = req.form()
        try:
            answer = self.on_stage_change({"application": form.get("application"), "stage": form.get("stage")})
            delivery = answer["delivery"]
            message = f"Moved application {form.get('application')} to {answer['move']['to_stage_name']}; " + (
                f"web hook answered {delivery['status']}." if delivery else "no web hook was sent.")
        except Abort as e:
            message = e.message
        return self._board(req, message)

    # ---- shapes --------------------------------------------------------------------------------------------

    def _sorted(self, kind: str) -> list[dict[str, Any]]:
        return [self.store[kind][i] for i in sorted(self.store[kind])]

    def _stages_of(self, job_id: int, *, active_only: bool = True) -> list[dict[str, Any]]:
        stages = [self._stage_json(s) for s in self._sorted("stages") if s["job_id"] == job_id
                  and (s["active"] or not active_only)]
        return sorted(stages, key=lambda s: s["sort_order"])

    def _stage_name(self, app: dict[str, Any]) -> str | None:
        stage = self.store["stages"].get(app["stage_id"])
        return stage["name"] if stage else None

    @staticmethod
    def _stage_json(stage: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in stage.items() if k != "interviews"}

    @staticmethod
    def _candidate_json(candidate: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in candidate.items() if k not in ("external_id", "recruiter_id", "coordinator_id")}

    def _app_json(self, app: dict[str, Any]) -> dict[str, Any]:
        return application_json(app, self.store["stages"].get(app["stage_id"]))

    # ---- client helpers ------------------------------------------------------------------------------------

    def ping(self, **hook: str) -> dict[str, Any]:
        return self._call("POST", "/_fake/ping", hook)

    def configure_webhooks(self, **hook: Any) -> dict[str, Any]:
        return self._call("POST", "/_fake/webhooks", hook)

    def remove_webhooks(self) -> dict[str, Any]:
        return self._call("DELETE", "/_fake/webhooks")

    def redeliver(self, *, delivery: int | None = None, last: int | None = None) -> list[dict[str, Any]]:
        body = {"delivery": delivery} if delivery is not None else {"last": last}
        return self._call("POST", "/_fake/redeliver", body)["deliveries"]


def _summary(delivery: dict[str, Any]) -> dict[str, Any]:
    return {k: delivery[k] for k in ("n", "event_id", "action", "application_id", "status", "redelivery_of")}


def _name(candidate: dict[str, Any]) -> str:
    return " ".join(p for p in (candidate.get("first_name"), candidate.get("last_name")) if p) or "(unknown)"
