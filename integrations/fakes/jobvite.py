"""The `jobvite` fake: Jobvite's API v2 (candidates with their one application each, jobs, workflow states) and its
webhooks, in memory, over plain http on 127.0.0.1, so that an adapter written on `requests` runs unchanged with only
its base URL (https://api.jobvite.com) pointed here (contracts/icims-jobvite.md section 2, "§" below):

    fake = JobviteFake.start(webhook_url="http://127.0.0.1:8000/webhooks/ats/KEY/")
    ids = fake.seed({"api_keys": [{"key": "k", "secret": "s"}],
                     "workflow": ["New", "Phone Screen", "Interview", "Offer"],
                     "jobs": [{"title": "Teacher"}],
                     "candidates": [{"firstName": "Ana", "lastName": "Ruiz", "email": "ana@example.com",
                                     "application": {"job": "<job eId>"}}],
                     "webhook": {"signing_key": "sign-key"}})["ids"]
    requests.get(fake.url + "/api/v2/candidate", params={"applicationId": ids["applications"][0]},
                 headers={"x-jvi-api": "k", "x-jvi-sc": "s"})
    fake.stage_change(ids["applications"][0], "Interview")  # moves it and POSTs the webhook

Paths, all JSON, every answer (errors included) carrying the `status` envelope `{"code", "messages"}` (§2.8):
- `GET /api/v2/candidate`: `start`/`count` paging (count 1-500, default 100; `settings.start_base` 0 or 1, the
  contract's open question §3 #6: with base 1, `start=0` reads as 1), `datestart`/`dateend` with `dateFormat`
  (v1's `dateformat` too; Java patterns, default `yyyy-MM-dd`, UTC unless the pattern has a zone; inclusive, on
  `lastUpdatedDate`; `settings.datestart_granularity` "day" ignores the time of day), repeatable `wflowstate`
  (names; `%20` and `+` both decode to a space), `candidateId`, `applicationId`, `format=json` (ignored). Answers
  `{"candidates": [...], "total": n, "status": ...}`, one row per application (§2.3), ordered by
  (`lastUpdatedDate`, eId), epoch milliseconds. A candidate without an application is a row with `"application":
  null`, listed only when asked for by `candidateId`.
- `PUT /api/v2/candidate` `{"application": {"eId", "workflowState"?, "comments"?}}` (the contract's best guess of
  the gated body, §2.5 [U]): an unknown state answers 400 "Cannot determine a workflow state"; `comments`
  REPLACES the field (`settings.comments_mode` "replace", the reading that forces a read-modify-write) or is added
  after it on a new line ("append", the other reading, §3 #6). Answers `{"application": {"eId"}, "status": ...}`.
- `POST /api/v2/candidate` `{"candidate": {"firstName", "lastName", "email", "application": {"jobEId"}}}`: 201 with
  `{"application": {"EId", "candidate": {"EId"}}}` (capital `EId` on write, §2.5).
- `GET /api/v2/job` (`start`, `count`, `ids` comma-separated): `{"requisitions": [{eId, title, requisitionId,
  jobState, ...}], "total"}`.
- `GET /api/v2/workflow`: `{"workflows": [{"eId", "name", "states": [{"eId", "name", "order"}]}], "total"}`, the
  company's one workflow (the response shape is not public, §2.4 [U]: this one is a guess).
- `/v2/...` without `/api` answers a 302 to the same path under `/api/v2/`; any other path 404 "Invalid URL Cannot
  find API.".

Auth (§2.2): headers `x-jvi-api` and `x-jvi-sc` (a seeded key and its secret); the legacy query `api`/`sc`
(`settings.legacy_query_auth`, default true); or the signed variant `X-JVI-API`, `X-JVI-EPOCH` (Unix seconds, within
300 s) and `X-JVI-SIGN` = base64(HMAC-SHA256(secret, key + "|" + epoch)). Wrong or missing: 401 `{"status": {"code":
401, "messages": ["Invalid api/secret. Try again with a valid api/secret"]}}`. Access is per endpoint (§2.2): a key's
`entitlements` (default all of ENTITLEMENTS: "candidate:get", "candidate:put", "candidate:post", "job:get",
"workflow:get"); a missing one answers the same 401 on that endpoint alone (§2.8: /candidate refused while /job works).

Errors inside HTTP 200 (§2.8, the trap): `settings.errors_in_200` true (every error) or a list of path prefixes
answers every error on those paths with HTTP 200 and the error's code in `status.code`. A fault's answer too.

Limits (§2.7 [3P][U]): `settings.daily_limits` (per key, per resource, per US Pacific day; default candidate 20000,
job 500; `workflow` not counted) and `settings.rate_limit` (`{"per_minute": 15, "per_hour": 850}`, per key; default
null: off, since tests and the demo make bursts). Over a limit: HTTP `settings.limit_status` (429) with the code in
the envelope, and no rate-limit header at all, as a live probe saw (§2.7); the daily one says "Daily API quota
exceeded ... resets at midnight Pacific Time".

Webhooks (§2.6, where configured): `webhook` `{"url", "signing_key", "enabled", "id_field"}`. A state change through
`POST /_fake/stage_change` `{"application": eId, "stage": name}` (delivered before the control call answers) or
through the API's PUT (`settings.webhook_on_api_move`, default true; delivered from a thread right after the
answer) POSTs `{"eventType": "workflowUpdate", "url", "id" (or "candidateId": `webhook.id_field`), "applicationId",
"oldValue", "newValue", "date"}` to the URL, with `X-Jobvite-Event-Signature` = base64(HMAC-SHA256(signing key,
body)) when a signing key is set, and no signature otherwise. One try, no retry. `POST /_fake/redeliver`
`{"last": k}` sends the last k deliveries again, byte for byte.

A colleague editing the comments: `POST /_fake/edit_comments` `{"application", "comments"? (the whole new value) |
"append"? (text added on a new line), "after"? {"method": "GET"|"PUT", "count": n}}` edits now, or right after the
n-th next request of that method about that application has been answered (before the next one is read): the
read-modify-write race, staged.

Seed (adds; eIds are assigned when left out and answered in `ids`):

    {"api_keys": [{"key", "secret", "entitlements"?}],
     "workflow": ["New", ...] or [{"name", "eId"?}],   # replaces the company's states (default DEFAULT_STATES)
     "jobs": [{"eId"?, "title", "requisitionId"?, "jobState"? ("Open"), "department"?, "location"?}],
     "candidates": [{"eId"? (an existing eId adds another application to that person), "firstName", "lastName",
                     "email"?, "mobile"?, "homePhone"?,
                     "application"? {"eId"?, "job", "workflowState"? (the first), "lastUpdatedDate"? (ms),
                                     "comments"?}}],
     "webhook": {"url"?, "signing_key"?, "enabled"?, "id_field"? ("id" | "candidateId")}, "webhook_url"?,
     "settings": {see DEFAULT_SETTINGS}}

`GET /_fake/state`: api_keys, workflow, jobs, candidates, applications, moves (`{n, application, from_state,
to_state, source: api|stage_change, at}`), comment_writes (`{n, application, sent, before, after, at}`), deliveries
(`{n, application, body, headers, status, redelivery_of}`), webhook, settings, usage (calls per key, resource and
Pacific day), edits (staged colleague edits not yet applied).

Faults (`target`: a path prefix, or an API key): `bad_credentials` (every call answers as a wrong key would:
`status` 401 by default, 200 for the envelope inside HTTP 200, 302 for the redirect to the web app's login page that
§2.8 says some failures get), `quota_exhausted` (the daily-quota answer; `status` defaults to 429), `throttle`
(429 and the envelope; `Retry-After` only when the fault gives `retry_after`), `error` (5xx and the envelope),
`slow`, `timeout` (applied, then the answer is held), `drop` (nothing applied).

Departures from the real service, and why:
- One plain-http host for api.jobvite.com (and the stage host); no TLS.
- The PUT body, the workflow list's shape, the webhook's `eventType` value and its registration are not public
  (§2.5, §2.4, §2.6, §3 #5, #7): the fake uses the contract's guesses; webhooks are configured through the seed.
- `job.eId` is always present in candidate rows (§2.6 says it may be null): not modelled.
- The over-limit answer is unknown (§2.7, §2.9 [U]); its code and wording here are invented, and switchable.
- Times are the real clock's (time-machine moves them in tests); `datestart` without a zone in its pattern is UTC.
- No v1 routes, dispositions, custom fields, offer letters, documents or tasks.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any

from integrations.fakes.base import Abort, FakeServer, Fault, Request, Response
from integrations.fakes.greenhouse_wire import post_raw
from integrations.fakes.jobvite_wire import (
    BAD_KEY,
    DEFAULT_DATE_FORMAT,
    NO_API,
    QUOTA_SPENT,
    RATE_LIMITED,
    candidate_row,
    envelope,
    event_signature,
    jv_error,
    login_redirect,
    ms_of,
    new_eid,
    now_ms,
    pacific_day,
    parse_date,
    signed_value,
)

DEFAULT_STATES = ("New", "Phone Screen", "Interview", "Offer", "Offer Accepted", "Hired", "Rejected")
ENTITLEMENTS = ("candidate:get", "candidate:put", "candidate:post", "job:get", "workflow:get")
COUNT_MAX, COUNT_DEFAULT = 500, 100
SIGNED_SKEW = 300  # seconds an X-JVI-EPOCH may be off
DEFAULT_SETTINGS = {"start_base": 0, "comments_mode": "replace", "errors_in_200": False,
                    "datestart_granularity": "second", "legacy_query_auth": True, "webhook_on_api_move": True,
                    "webhook_timeout": 10, "daily_limits": {"candidate": 20000, "job": 500}, "rate_limit": None,
                    "limit_status": 429, "hide_comments": False}
SEED_KEYS = {"api_keys", "workflow", "jobs", "candidates", "webhook", "webhook_url", "settings"}
EVENT_TYPE = "workflowUpdate"


class JobviteFake(FakeServer):
    name = "jobvite"
    routes = [
        ("GET", r"/api/v2/candidate", "candidates_get"),
        ("PUT", r"/api/v2/candidate", "candidate_update"),
        ("POST", r"/api/v2/candidate", "candidate_create"),
        ("GET", r"/api/v2/job", "jobs_get"),
        ("GET", r"/api/v2/workflow", "workflow_get"),
        *[(m, r"/v2/(?P<rest>.*)", "without_api_prefix") for m in ("GET", "PUT", "POST")],
    ]

    def __init__(self, *, webhook_url: str | None = None):
        self._default_webhook_url = webhook_url
        super().__init__(webhook_url=webhook_url)

    def new_state(self) -> dict[str, Any]:
        self.webhook_url = self._default_webhook_url
        return {"api_keys": {}, "workflow": [{"eId": new_eid(), "name": n} for n in DEFAULT_STATES], "jobs": {},
                "candidates": {}, "applications": {}, "moves": [], "comment_writes": [], "deliveries": [],
                "webhook": {"url": self._default_webhook_url, "signing_key": None, "enabled": True,
                            "id_field": "id"},
                "settings": json.loads(json.dumps(DEFAULT_SETTINGS)), "usage": {}, "windows": {}, "edits": []}

    def state_json(self) -> dict[str, Any]:
        s = self.store
        state = {k: list(s[k].values()) for k in ("api_keys", "jobs", "candidates", "applications")}
        state.update({k: s[k] for k in ("workflow", "moves", "comment_writes", "deliveries", "webhook", "settings",
                                         "usage", "edits")})
        return json.loads(json.dumps(state, default=str))

    # ---- seed ---------------------------------------------------------------------------------------------------

    def on_seed(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise Abort(400, "expected a JSON object", field="body")
        if unknown := sorted(set(data) - SEED_KEYS):
            raise Abort(400, f"unknown seed key {unknown[0]!r}", field=unknown[0])
        s, made = self.store, {}
        self._seed_settings(data.get("settings") or {})
        for item in _items(data, "api_keys"):
            entitlements = item.get("entitlements", list(ENTITLEMENTS))
            if not isinstance(entitlements, list) or not set(entitlements) <= set(ENTITLEMENTS):
                raise Abort(400, f"api_keys: entitlements are a list among {', '.join(ENTITLEMENTS)}",
                            field="api_keys")
            key = _text(item, "key", "api_keys")
            s["api_keys"][key] = {"key": key, "secret": _text(item, "secret", "api_keys"),
                                  "entitlements": entitlements}
        if "workflow" in data:
            self._seed_workflow(data["workflow"])
        made["workflow"] = [st["name"] for st in s["workflow"]]
        for item in _items(data, "jobs"):
            job_id = str(item.get("eId") or new_eid())
            s["jobs"][job_id] = {"eId": job_id, "title": _text(item, "title", "jobs"),
                                 "requisitionId": str(item.get("requisitionId") or len(s["jobs"]) + 1000),
                                 "jobState": item.get("jobState", "Open"), "department": item.get("department", ""),
                                 "location": item.get("location", ""),
                                 "primaryRecruiter": {"userId": "ulUaZm4L", "userName": "recruiter@example.org"}}
            made.setdefault("jobs", []).append(job_id)
        for item in _items(data, "candidates"):
            person_id, app_id = self._seed_candidate(item)
            made.setdefault("candidates", []).append(person_id)
            if app_id:
                made.setdefault("applications", []).append(app_id)
        if "webhook" in data:
            hook = data["webhook"]
            if not isinstance(hook, dict) or set(hook) - {"url", "signing_key", "enabled", "id_field"} \
                    or hook.get("id_field", "id") not in ("id", "candidateId"):
                raise Abort(400, "webhook is {url?, signing_key?, enabled?, id_field? (id | candidateId)}",
                            field="webhook")
            s["webhook"].update(hook)
        if "webhook_url" in data:
            s["webhook"]["url"] = data["webhook_url"]
        self.webhook_url = s["webhook"]["url"]
        return {"seeded": True, "ids": made}

    def _seed_settings(self, changes: Any) -> None:
        settings = self.store["settings"]
        if not isinstance(changes, dict) or set(changes) - set(settings):
            raise Abort(400, f"settings must be an object with keys among {sorted(settings)}", field="settings")
        if changes.get("start_base", 0) not in (0, 1):
            raise Abort(400, "settings.start_base is 0 or 1", field="settings")
        if changes.get("comments_mode", "replace") not in ("replace", "append"):
            raise Abort(400, "settings.comments_mode is replace or append", field="settings")
        if changes.get("datestart_granularity", "second") not in ("second", "day"):
            raise Abort(400, "settings.datestart_granularity is second or day", field="settings")
        settings.update(changes)

    def _seed_workflow(self, states: Any) -> None:
        if not isinstance(states, list) or not states:
            raise Abort(400, "workflow is a non-empty list of state names or {name, eId?}", field="workflow")
        known = {st["name"]: st["eId"] for st in self.store["workflow"]}
        made = []
        for item in states:
            name = item if isinstance(item, str) else (item.get("name") if isinstance(item, dict) else None)
            if not isinstance(name, str) or not name:
                raise Abort(400, "each workflow state needs a name", field="workflow")
            eid = item.get("eId") if isinstance(item, dict) and item.get("eId") else known.get(name) or new_eid()
            made.append({"eId": str(eid), "name": name})
        names = {st["name"] for st in made}
        if used := sorted(a["eId"] for a in self.store["applications"].values() if a["workflowState"] not in names):
            raise Abort(400, f"application {used[0]} is in a state this seed drops", field="workflow")
        self.store["workflow"] = made

    def _seed_candidate(self, item: dict[str, Any]) -> tuple[str, str | None]:
        s = self.store
        person_id = str(item.get("eId") or new_eid())
        person = s["candidates"].get(person_id) or {"eId": person_id}
        person.update(firstName=_text(item, "firstName", "candidates"), lastName=_text(item, "lastName", "candidates"),
                      email=item.get("email", ""), mobile=item.get("mobile", ""), homePhone=item.get("homePhone", ""))
        s["candidates"][person_id] = person
        spec = item.get("application")
        if spec is None:
            return person_id, None
        if not isinstance(spec, dict) or spec.get("job") not in s["jobs"]:
            raise Abort(400, f"candidate {person_id}: application.job must be a seeded job's eId", field="candidates")
        state = self._state(spec.get("workflowState", s["workflow"][0]["name"]), field="candidates")
        updated = spec.get("lastUpdatedDate", now_ms())
        if type(updated) is not int:
            raise Abort(400, "application.lastUpdatedDate is epoch milliseconds (an integer)", field="candidates")
        app_id = str(spec.get("eId") or new_eid())
        s["applications"][app_id] = {"eId": app_id, "candidate": person_id, "job": spec["job"],
                                     "workflowState": state["name"], "workflowStateEId": state["eId"],
                                     "lastUpdatedDate": updated, "sentDate": updated,
                                     "comments": spec.get("comments"), "disposition": "", "source": "Career Site"}
        return person_id, app_id

    def _state(self, name: Any, *, field: str = "stage") -> dict[str, Any]:
        for state in self.store["workflow"]:
            if name in (state["name"], state["eId"]):
                return state
        known = ", ".join(repr(st["name"]) for st in self.store["workflow"])
        raise Abort(400, f"no workflow state {name!r} (the company has {known})", field=field)

    # ---- the gate every API call passes --------------------------------------------------------------------

    def check_fault(self, fault: Fault) -> None:
        if fault.kind in ("revoke", "expire_token", "ignore_transaction_id", "component_down"):
            raise Abort(400, f"the jobvite fake has no {fault.kind} fault (Jobvite has keys, not grants)",
                        field="kind")

    def fault_subjects(self, req: Request) -> set[str]:
        key = req.headers.get("x-jvi-api") or req.arg("api")
        return {key} if key else set()

    def error_body(self, status: int, reason: str) -> dict[str, Any]:
        message = {"not_found": NO_API, "method_not_allowed": "Method not allowed.",
                   "internal": "Internal server error."}.get(reason, reason)
        return envelope(status, [message])

    def fault_response(self, fault: Fault, req: Request) -> Response:
        if fault.kind == "throttle":
            status = fault.status or 429
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            return Response(status, envelope(status, [RATE_LIMITED]), headers)
        status = fault.status or 503
        return Response(status, envelope(status, ["The service is temporarily unavailable. Try again later."]))

    def on_response(self, req: Request, resp: Response) -> None:
        """Errors inside HTTP 200 (§2.8): the status code moves into the envelope only."""
        wanted = self.store["settings"]["errors_in_200"]
        hit = wanted is True or (isinstance(wanted, list) and any(req.path.startswith(p) for p in wanted))
        if hit and resp.status >= 400 and isinstance(resp.body, dict) and "status" in resp.body:
            resp.status = 200
        code = resp.body.get("status", {}).get("code", 200) if isinstance(resp.body, dict) else resp.status
        if 200 <= resp.status < 300 and 200 <= code < 300:
            self._after(req)

    def _enter(self, req: Request, resource: str, action: str) -> dict[str, Any]:
        """Authenticates, then checks the endpoint's entitlement, the rate limit and the daily quota."""
        if fault := self.fault_active("bad_credentials", req=req):
            if fault.status in (301, 302, 303):
                raise login_redirect()
            raise Abort(fault.status or 401, BAD_KEY, body=envelope(401, [BAD_KEY]))  # 200: the trap of §2.8
        record = self._credential(req)
        if record is None or f"{resource}:{action}" not in record["entitlements"]:
            raise jv_error(401, BAD_KEY)
        settings = self.store["settings"]
        if fault := self.fault_active("quota_exhausted", req=req):
            raise jv_error(fault.status or settings["limit_status"], QUOTA_SPENT)
        self._rate(record["key"])
        limit = (settings["daily_limits"] or {}).get(resource)
        if limit is not None:
            day = pacific_day()
            counts = self.store["usage"].setdefault(record["key"], {})
            if counts.get("day") != day:
                counts.clear()
                counts["day"] = day
            if counts.get(resource, 0) >= limit:
                raise jv_error(settings["limit_status"], QUOTA_SPENT)
            counts[resource] = counts.get(resource, 0) + 1
        return record

    def _credential(self, req: Request) -> dict[str, Any] | None:
        keys = self.store["api_keys"]
        key, secret = req.headers.get("x-jvi-api"), req.headers.get("x-jvi-sc")
        if key and secret is None and req.headers.get("X-JVI-SIGN"):
            record = keys.get(key)
            epoch = req.headers.get("X-JVI-EPOCH") or ""
            if record is None or not epoch.isdigit() or abs(time.time() - int(epoch)) > SIGNED_SKEW:
                return None
            ok = secrets.compare_digest(signed_value(record["secret"], key, epoch), req.headers["X-JVI-SIGN"].strip())
            return record if ok else None
        if key is None and self.store["settings"]["legacy_query_auth"]:
            key, secret = req.arg("api"), req.arg("sc")
        record = keys.get(key or "")
        if record is None or secret is None or not secrets.compare_digest(record["secret"], secret):
            return None
        return record

    def _rate(self, key: str) -> None:
        limits = self.store["settings"]["rate_limit"]
        if not limits:
            return
        moment = time.monotonic()
        window = [t for t in self.store["windows"].get(key, []) if moment - t < 3600]
        per_minute, per_hour = limits.get("per_minute"), limits.get("per_hour")
        if (per_minute is not None and sum(1 for t in window if moment - t < 60) >= per_minute) or \
                (per_hour is not None and len(window) >= per_hour):
            self.store["windows"][key] = window
            raise jv_error(self.store["settings"]["limit_status"], RATE_LIMITED)
        window.append(moment)
        self.store["windows"][key] = window

    # ---- reads ---------------------------------------------------------------------------------------------

    def _page(self, req: Request, rows: list[Any]) -> list[Any]:
        count = _int_arg(req, "count", COUNT_DEFAULT, 1, COUNT_MAX)
        start = _int_arg(req, "start", self.store["settings"]["start_base"], 0, 10**9)
        offset = max(0, start - self.store["settings"]["start_base"])
        return rows[offset:offset + count]

    def candidates_get(self, req: Request) -> dict[str, Any]:
        self._enter(req, "candidate", "get")
        s = self.store
        apps = list(s["applications"].values())
        if (wanted := req.arg("applicationId")) is not None:
            apps = [a for a in apps if a["eId"] == wanted]
        person = req.arg("candidateId")
        if person is not None:
            apps = [a for a in apps if a["candidate"] == person]
        if states := req.query.get("wflowstate"):
            apps = [a for a in apps if a["workflowState"] in states]
        low, high = self._window(req)
        apps = [a for a in apps if (low is None or a["lastUpdatedDate"] >= low)
                and (high is None or a["lastUpdatedDate"] <= high)]
        apps.sort(key=lambda a: (a["lastUpdatedDate"], a["eId"]))
        show = not s["settings"]["hide_comments"]
        rows = [candidate_row(s["candidates"][a["candidate"]], a, s["jobs"].get(a["job"]), show_comments=show)
                for a in apps]
        if person is not None and person in s["candidates"] and req.arg("applicationId") is None \
                and not any(a["candidate"] == person for a in s["applications"].values()):
            rows.append(candidate_row(s["candidates"][person], None, None))
        return {"candidates": self._page(req, rows), "total": len(rows), **envelope()}

    def _window(self, req: Request) -> tuple[int | None, int | None]:
        pattern = req.arg("dateFormat") or req.arg("dateformat") or DEFAULT_DATE_FORMAT
        day_only = self.store["settings"]["datestart_granularity"] == "day"
        bounds = []
        for name in ("datestart", "dateend"):
            value = req.arg(name)
            if not value:
                bounds.append(None)
                continue
            try:
                moment = parse_date(value, pattern)
            except ValueError as e:
                raise jv_error(400, f"Invalid {name} {value!r} for dateFormat {pattern!r}: {e}") from None
            if day_only:
                moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
                if name == "dateend":
                    moment = moment.replace(hour=23, minute=59, second=59, microsecond=999000)
            bounds.append(ms_of(moment))
        return bounds[0], bounds[1]

    def jobs_get(self, req: Request) -> dict[str, Any]:
        self._enter(req, "job", "get")
        jobs = list(self.store["jobs"].values())
        if ids := req.arg("ids"):
            wanted = {i.strip() for i in ids.split(",")}
            jobs = [j for j in jobs if j["eId"] in wanted]
        return {"requisitions": self._page(req, jobs), "total": len(jobs), **envelope()}

    def workflow_get(self, req: Request) -> dict[str, Any]:
        self._enter(req, "workflow", "get")
        states = [{"eId": st["eId"], "name": st["name"], "order": n} for n, st in enumerate(self.store["workflow"])]
        return {"workflows": [{"eId": "wf000001", "name": "Default Workflow", "states": states}], "total": 1,
                **envelope()}

    def without_api_prefix(self, req: Request) -> Response:
        return Response(302, "<html><body>Moved</body></html>", {"Location": f"{self.url}/api/v2/{req.params['rest']}"})

    # ---- writes --------------------------------------------------------------------------------------------

    def candidate_update(self, req: Request) -> dict[str, Any]:
        self._enter(req, "candidate", "put")
        body = req.json() if req.body else None
        spec = body.get("application") if isinstance(body, dict) else None
        app_id = (spec.get("eId") or spec.get("EId")) if isinstance(spec, dict) else None
        if not isinstance(app_id, str) or not app_id:
            raise jv_error(400, "application.eId is required")
        app = self.store["applications"].get(app_id)
        if app is None:
            raise jv_error(404, f"Application {app_id} not found")
        target = None
        if "workflowState" in spec:
            target = next((st for st in self.store["workflow"] if st["name"] == spec["workflowState"]), None)
            if target is None:
                raise jv_error(400, f"Cannot determine a workflow state for {spec['workflowState']!r}")
        if "comments" in spec and spec["comments"] is not None and not isinstance(spec["comments"], str):
            raise jv_error(400, "application.comments must be text")
        moment = now_ms()
        if "comments" in spec:
            self._write_comments(app, spec["comments"] or "", moment)
        if target is not None and target["name"] != app["workflowState"]:
            move = self._move(app, target, source="api", moment=moment)
            if self.store["settings"]["webhook_on_api_move"] and (delivery := self._delivery(app, move)):
                threading.Thread(target=self._send, args=(delivery, self.store), daemon=True).start()
        app["lastUpdatedDate"] = moment
        return {"application": {"eId": app_id}, **envelope(200, ["Candidate updated successfully."])}

    def _write_comments(self, app: dict[str, Any], sent: str, moment: int) -> None:
        before = app["comments"] or ""
        if self.store["settings"]["comments_mode"] == "append" and before:
            after = f"{before}\n{sent}" if sent else before
        else:
            after = sent
        app["comments"] = after or None
        writes = self.store["comment_writes"]
        writes.append({"n": len(writes) + 1, "application": app["eId"], "sent": sent, "before": before,
                       "after": after, "at": moment})

    def candidate_create(self, req: Request) -> Response:
        self._enter(req, "candidate", "post")
        body = req.json() if req.body else None
        spec = body.get("candidate") if isinstance(body, dict) else None
        if not isinstance(spec, dict) or not spec.get("firstName") or not spec.get("lastName"):
            raise jv_error(400, "candidate.firstName and candidate.lastName are required")
        app_spec = spec.get("application") if isinstance(spec.get("application"), dict) else {}
        if app_spec.get("jobEId") not in self.store["jobs"]:
            raise jv_error(400, f"Job {app_spec.get('jobEId')!r} not found")
        try:
            person_id, app_id = self._seed_candidate({"firstName": spec["firstName"], "lastName": spec["lastName"],
                                                      "email": spec.get("email", ""),
                                                      "application": {"job": app_spec["jobEId"]}})
        except Abort as e:
            raise jv_error(400, e.message) from None
        return Response(201, {"application": {"EId": app_id, "candidate": {"EId": person_id}},
                              **envelope(201, ["Candidate created successfully."])})

    def _move(self, app: dict[str, Any], state: dict[str, Any], *, source: str, moment: int) -> dict[str, Any]:
        move = {"n": len(self.store["moves"]) + 1, "application": app["eId"], "from_state": app["workflowState"],
                "to_state": state["name"], "source": source, "at": moment}
        self.store["moves"].append(move)
        app.update(workflowState=state["name"], workflowStateEId=state["eId"], lastUpdatedDate=moment)
        return move

    # ---- a colleague's edits, staged ------------------------------------------------------------------------

    def _after(self, req: Request) -> None:
        """Applies a staged edit once its request has been answered (called under the lock, from on_response)."""
        if req.path != "/api/v2/candidate" or not self.store["edits"]:
            return
        subject = req.arg("applicationId")
        if req.method == "PUT":
            try:
                spec = json.loads(req.body or b"null").get("application") or {}
                subject = spec.get("eId") or spec.get("EId")
            except (ValueError, AttributeError):
                subject = None
        for edit in list(self.store["edits"]):
            if edit["application"] == subject and edit["method"] == req.method:
                edit["count"] -= 1
                if edit["count"] <= 0:
                    self.store["edits"].remove(edit)
                    self._edit(edit)

    def _edit(self, edit: dict[str, Any]) -> None:
        app = self.store["applications"][edit["application"]]
        moment = now_ms()
        if edit.get("comments") is not None:
            value = edit["comments"]
        else:
            value = f"{app['comments']}\n{edit['append']}" if app["comments"] else edit["append"]
        writes = self.store["comment_writes"]
        writes.append({"n": len(writes) + 1, "application": app["eId"], "sent": value, "before": app["comments"] or "",
                       "after": value, "at": moment, "by": "colleague"})
        app["comments"], app["lastUpdatedDate"] = value or None, moment

    def _edit_comments(self, req: Request) -> Response:
        data = req.json()
        if not isinstance(data, dict) or data.get("application") not in self.store["applications"]:
            raise Abort(400, "application must be a seeded application's eId", field="application")
        if (data.get("comments") is None) == (data.get("append") is None):
            raise Abort(400, "send exactly one of comments (the whole value) and append (text)", field="comments")
        after = data.get("after")
        edit = {"application": data["application"], "comments": data.get("comments"), "append": data.get("append")}
        if after is None:
            self._edit(edit)
            return Response(200, {"edited": True})
        if not isinstance(after, dict) or after.get("method") not in ("GET", "PUT") \
                or type(after.get("count", 1)) is not int or after.get("count", 1) < 1:
            raise Abort(400, "after is {method: GET | PUT, count?: n >= 1}", field="after")
        self.store["edits"].append({**edit, "method": after["method"], "count": after.get("count", 1)})
        return Response(200, {"staged": True})

    # ---- webhooks ------------------------------------------------------------------------------------------

    def _delivery(self, app: dict[str, Any], move: dict[str, Any]) -> dict[str, Any] | None:
        """A delivery record for `move` (under the lock), or None when no webhook is configured."""
        hook = self.store["webhook"]
        if not hook["url"] or not hook["enabled"]:
            return None
        body = json.dumps({"eventType": EVENT_TYPE,
                           "url": f"{self.url}/api/v2/candidate?candidateId={app['candidate']}"
                                  f"&applicationId={app['eId']}",
                           hook["id_field"]: app["candidate"], "applicationId": app["eId"],
                           "oldValue": move["from_state"], "newValue": move["to_state"], "date": move["at"]}).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Jobvite-Webhooks"}
        if hook["signing_key"]:
            headers["X-Jobvite-Event-Signature"] = event_signature(hook["signing_key"], body)
        delivery = {"n": len(self.store["deliveries"]) + 1, "application": app["eId"], "url": hook["url"],
                    "body": body.decode(), "headers": headers, "status": None, "redelivery_of": None}
        self.store["deliveries"].append(delivery)
        return delivery

    def _send(self, delivery: dict[str, Any], store: dict[str, Any]) -> int | None:
        """POSTs a delivery (without the lock) and records the answer; one try."""
        if self.store is not store or self._stopping.is_set():
            return None
        status = post_raw(delivery["url"], delivery["body"].encode(), delivery["headers"],
                          timeout=store["settings"]["webhook_timeout"])
        with self.lock:
            delivery["status"] = status
        return status

    def on_stage_change(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise Abort(400, "expected a JSON object", field="body")
        with self.lock:
            store = self.store
            app = store["applications"].get(str(data.get("application")))
            if app is None:
                raise Abort(404, f"no application {data.get('application')!r}", field="application")
            state = self._state(data.get("stage"))
            if state["name"] == app["workflowState"]:
                raise Abort(409, f"application {app['eId']} is already in {state['name']!r}", field="stage")
            move = self._move(app, state, source="stage_change", moment=now_ms())
            delivery = self._delivery(app, move)
        if delivery is not None:
            self._send(delivery, store)
        with self.lock:
            return {"move": move, "delivery": None if delivery is None else _summary(delivery)}

    def _redeliver(self, req: Request) -> Response:
        data = req.json()
        if not isinstance(data, dict) or type(data.get("last")) is not int or data["last"] < 1:
            raise Abort(400, 'send {"last": k}', field="last")
        with self.lock:
            store, done = self.store, self.store["deliveries"]
            again = []
            for original in [d for d in done if d["redelivery_of"] is None][-data["last"]:]:
                copy = {**original, "n": len(done) + 1, "status": None, "redelivery_of": original["n"]}
                done.append(copy)
                again.append(copy)
        for delivery in again:
            self._send(delivery, store)
        with self.lock:
            return Response(200, {"deliveries": [_summary(d) for d in again]})

    def _control(self, req: Request) -> Response:
        extra = {("POST", "/_fake/redeliver"): self._redeliver, ("POST", "/_fake/edit_comments"): self._edit_comments}
        handler = extra.get((req.method, req.path.rstrip("/")))
        if handler is None:
            return super()._control(req)
        try:
            if handler == self._redeliver:
                return handler(req)
            with self.lock:
                return handler(req)
        except Abort as e:
            return Response(e.status, {"error": e.message, "field": e.field} if e.field else {"error": e.message})

    # ---- client helpers ------------------------------------------------------------------------------------

    def redeliver(self, last: int = 1) -> list[dict[str, Any]]:
        return self._call("POST", "/_fake/redeliver", {"last": last})["deliveries"]

    def edit_comments(self, application: str, *, comments: str | None = None, append: str | None = None,
                      after: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"application": application, "comments": comments, "append": append}
        if after is not None:
            body["after"] = after
        return self._call("POST", "/_fake/edit_comments", body)


def _summary(delivery: dict[str, Any]) -> dict[str, Any]:
    return {k: delivery[k] for k in ("n", "application", "body", "status", "redelivery_of")}


def _items(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = data.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise Abort(400, f"{key} must be a list of objects", field=key)
    return items


def _text(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise Abort(400, f"each of {where} needs {key} (a non-empty string)", field=where)
    return value


def _int_arg(req: Request, name: str, default: int, low: int, high: int) -> int:
    value = req.arg(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise jv_error(400, f"{name} must be an integer from {low} to {high}")
    return int(value)
