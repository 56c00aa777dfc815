"""The `icims` fake: iCIMS's REST APIs (Profiles, Workflows, Search, List, Data Streaming, and the OAuth token endpoint)
and its pushed Event Notifications, in memory, over plain http on 127.0.0.1, so that an adapter written on `requests`
runs unchanged with only its base URL pointed here (contracts/icims-jobvite.md section 1, "§" below):

    fake = IcimsFake.start(webhook_url="http://127.0.0.1:8000/webhooks/ats/KEY/")
    fake.seed({"api_users": [{"username": "loopwise", "password": "pw"}],
               "push": {"auth": "basic", "username": "icims", "password": "push-pw"},
               "statuses": [{"id": "C2001", "value": "New"}, {"id": "C2010", "value": "Schedule Interview"}],
               "jobs": [{"id": 42, "jobtitle": "Nurse"}],
               "people": [{"id": 881, "firstname": "Ana", "lastname": "Ruiz", "email": "ana@example.com"}],
               "workflows": [{"id": 5501, "job": 42, "person": 881, "status": "C2001"}]})
    requests.get(fake.url + "/customers/1234/applicantworkflows/5501", auth=("loopwise", "pw"))
    fake.stage_change(5501, "C2010")  # moves it and POSTs the gzip'd WorkFlowStatusChangeEvent to webhook_url

Paths (customer id `settings.customer_id`, "1234" by default; another id answers 404 code 2). Auth on every API
call: Basic (a seeded API user with a password), HMAC (a seeded API user with an `hmac_secret`: `Authorization:
x-icims-v1-hmac-sha256 user=..,signedheaders=..,signature=<hex>` over `icims_wire.api_string_to_sign`, with
`x-icims-date` within 5 minutes and `x-icims-content-sha256` the body's hash among the signed headers), or
`Bearer <token>` from `POST /oauth/token` (form `grant_type=client_credentials`,
`client_id`, `client_secret`, `audience`; answers `{"access_token", "token_type": "Bearer", "expires_in"}`; a bad
client is 401 `{"error": "access_denied", "error_description": ...}`). Wrong credentials answer 401
`{"errors": [{"errorMessage": "Invalid Username or Password credentials provided.", "errorCode": 6}]}`.
- List API (component `list`): `GET /customers/{cid}/v2/lists` (`{"lists": [...]}`), `GET .../v2/lists/{listId}`
  with `size` (1-1000, default 100) and `page` (0-based): `{"nodes": [{"id", "value", "formattedvalue"}],
  "_links": {"self": {"href"}, "next"?: {"href"}}}`. The recruiting-workflow statuses are served as the list
  `settings.status_list` ("applicantworkflow.status"), in pipeline order (see departures).
- Profiles API (`profile`): `GET/PATCH /customers/{cid}/people/{id}`, `GET /customers/{cid}/jobs/{id}`, with
  `fields=a,b`. Lower-case keys, empty fields omitted, `links`.
- Workflows API (`workflow`): `GET/PATCH /customers/{cid}/applicantworkflows/{id}` (`baseprofile`,
  `associatedprofile`, `status` as `{id, value, formattedvalue}`, `source`, `updateddate`, custom `fieldNNNN`
  text fields, `links`); PATCH takes `{"status": {"id"}}` and/or custom fields named in `workflow_fields`, answers
  `settings.patch_status` (204) with no body, and updates `updateddate`; a status not in the list is 400 code 4; a
  status whose `requires` fields are empty is 400 code 1 (FIELD_REQUIRED) naming the field in `X-Error`. `POST
  /customers/{cid}/applicantworkflows` (`{"baseprofile", "associatedprofile", "status": {"id"}}`): 201, empty
  body, `Location`.
- Search API (`search`): `POST /customers/{cid}/search/{applicantworkflows|people|jobs}` with `{"filters": [{"name",
  "value": [...], "secondaryValue"?, "operator"}], "operator": "&"}`; filters on `<type>.id` (`=`, `>`, `<`),
  `<type>.updateddate` (`=` as a range with secondaryValue, `>`, `>=`, `<`; `yyyy-mm-dd hh:mm a` UTC, to the
  minute), `applicantworkflow.status` (node ids), `applicantworkflow.job.id`, `applicantworkflow.person.id`.
  Answers `{"searchResults": [{"id", "self"}]}`: ids only, sorted, at most `settings.search_limit` (1000).
- Data Streaming (`datastream`): `GET /datastream/v2/streams/{cid}/subscriptions` (`{"subscriptions": [{"id"}]}`)
  and `.../subscriptions/{id}/events` (`{"events": [...], "lastEvaluatedKey": "..."}`; send it back as
  `exclusiveStartKey`; "" on the last page). Unlicensed (`datastream.licensed` false): 404 code 3.

Every API answer carries `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset` (seconds until 00:00
UTC); each API call counts against `settings.daily_limit` (10000) per UTC day. Over it (or with a
`quota_exhausted` fault) the answer is `fault.status` or 429, `x-ratelimit-remaining: 0`, errors code 0.

Pushes (`events`): `POST /_fake/stage_change` `{"application": id, "stage": node id or name, "duplicates"?: n}`
moves the workflow (a `moves` entry with source "stage_change"), appends a Data Streaming event, and, when the new
status is a trigger (`push.triggers`, default every status) and events are not down, POSTs the
`WorkFlowStatusChangeEvent` (§1.4: string ids, `links`) to `webhook_url`, 1 + n times, with a `Link` header,
`Content-Encoding: gzip` (`settings.push_gzip`, default true) and the push auth: `push.auth` "basic" (username,
password), "hmac" (user, secret: `Authorization: x-icims-v1-hmac-sha256 user=..,signedheaders=x-icims-date;
x-icims-content-sha256;content-type,signature=<hex>`, `x-icims-date: yyyymmddThhmmssZ`, and
`x-icims-content-sha256` = hex sha256 of the body as sent, i.e. gzipped), "oauth" (`token_url`, `client_id`,
`client_secret`, `client_auth` "basic" (default) or "form": before a push, the fake POSTs `grant_type=
client_credentials` to the receiver's token URL, keeps the `access_token` until `expires_in` runs out, and pushes
with `Authorization: Bearer <token>`; no token, no push) or "none". Each attempt is kept in `deliveries` (`{n,
application_id, status, token_status, headers, body_b64}`; `push_token_fetches` counts token calls); `POST
/_fake/redeliver` `{"last": k}` sends the last k again, byte for byte (iCIMS's duplicates; under oauth with the
current token). The receiver has `settings.push_timeout` (30 s) to answer.

Seed (adds; the same id again replaces; ids are assigned when left out and returned in `ids`):

    {"customer_id"?, "api_users": [{"username", "password" (or "hmac_secret"), "hidden_fields"? ([...])}],
     "clients": [{"client_id", "client_secret"}],
     "push": {"auth": "basic"|"hmac"|"oauth"|"none", "username"?, "password"?, "user"?, "secret"?, "token_url"?,
              "client_id"?, "client_secret"?, "client_auth"?, "triggers"?},
     "statuses": [{"id", "value", "requires"? ([field ids])}]   # replaces the whole status list
     "workflow_fields": ["field50001", ...],                    # custom workflow fields PATCH may write
     "jobs": [{"id"?, "jobtitle"}], "people": [{"id"?, "firstname", "lastname", "email"?, "phone"?}],
     "workflows": [{"id"?, "job", "person", "status"? (first status), "updated"? (ISO), "fields"? ({})}],
     "datastream": {"licensed": bool, "subscriptions": [ids]}, "webhook_url"?,
     "settings"? {"daily_limit", "search_limit", "token_lifetime", "push_gzip", "push_timeout", "patch_status",
                  "status_list"}}

`hidden_fields` is the silent permission problem (§1.6): those keys (e.g. "email", "phones", "associatedprofile")
are left out of every answer to that API user, with no error.

Faults (`target`: a path prefix, or a component name): `bad_credentials` (every API call and the token endpoint
answer 401), `quota_exhausted` (see above), `component_down` with `target` one of events, datastream, search,
profile, list, workflow: that component alone fails. `status` chooses how: none or 404 answers 404 code 3 (access
denied looks like not found, §1.11), another 4xx/5xx answers that status, and 200 is the silent form: profile
answers leave out email and phones, workflow answers leave out associatedprofile, the status list comes back
empty, Search finds nothing, Data Streaming lists no subscription; `events` down sends nothing (silence). Generic
faults (`throttle`, `error`, `slow`, `timeout`, `drop`) accept a component name as target too.

Departures from the real service, and why:
- Plain http on one host for api.icims.com, login.icims.com and the Data Streaming host (one base URL to set).
  HTTP/1.1 is enforced by the shared base; HSTS and the 505 answer are not modelled.
- Workflow statuses are a List API list here; iCIMS configures them per customer outside the public lists
  (§1.9, [U]). The list node JSON and the List API's paging (`page`) are guesses (§1.9 [U]).
- The HMAC string to sign is not public (§1.3): a push signs the `name:value` lines of its signed headers; an API
  call signs its method, path and query string before those lines (the adapter's reading, §1.3 [U]). How iCIMS
  authenticates its client at a receiver's token URL is not public either: Basic by default (RFC 6749's
  preference), form fields by switch.
- The Data Streaming event shape is unknown (§1.5): the fake's events repeat the push's fields plus `eventId` and
  `timestamp` (ISO 8601). Data Streaming accepts the same auth as the API (the real one wants OAuth).
- A PATCH through the API sends no push (iCIMS fires Event Notifications on user actions; [U]).
- The over-quota status (429) and PATCH's 204 are guesses (§3 #3); both are switchable.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from integrations.fakes.base import Abort, FakeServer, Fault, Request, Response
from integrations.fakes.icims_wire import (
    HMAC_SCHEME,
    access_denied,
    api_hmac_user,
    bad_credentials,
    basic_credentials,
    error,
    fetch_push_token,
    gzip_body,
    icims_time,
    list_value,
    not_found,
    now,
    parse_icims_time,
    post_raw,
    push_headers,
    rate_headers,
    search_matcher,
)

COMPONENTS = ("events", "datastream", "search", "profile", "list", "workflow")
DEFAULT_SETTINGS = {"customer_id": "1234", "daily_limit": 10_000, "search_limit": 1000, "token_lifetime": 3600,
                    "push_gzip": True, "push_timeout": 30, "patch_status": 204,
                    "status_list": "applicantworkflow.status"}
OTHER_LISTS = {"lists.sources": [{"id": "D10200", "value": "Career Site"}, {"id": "D10201", "value": "Referral"}],
               "lists.notes.rejection": [{"id": "D10300", "value": "Not qualified"}]}
SILENT = {"profile": ("email", "phones"), "workflow": ("associatedprofile",)}
OAUTH_PUSH_KEYS = ("token_url", "client_id", "client_secret")
SEED_KEYS = {"customer_id", "api_users", "clients", "push", "statuses", "workflow_fields", "jobs", "people",
             "workflows", "datastream", "webhook_url", "settings"}
CID = r"/customers/(?P<cid>[^/]+)"


class IcimsFake(FakeServer):
    name = "icims"
    routes = [
        ("POST", r"/oauth/token", "token"),
        ("GET", CID + r"/v2/lists", "lists_index"),
        ("GET", CID + r"/v2/lists/(?P<list>[^/]+)", "list_get"),
        ("GET", CID + r"/people/(?P<id>[^/]+)", "person_get"),
        ("PATCH", CID + r"/people/(?P<id>[^/]+)", "person_patch"),
        ("GET", CID + r"/jobs/(?P<id>[^/]+)", "job_get"),
        ("GET", CID + r"/applicantworkflows/(?P<id>[^/]+)", "workflow_get"),
        ("PATCH", CID + r"/applicantworkflows/(?P<id>[^/]+)", "workflow_patch"),
        ("POST", CID + r"/applicantworkflows", "workflow_create"),
        ("POST", CID + r"/search/(?P<kind>[^/]+)", "search"),
        ("GET", r"/datastream/v2/streams/(?P<cid>[^/]+)/subscriptions", "stream_subscriptions"),
        ("GET", r"/datastream/v2/streams/(?P<cid>[^/]+)/subscriptions/(?P<sub>[^/]+)/events", "stream_events"),
    ]

    def __init__(self, *, webhook_url: str | None = None):
        self._default_webhook_url = webhook_url
        super().__init__(webhook_url=webhook_url)

    def new_state(self) -> dict[str, Any]:
        self.webhook_url = self._default_webhook_url
        return {"api_users": {}, "clients": {}, "tokens": {}, "push": {"auth": "basic", "username": "icims",
                                                                        "password": "push-password", "triggers": None},
                "statuses": [{"id": "D10100", "value": "New Submissions", "requires": []}],
                "workflow_fields": ["field50001"], "jobs": {}, "people": {}, "workflows": {}, "moves": [],
                "field_writes": [], "deliveries": [], "datastream": {"licensed": True, "subscriptions": ["loopwise"],
                                                                     "events": []},
                "settings": dict(DEFAULT_SETTINGS), "quota": {"day": "", "used": 0},
                "next_ids": {"jobs": 1001, "people": 2001, "workflows": 5001}, "push_token": None,
                "push_token_fetches": 0}

    def state_json(self) -> Any:
        state = super().state_json()
        for key in ("jobs", "people", "workflows"):
            state[key] = [state[key][k] for k in sorted(state[key], key=int)]
        return state

    # ---- seed -----------------------------------------------------------------------------------------------

    def on_seed(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise Abort(400, "expected a JSON object", field="body")
        if unknown := sorted(set(data) - SEED_KEYS):
            raise Abort(400, f"unknown seed key {unknown[0]!r}", field=unknown[0])
        s, made, moment = self.store, {}, now()
        for key, value in (data.get("settings") or {}).items():
            if key not in DEFAULT_SETTINGS:
                raise Abort(400, f"unknown setting {key!r}", field="settings")
            s["settings"][key] = value
        if "customer_id" in data:
            s["settings"]["customer_id"] = str(data["customer_id"])
        for item in data.get("api_users", []):
            s["api_users"][_text(item, "username", "api_users")] = {
                "username": item["username"],
                "password": (item.get("password") or "") if item.get("hmac_secret") else _text(item, "password",
                                                                                                 "api_users"),
                "hmac_secret": item.get("hmac_secret") or "", "hidden_fields": list(item.get("hidden_fields", []))}
        for item in data.get("clients", []):
            s["clients"][_text(item, "client_id", "clients")] = {"client_id": item["client_id"],
                                                                 "client_secret": _text(item, "client_secret",
                                                                                        "clients")}
        if "push" in data:
            if not isinstance(data["push"], dict) or data["push"].get("auth", "basic") not in ("basic", "hmac",
                                                                                                 "oauth", "none"):
                raise Abort(400, "push.auth must be basic, hmac, oauth or none", field="push")
            if data["push"].get("auth") == "oauth" and not all(isinstance(data["push"].get(k), str) and
                                                               data["push"][k] for k in OAUTH_PUSH_KEYS):
                raise Abort(400, f"push.auth oauth needs {', '.join(OAUTH_PUSH_KEYS)}", field="push")
            s["push"] = {"auth": "basic", "triggers": None, **data["push"]}
            s["push_token"] = None
        if "statuses" in data:
            s["statuses"] = [{"id": _text(x, "id", "statuses"), "value": _text(x, "value", "statuses"),
                              "requires": list(x.get("requires", []))} for x in data["statuses"]]
        if "workflow_fields" in data:
            s["workflow_fields"] = list(data["workflow_fields"])
        for item in data.get("jobs", []):
            job_id = self._next_id("jobs", item.get("id"))
            s["jobs"][job_id] = {"id": job_id, "jobtitle": _text(item, "jobtitle", "jobs"), "created": moment,
                                 "updated": moment}
            made.setdefault("jobs", []).append(job_id)
        for item in data.get("people", []):
            person_id = self._next_id("people", item.get("id"))
            person = {"id": person_id, "firstname": _text(item, "firstname", "people"),
                      "lastname": _text(item, "lastname", "people"), "email": item.get("email", ""),
                      "phones": [], "created": moment, "updated": moment}
            if item.get("phone"):
                person["phones"] = [{"entry": 1001, "phonetype": {"id": "D83001", "value": "Mobile",
                                                                  "formattedvalue": "Mobile"},
                                     "phonenumber": item["phone"]}]
            s["people"][person_id] = person
            made.setdefault("people", []).append(person_id)
        for item in data.get("workflows", []):
            if item.get("job") not in s["jobs"] or item.get("person") not in s["people"]:
                raise Abort(400, f"workflow {item.get('id')!r}: seed its job and person first (integer ids)",
                            field="workflows")
            status = self._status(item.get("status", s["statuses"][0]["id"]), field="workflows")
            updated = parse_icims_time(item["updated"]) if item.get("updated") else moment
            wf_id = self._next_id("workflows", item.get("id"))
            s["workflows"][wf_id] = {"id": wf_id, "job": item["job"], "person": item["person"], "status": status["id"],
                                     "source": "Other (Please Specify)", "fields": dict(item.get("fields", {})),
                                     "created": updated, "updated": updated}
            made.setdefault("workflows", []).append(wf_id)
        if "datastream" in data:
            s["datastream"].update({k: v for k, v in data["datastream"].items() if k in ("licensed", "subscriptions")})
        if "webhook_url" in data:
            self.webhook_url = data["webhook_url"]
        return {"seeded": True, "ids": made}

    def _next_id(self, kind: str, given: Any) -> int:
        if given is not None:
            if type(given) is not int:
                raise Abort(400, f"{kind} ids are integers", field=kind)
            self.store["next_ids"][kind] = max(self.store["next_ids"][kind], given + 1)
            return given
        self.store["next_ids"][kind] += 1
        return self.store["next_ids"][kind] - 1

    def _status(self, ref: Any, *, field: str = "stage") -> dict[str, Any]:
        for node in self.store["statuses"]:
            if ref in (node["id"], node["value"]):
                return node
        raise Abort(400, f"no status {ref!r} in the status list", field=field)

    # ---- the gate every API call passes --------------------------------------------------------------------

    def fault_subjects(self, req: Request) -> set[str]:
        return {component} if (component := _component(req.path)) else set()

    def check_fault(self, fault: Fault) -> None:
        if fault.kind == "component_down" and fault.target not in COMPONENTS:
            raise Abort(400, f"component_down needs a target, one of {', '.join(COMPONENTS)}", field="target")

    def error_body(self, status: int, reason: str) -> Any:
        code = {404: 2, 401: 6, 400: 4}.get(status, 0)
        return {"errors": [{"errorMessage": reason, "errorCode": code}]}

    def _enter(self, req: Request, component: str) -> dict[str, Any]:
        """Checks customer, credentials, quota and component faults, in that order; returns the API user."""
        if req.params.get("cid") != self.store["settings"]["customer_id"]:
            raise error(404, 2, f"Customer {req.params.get('cid')} not found.")
        user = self._authenticate(req)
        fault = self.fault_active("quota_exhausted", req=req)
        if fault or self._used() >= self.store["settings"]["daily_limit"]:
            raise error((fault.status if fault else None) or 429, 0, "Daily API request limit exceeded.",
                        headers={"x-ratelimit-remaining": "0"})
        req.silent = False
        if fault := self.fault_active("component_down", req=req, subjects={component}):
            if fault.status == 200:
                req.silent = True
            elif fault.status in (None, 404):
                raise access_denied(f"the {component} API")
            else:
                raise error(fault.status, 0, f"The {component} API is unavailable.")
        return user

    def _authenticate(self, req: Request) -> dict[str, Any]:
        if self.fault_active("bad_credentials", req=req):
            raise bad_credentials()
        value = req.headers.get("Authorization") or ""
        if value.lower().startswith("bearer "):
            token = self.store["tokens"].get(value[7:].strip())
            if token and datetime.fromisoformat(token["expires"]) > now():
                return {"username": token["client_id"], "hidden_fields": []}
            raise bad_credentials()
        if value.lower().startswith(HMAC_SCHEME):
            keys = {u["username"]: u["hmac_secret"] for u in self.store["api_users"].values() if u["hmac_secret"]}
            name = api_hmac_user(req.method, req.path, req.raw_query, req.headers, req.body, keys, now())
            if name is None:
                raise bad_credentials()
            return self.store["api_users"][name]
        pair = basic_credentials(value)
        user = self.store["api_users"].get(pair[0]) if pair else None
        if user is None or not user["password"] or not secrets.compare_digest(user["password"], pair[1]):
            raise bad_credentials()
        return user

    def _used(self) -> int:
        quota, today = self.store["quota"], now().date().isoformat()
        if quota["day"] != today:
            quota.update(day=today, used=0)
        return quota["used"]

    def on_response(self, req: Request, resp: Response) -> None:
        if not (req.path.startswith("/customers/") or req.path.startswith("/datastream/")):
            return
        limit = self.store["settings"]["daily_limit"]
        if resp.headers.get("x-ratelimit-remaining") == "0":
            resp.headers.update(rate_headers(limit, 0, now()))
            return
        self._used()
        self.store["quota"]["used"] += 1
        resp.headers.update(rate_headers(limit, limit - self.store["quota"]["used"], now()))

    # ---- token ----------------------------------------------------------------------------------------------

    def token(self, req: Request) -> Response:
        form = req.form()
        if form.get("grant_type") != "client_credentials":
            return Response(400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"})
        client = self.store["clients"].get(form.get("client_id", ""))
        if (self.fault_active("bad_credentials", req=req) or client is None
                or not secrets.compare_digest(client["client_secret"], form.get("client_secret", ""))):
            return Response(401, {"error": "access_denied", "error_description": "Unauthorized"})
        token = secrets.token_urlsafe(24)
        lifetime = self.store["settings"]["token_lifetime"]
        self.store["tokens"][token] = {"client_id": client["client_id"],
                                       "expires": (now() + timedelta(seconds=lifetime)).isoformat()}
        return Response(200, {"access_token": token, "token_type": "Bearer", "expires_in": lifetime,
                              "scope": form.get("audience", "")})

    # ---- List API -------------------------------------------------------------------------------------------

    def lists_index(self, req: Request) -> dict[str, Any]:
        self._enter(req, "list")
        return {"lists": sorted([*OTHER_LISTS, self.store["settings"]["status_list"]])}

    def list_get(self, req: Request) -> dict[str, Any]:
        self._enter(req, "list")
        list_id = req.params["list"]
        if list_id == self.store["settings"]["status_list"]:
            nodes = [] if req.silent else self.store["statuses"]
        elif list_id in OTHER_LISTS:
            nodes = OTHER_LISTS[list_id]
        else:
            raise not_found(f"List {list_id}")
        size, page = _int_arg(req, "size", 100, 1, 1000), _int_arg(req, "page", 0, 0, 10**6)
        chunk = nodes[page * size:(page + 1) * size]
        base = f"{self.url}{req.path}?size={size}"
        links = {"self": {"href": f"{base}&page={page}"}}
        if (page + 1) * size < len(nodes):
            links["next"] = {"href": f"{base}&page={page + 1}"}
        return {"nodes": [list_value(n) for n in chunk], "_links": links}

    # ---- Profiles API ---------------------------------------------------------------------------------------

    def person_get(self, req: Request) -> dict[str, Any]:
        user = self._enter(req, "profile")
        person = self._get("people", req.params["id"], "Person")
        data = {"firstname": person["firstname"], "lastname": person["lastname"], "email": person["email"],
                "phones": person["phones"], "updateddate": icims_time(person["updated"])}
        return self._shape(req, user, data, "profile", f"people/{person['id']}")

    def person_patch(self, req: Request) -> Response:
        self._enter(req, "profile")
        person = self._get("people", req.params["id"], "Person")
        body = req.json()
        if not isinstance(body, dict):
            raise error(400, 4, "The request body must be a JSON object.")
        for key in ("firstname", "lastname", "email"):
            if key in body:
                person[key] = body[key] or ""
        person["updated"] = now()
        return Response(self.store["settings"]["patch_status"])

    def job_get(self, req: Request) -> dict[str, Any]:
        user = self._enter(req, "profile")
        job = self._get("jobs", req.params["id"], "Job")
        data = {"jobtitle": job["jobtitle"], "updateddate": icims_time(job["updated"])}
        return self._shape(req, user, data, "profile", f"jobs/{job['id']}")

    # ---- Workflows API --------------------------------------------------------------------------------------

    def workflow_get(self, req: Request) -> dict[str, Any]:
        user = self._enter(req, "workflow")
        wf = self._get("workflows", req.params["id"], "Recruiting workflow")
        job, person = self.store["jobs"].get(wf["job"], {}), self.store["people"].get(wf["person"], {})
        status = next((n for n in self.store["statuses"] if n["id"] == wf["status"]),
                      {"id": wf["status"], "value": wf["status"]})
        base = f"{self.api_base()}"
        data = {"baseprofile": {"profile": f"{base}/jobs/{wf['job']}", "id": wf["job"],
                                "value": job.get("jobtitle", "")},
                "associatedprofile": {"profile": f"{base}/people/{wf['person']}", "id": wf["person"],
                                      "value": f"{person.get('firstname', '')} {person.get('lastname', '')}".strip()},
                "status": list_value(status), "source": wf["source"], "updateddate": icims_time(wf["updated"]),
                **{k: v for k, v in wf["fields"].items()}}
        return self._shape(req, user, data, "workflow", f"applicantworkflows/{wf['id']}")

    def workflow_patch(self, req: Request) -> Response:
        self._enter(req, "workflow")
        wf = self._get("workflows", req.params["id"], "Recruiting workflow")
        body = req.json()
        if not isinstance(body, dict) or not body:
            raise error(400, 4, "The request body must be a non-empty JSON object.")
        fields, target = {}, None
        for key, value in body.items():
            if key == "status":
                ref = value.get("id") if isinstance(value, dict) else None
                target = next((n for n in self.store["statuses"] if n["id"] == ref), None)
                if target is None:
                    raise error(400, 4, f"Invalid value {ref!r} for field status.", field="status")
            elif key in self.store["workflow_fields"]:
                if value is not None and not isinstance(value, str):
                    raise error(400, 4, f"Field {key} takes text.", field=key)
                fields[key] = value or ""
            else:
                raise error(400, 4, f"Invalid field {key!r} for this profile.", field=key)
        after = {**wf["fields"], **fields}
        if target is not None:
            for needed in target["requires"]:
                if not after.get(needed):
                    raise error(400, 1, f"Field {needed} is required for status {target['value']}.", field=needed)
        moment = now()
        for key, value in fields.items():
            self.store["field_writes"].append({"n": len(self.store["field_writes"]) + 1, "workflow_id": wf["id"],
                                               "field": key, "old": wf["fields"].get(key, ""), "new": value,
                                               "at": moment.isoformat()})
        wf["fields"] = {k: v for k, v in after.items() if v}
        if target is not None and target["id"] != wf["status"]:
            self._move(wf, target, source="api", moment=moment)
        wf["updated"] = moment
        return Response(self.store["settings"]["patch_status"])

    def workflow_create(self, req: Request) -> Response:
        self._enter(req, "workflow")
        body = req.json()
        if not isinstance(body, dict):
            raise error(400, 4, "The request body must be a JSON object.")
        job, person = body.get("baseprofile"), body.get("associatedprofile")
        if job not in self.store["jobs"] or person not in self.store["people"]:
            raise error(400, 1, "baseprofile and associatedprofile must name a job and a person.")
        status = body.get("status", {}).get("id") if isinstance(body.get("status"), dict) else None
        node = next((n for n in self.store["statuses"] if n["id"] == status), None)
        if node is None:
            raise error(400, 4, f"Invalid value {status!r} for field status.", field="status")
        wf_id, moment = self._next_id("workflows", None), now()
        self.store["workflows"][wf_id] = {"id": wf_id, "job": job, "person": person, "status": node["id"],
                                          "source": "Other (Please Specify)", "fields": {}, "created": moment,
                                          "updated": moment}
        return Response(201, b"", {"Location": f"{self.api_base()}/applicantworkflows/{wf_id}"})

    # ---- Search API -----------------------------------------------------------------------------------------

    def search(self, req: Request) -> dict[str, Any]:
        self._enter(req, "search")
        kind = req.params["kind"]
        source = {"applicantworkflows": "workflows", "people": "people", "jobs": "jobs"}.get(kind)
        if source is None:
            raise not_found(f"Search type {kind}")
        match = search_matcher(kind, req.json())
        if req.silent:
            return {"searchResults": []}
        found = sorted(r["id"] for r in self.store[source].values() if match(r))
        found = found[:self.store["settings"]["search_limit"]]
        return {"searchResults": [{"id": i, "self": f"{self.api_base()}/{kind}/{i}"} for i in found]}

    # ---- Data Streaming -------------------------------------------------------------------------------------

    def stream_subscriptions(self, req: Request) -> dict[str, Any]:
        self._stream_gate(req)
        subs = [] if req.silent else self.store["datastream"]["subscriptions"]
        return {"subscriptions": [{"id": s} for s in subs]}

    def stream_events(self, req: Request) -> dict[str, Any]:
        self._stream_gate(req)
        if req.silent or req.params["sub"] not in self.store["datastream"]["subscriptions"]:
            raise not_found(f"Subscription {req.params['sub']}")
        events = self.store["datastream"]["events"]
        start = req.arg("exclusiveStartKey") or ""
        after = int(start) if start.isdigit() else 0
        size = _int_arg(req, "limit", 100, 1, 1000)
        chunk = [e for e in events if e["eventId"] > after][:size]
        more = chunk and chunk[-1]["eventId"] < events[-1]["eventId"]
        return {"events": chunk, "lastEvaluatedKey": str(chunk[-1]["eventId"]) if more else ""}

    def _stream_gate(self, req: Request) -> None:
        self._enter(req, "datastream")
        if not self.store["datastream"]["licensed"]:
            raise access_denied("the Data Streaming API (no Streaming API licence)")

    # ---- moves and pushes -----------------------------------------------------------------------------------

    def _move(self, wf: dict[str, Any], target: dict[str, Any], *, source: str, moment: datetime) -> dict:
        old = wf["status"]
        wf["status"], wf["updated"] = target["id"], moment
        move = {"n": len(self.store["moves"]) + 1, "workflow_id": wf["id"], "from_status": old,
                "to_status": target["id"], "source": source, "at": moment.isoformat()}
        self.store["moves"].append(move)
        events = self.store["datastream"]["events"]
        events.append({"eventId": len(events) + 1, **self._event(wf, old), "timestamp": moment.isoformat()})
        return move

    def _event(self, wf: dict[str, Any], old: str) -> dict[str, Any]:
        cid, base = self.store["settings"]["customer_id"], self.api_base()
        return {"eventType": "WorkFlowStatusChangeEvent", "customerId": cid, "systemId": str(wf["id"]),
                "personId": str(wf["person"]), "jobId": str(wf["job"]), "userId": "17", "oldStatus": old,
                "newStatus": wf["status"],
                "links": [{"rel": "applicantWorkflow", "title": "Applicant Workflow",
                           "url": f"{base}/applicantworkflows/{wf['id']}"},
                          {"rel": "person", "title": "Person Profile", "url": f"{base}/people/{wf['person']}"},
                          {"rel": "job", "title": "Job Profile", "url": f"{base}/jobs/{wf['job']}"}]}

    def on_stage_change(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise Abort(400, "expected a JSON object", field="body")
        duplicates = data.get("duplicates", 0)
        if type(duplicates) is not int or not 0 <= duplicates <= 10:
            raise Abort(400, "duplicates must be an integer from 0 to 10", field="duplicates")
        with self.lock:
            ref = data.get("application")
            wf = self.store["workflows"].get(int(ref)) if str(ref).isdigit() else None
            if wf is None:
                raise Abort(404, f"no workflow {ref!r}", field="application")
            target = self._status(data.get("stage"))
            if target["id"] == wf["status"]:
                raise Abort(409, f"workflow {wf['id']} is already in {target['value']!r}", field="stage")
            moment = now()
            move = self._move(wf, target, source="stage_change", moment=moment)
            triggers = self.store["push"].get("triggers")
            silent = self.fault_active("component_down", subjects={"events"}) is not None
            delivery = None
            if self.webhook_url and not silent and (triggers is None or target["id"] in triggers):
                delivery = self._delivery(wf, move["from_status"], moment)
            timeout = self.store["settings"]["push_timeout"]
        sent = [self._send(delivery, timeout) for _ in range(1 + duplicates)] if delivery else []
        return {"move": move, "deliveries": sent, "silenced": silent}

    def _delivery(self, wf: dict[str, Any], old: str, moment: datetime) -> dict[str, Any]:
        event = self._event(wf, old)
        raw = json.dumps(event, separators=(",", ":")).encode()
        gzipped = bool(self.store["settings"]["push_gzip"])
        body = gzip_body(raw) if gzipped else raw
        headers = push_headers(body, auth=self.store["push"], links=event["links"], gzipped=gzipped, moment=moment)
        return {"application_id": wf["id"], "url": self.webhook_url, "headers": headers,
                "body_b64": base64.b64encode(body).decode()}

    def _send(self, delivery: dict[str, Any], timeout: float) -> dict[str, Any]:
        headers, token_status = dict(delivery["headers"]), None
        with self.lock:
            push = dict(self.store["push"])
        if push.get("auth") == "oauth":
            token, token_status = self._push_token(push, timeout)
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
        status = None
        if push.get("auth") != "oauth" or "Authorization" in headers:  # no token: iCIMS cannot push
            status = post_raw(delivery["url"], base64.b64decode(delivery["body_b64"]), headers, timeout=timeout)
        with self.lock:
            record = {**delivery, "n": len(self.store["deliveries"]) + 1, "status": status}
            if push.get("auth") == "oauth":
                record["token_status"] = token_status
            self.store["deliveries"].append(record)
        return {k: record[k] for k in ("n", "status", "token_status") if k in record}

    def _push_token(self, push: dict[str, Any], timeout: float) -> tuple[str | None, int | None]:
        """The receiver's bearer token, fetched from its token URL when there is none or it is about to expire
        (iCIMS honours `expires_in`); (token or None, the token call's status or None when the cache served)."""
        with self.lock:
            cached = self.store.get("push_token")
        if cached and datetime.fromisoformat(cached["expires"]) > now() + timedelta(seconds=10):
            return cached["token"], None
        status, answer = fetch_push_token(push["token_url"], push["client_id"], push["client_secret"],
                                          client_auth=push.get("client_auth", "basic"), timeout=timeout)
        token, lifetime = answer.get("access_token"), answer.get("expires_in")
        if status != 200 or not isinstance(token, str) or answer.get("token_type", "").lower() != "bearer":
            return None, status
        seconds = lifetime if isinstance(lifetime, int) and lifetime > 0 else 0
        with self.lock:
            self.store["push_token"] = {"token": token, "expires": (now() + timedelta(seconds=seconds)).isoformat()}
            self.store["push_token_fetches"] += 1
        return token, status

    def _control(self, req: Request) -> Response:
        if (req.method, req.path.rstrip("/")) != ("POST", "/_fake/redeliver"):
            return super()._control(req)
        data = req.json()
        if not isinstance(data, dict) or type(data.get("last")) is not int or data["last"] < 1:
            return Response(400, {"error": 'send {"last": k}', "field": "last"})
        with self.lock:
            chosen = [dict(d) for d in self.store["deliveries"][-data["last"]:]]
            timeout = self.store["settings"]["push_timeout"]
        return Response(200, {"deliveries": [self._send(d, timeout) for d in chosen]})

    # ---- helpers --------------------------------------------------------------------------------------------

    def api_base(self) -> str:
        return f"{self.url}/customers/{self.store['settings']['customer_id']}"

    def _get(self, kind: str, ref: str, what: str) -> dict[str, Any]:
        record = self.store[kind].get(int(ref)) if ref.isdigit() else None
        if record is None:
            raise not_found(f"{what} {ref}")
        return record

    def _shape(self, req: Request, user: dict[str, Any], data: dict[str, Any], component: str,
               self_path: str) -> dict[str, Any]:
        """Leaves out empty fields, fields hidden from the API user, silent-fault fields, and those not asked for."""
        hidden = set(user.get("hidden_fields", [])) | (set(SILENT.get(component, ())) if req.silent else set())
        asked = {f.strip() for f in (req.arg("fields") or "").split(",") if f.strip()}
        out = {k: v for k, v in data.items() if v not in ("", [], None) and k not in hidden
               and (not asked or k in asked)}
        out["links"] = [{"rel": "self", "title": "The current profile being viewed.",
                         "url": f"{self.api_base()}/{self_path}"}]
        return out

    def redeliver(self, last: int = 1) -> list[dict[str, Any]]:
        return self._call("POST", "/_fake/redeliver", {"last": last})["deliveries"]

    def stage_change(self, application: Any, stage: str, duplicates: int = 0) -> Any:
        return self._call("POST", "/_fake/stage_change", {"application": application, "stage": stage,
                                                          "duplicates": duplicates})


def _component(path: str) -> str | None:
    if path.startswith("/datastream/"):
        return "datastream"
    parts = path.split("/")
    if len(parts) < 4 or parts[1] != "customers":
        return None
    if parts[3] == "v2" and len(parts) > 4 and parts[4] == "lists":
        return "list"
    return {"people": "profile", "jobs": "profile", "applicantworkflows": "workflow", "search": "search"}.get(parts[3])


def _text(item: Any, key: str, where: str) -> str:
    if not isinstance(item, dict) or not isinstance(item.get(key), str) or not item[key]:
        raise Abort(400, f"{where}: {key} must be a non-empty string", field=where)
    return item[key]


def _int_arg(req: Request, name: str, default: int, low: int, high: int) -> int:
    value = req.arg(name)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise error(400, 4, f"{name} must be an integer from {low} to {high}.")
    return int(value)
