"""Wire formats for the `greenhouse` fake (integrations/fakes/greenhouse.py): Harvest v3 error bodies, times, list
queries with cursor pagination, the v3 object shapes, webhook bodies and their signature, and the webhook POST.
Pure functions, no state."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import http.client
import json
import secrets
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from integrations.fakes.base import Abort, Request

SCOPES = ("harvest:jobs:list", "harvest:job_interview_stages:list", "harvest:applications:list",
          "harvest:application_stages:list", "harvest:candidates:list", "harvest:notes:list", "harvest:notes:create",
          "harvest:applications:move", "harvest:users:list", "harvest:job_interviews:list")
DEFAULT_STAGES = ("Application Review", "Preliminary Phone Screen", "Onsite Interview", "Offer")
PER_PAGE_DEFAULT, PER_PAGE_MAX, IDS_MAX = 100, 500, 50
DATE_OPS = ("gte", "lte", "gt", "lt")
NOTE_TYPES_SHOWN = ("note", "activity", "interview", "email", "follow_up", "take_home_test", "linkedin_note",
                    "linkedin_inmail", "availability_request", "migration_error", "touchpoint", "form", "feedback")
VISIBILITIES = ("admin_only", "private", "public", "admin_only_visible", "privately_visible", "publicly_visible")
APP_STATUS_SHOWN = {"active": "in_process", "rejected": "rejected", "hired": "hired", "converted": "converted"}
WEB = "https://app.greenhouse.io"


# ---- errors ----------------------------------------------------------------------------------------------------


def gh_error(status: int, message: str, errors: Any = None, *, headers: dict[str, str] | None = None) -> Abort:
    """An Abort with Harvest v3's error body: `{"message": ..., "errors": [...]}` (errors left out when None)."""
    body: dict[str, Any] = {"message": message}
    if errors is not None:
        body["errors"] = errors
    return Abort(status, message, body=body, headers=headers)


def unprocessable(*errors: str | dict[str, str]) -> Abort:
    return gh_error(422, "Unprocessable Content", list(errors))


def unauthorized(detail: str) -> Abort:
    return gh_error(401, "Unauthorized", [f"Token could not be decoded. {detail}"])


def forbidden(detail: str) -> Abort:
    return gh_error(403, "Forbidden", [detail])


def not_found(what: str | None = None) -> Abort:
    """404; `what` ("Application") when the route exists but the record does not."""
    return gh_error(404, "Resource not found", f"{what} not found" if what else None)


def token_error(status: int, message: str) -> Abort:
    """The token endpoint's own error shape (the OAuth `invalid_client` one is built where it is used)."""
    return Abort(status, message, body={"message": message, "errorId": f"err-{secrets.token_hex(8)}"})


STATUS_MESSAGES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Resource not found",
                   422: "Unprocessable Content", 429: "Too Many Requests", 500: "Internal Server Error",
                   502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


# ---- times -----------------------------------------------------------------------------------------------------


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    """Harvest's timestamp: UTC, whole seconds, `Z` (so that updates can share a timestamp, as they do)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: Any) -> datetime:
    """An ISO 8601 time with `Z` or an offset, in UTC; ValueError otherwise."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None
    if moment is None or moment.tzinfo is None:
        raise ValueError(f"not an ISO 8601 time with an offset: {value!r}")
    return moment.astimezone(UTC)


# ---- list queries ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One query parameter of a list endpoint. kind: ids (comma-separated integers, at most 50), date
    (`op|timestamp`), bool, enum (one of `choices`, compared through `shown` when given), text (exact),
    member (in a list field), email (exact, case-insensitive, against email_addresses), flag (checked, and
    left to the endpoint)."""

    kind: str
    field: str = ""
    choices: tuple[str, ...] = ()
    shown: tuple[tuple[str, str], ...] = ()


COMMON = {"ids": Param("ids", "id"), "created_at": Param("date", "created_at"),
          "updated_at": Param("date", "updated_at")}


@dataclass
class ListQuery:
    filters: list[Callable[[dict[str, Any]], bool]]
    fields: list[str] | None
    per_page: int
    after: int
    query: dict[str, list[str]]  # the first request's query, without per_page and cursor: what the cursor keeps


def list_query(req: Request, params: dict[str, Param]) -> ListQuery:
    """Parses a list request, the first page's or a `cursor` one's; 422 the way Harvest v3 answers."""
    query = {k: list(v) for k, v in req.query.items()}
    if "cursor" in query:
        if len(query) > 1:
            raise unprocessable("When passing a cursor, do not include other query params.")
        saved = _decode_cursor(query["cursor"][0])
        query, after, per_page = saved["q"], saved["after"], saved["per_page"]
    else:
        after, per_page = 0, _per_page(query.pop("per_page", None))
    return ListQuery(_filters(query, params), _fields(query.get("fields")), per_page, after, query)


def page(items: list[dict[str, Any]], q: ListQuery, next_url: Callable[[str], str]) -> tuple[list, dict[str, str]]:
    """The page after `q.after` (items in id order) and its headers: `Link: <...?cursor=...>; rel="next"` when
    more items match."""
    matching = [item for item in items if item["id"] > q.after and all(f(item) for f in q.filters)]
    shown, headers = matching[:q.per_page], {}
    if len(matching) > q.per_page:
        cursor = _encode_cursor({"q": q.query, "after": shown[-1]["id"], "per_page": q.per_page})
        headers["Link"] = f'<{next_url(cursor)}>; rel="next"'
    if q.fields is not None:
        shown = [{k: item.get(k) for k in q.fields} for item in shown]
    return shown, headers


def _per_page(values: list[str] | None) -> int:
    if not values:
        return PER_PAGE_DEFAULT
    try:
        per_page = int(values[0])
    except ValueError:
        raise unprocessable({"per_page": "must be an integer"}) from None
    if not 1 <= per_page <= PER_PAGE_MAX:
        raise unprocessable({"per_page": f"must be between 1 and {PER_PAGE_MAX}"})
    return per_page


def _fields(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    fields = [f for v in values for f in v.split(",") if f]
    if len(fields) > IDS_MAX:
        raise unprocessable({"fields": f"must have at most {IDS_MAX} entries"})
    return fields


def _filters(query: dict[str, list[str]], params: dict[str, Param]) -> list[Callable[[dict[str, Any]], bool]]:
    params = {**COMMON, **params}
    filters = []
    for raw_name, values in query.items():
        name, op = raw_name, None
        if raw_name.endswith("]") and "[" in raw_name:  # updated_at[gte]=ts, the other reported spelling
            name, _, op = raw_name[:-1].partition("[")
        param = params.get(name)
        if name == "fields":
            continue
        if param is None or (op is not None and param.kind != "date"):
            raise unprocessable({raw_name: "is not a permitted query parameter"})
        for value in values:
            filters.append(_filter(name, param, f"{op}|{value}" if op else value))
    return filters


def _filter(name: str, param: Param, value: str) -> Callable[[dict[str, Any]], bool]:
    field = param.field
    if param.kind == "ids":
        wanted = int_list(name, value)
        return lambda item: item.get(field) in wanted
    if param.kind == "date":
        op, _, stamp = value.partition("|")
        try:
            moment = parse_iso(stamp)
        except ValueError:
            moment = None
        if op not in DATE_OPS or moment is None:
            raise unprocessable({name: "must be written as gte|, lte|, gt| or lt| then an ISO 8601 timestamp"})
        compare = {"gte": lambda a: a >= moment, "lte": lambda a: a <= moment, "gt": lambda a: a > moment,
                   "lt": lambda a: a < moment}[op]
        return lambda item: item.get(field) is not None and compare(parse_iso(item[field]))
    if param.kind in ("bool", "flag"):
        if value not in ("true", "false"):
            raise unprocessable({name: "must be true or false"})
        return (lambda item: True) if param.kind == "flag" else (lambda item: item.get(field) is (value == "true"))
    if param.kind == "enum":
        if value not in param.choices:
            raise unprocessable({name: f"must be one of: {', '.join(param.choices)}"})
        target = dict(param.shown).get(value, value)
        return lambda item: item.get(field) == target
    if param.kind == "member":
        return lambda item: value in (item.get(field) or [])
    if param.kind == "email":
        wanted_email = value.lower()
        return lambda item: any(e["value"].lower() == wanted_email for e in item.get("email_addresses") or [])
    return lambda item: item.get(field) == value


def int_list(name: str, value: str) -> set[int]:
    try:
        ids = {int(part) for part in value.split(",") if part.strip()}
    except ValueError:
        raise unprocessable({name: "must be a comma-separated list of integers"}) from None
    if len(ids) > IDS_MAX:
        raise unprocessable({name: f"must have at most {IDS_MAX} entries"})
    return ids


def _encode_cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


def _decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(data["q"], dict) and isinstance(data["after"], int) and isinstance(data["per_page"], int):
            return data
    except (ValueError, binascii.Error, KeyError, TypeError):
        pass
    raise unprocessable({"cursor": "is invalid"})


# ---- v3 objects ------------------------------------------------------------------------------------------------


def user_json(user: dict[str, Any]) -> dict[str, Any]:
    return {k: user[k] for k in ("id", "first_name", "last_name", "name", "primary_email", "emails", "job_title",
                                 "deactivated", "site_admin", "employee_id", "agency_id", "linked_candidate_ids",
                                 "office_ids", "department_ids", "interviewer_tags", "created_at", "updated_at")}


def application_json(app: dict[str, Any], stage: dict[str, Any] | None) -> dict[str, Any]:
    shown = {k: app[k] for k in ("id", "candidate_id", "job_id", "job_post_id", "created_at", "updated_at",
                                 "last_activity_at", "rejected_at", "recruiter_id", "coordinator_id", "source_id",
                                 "referrer_id", "prospect", "custom_fields")}
    shown.update(stage_id=stage["id"] if stage else None, stage_name=stage["name"] if stage else None,
                 status=APP_STATUS_SHOWN[app["status"]], needs_decision=False, prospective_job_ids=[],
                 location_address=None, answers=[], agency_note_id=None)
    return shown


def note_json(note: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in note.items() if k != "orphan"}


def application_stage_json(row: dict[str, Any], moment: datetime) -> dict[str, Any]:
    end = parse_iso(row["exited_at"]) if row["exited_at"] else moment
    return {**row, "days_in_stage": (end - parse_iso(row["entered_at"])).days}


# ---- webhooks --------------------------------------------------------------------------------------------------


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The bytes Greenhouse sends: compact JSON with non-ASCII, `<`, `>` and `&` escaped as \\uXXXX (Rails'
    JSON encoding), which is what the signature covers."""
    text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode("ascii")


def signature(secret: str, body: bytes) -> str:
    """The `Signature` header: `sha256 <lower-case hex HMAC-SHA256 of the raw body>`."""
    return "sha256 " + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def user_ref(user: dict[str, Any] | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user["id"], "email": user["primary_email"], "name": user["name"], "employee_id": user["employee_id"]}


def stage_change_payload(app: dict[str, Any], candidate: dict[str, Any] | None, job: dict[str, Any],
                         stage: dict[str, Any], users: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The `candidate_stage_change` body of Greenhouse's webhook documentation (v1 shapes: `current_stage`,
    `jobs[]`, `applied_at`, status `active`)."""
    cand = candidate or {"id": app["candidate_id"], "first_name": None, "last_name": None, "company": None,
                         "title": None, "created_at": app["created_at"], "external_id": None, "private": False,
                         "can_email": True, "phone_numbers": [], "email_addresses": [], "addresses": [],
                         "website_addresses": [], "social_media_addresses": [], "tags": [], "custom_fields": {},
                         "recruiter_id": None, "coordinator_id": None}
    interviews = [{"id": i["id"], "name": i["name"], "status": "to_be_scheduled",
                   "interview_kit": {"url": f"{WEB}/guides/{i['id']}/people/{cand['id']}", "content": "",
                                     "questions": []},
                   "interviewers": []} for i in stage.get("interviews", [])]
    return {"action": "candidate_stage_change", "payload": {"application": {
        "id": app["id"], "rejected_at": app["rejected_at"], "prospect": app["prospect"], "status": app["status"],
        "applied_at": app["created_at"], "last_activity_at": app["last_activity_at"],
        "url": f"{WEB}/people/{cand['id']}?application_id={app['id']}",
        "source": None, "credited_to": user_ref(users.get(app["referrer_id"])), "rejection_reason": None,
        "rejection_details": None,
        "current_stage": {"id": stage["id"], "name": stage["name"], "interviews": interviews},
        "custom_fields": app["custom_fields"],
        "candidate": {
            "id": cand["id"], "first_name": cand["first_name"], "last_name": cand["last_name"],
            "title": cand["title"], "company": cand["company"], "created_at": cand["created_at"],
            "external_id": cand["external_id"], "photo_url": None, "url": f"{WEB}/people/{cand['id']}",
            "is_private": cand["private"], "can_email": cand["can_email"], "phone_numbers": cand["phone_numbers"],
            "email_addresses": cand["email_addresses"], "addresses": cand["addresses"],
            "website_addresses": cand["website_addresses"], "social_media_addresses": cand["social_media_addresses"],
            "educations": [], "employments": [], "recruiter": user_ref(users.get(cand["recruiter_id"])),
            "coordinator": user_ref(users.get(cand["coordinator_id"])), "attachments": [], "tags": cand["tags"],
            "custom_fields": cand["custom_fields"]},
        "jobs": [{"id": job["id"], "name": job["name"], "requisition_id": job["requisition_id"],
                  "notes": job["notes"], "confidential": job["confidential"], "job_post_id": None,
                  "status": job["status"], "created_at": job["created_at"], "opened_at": job["opened_at"],
                  "closed_at": job["closed_at"], "departments": [], "offices": [], "custom_fields": {}}]}}}


def ping_payload(hook: dict[str, Any], moment: datetime) -> dict[str, Any]:
    """What Greenhouse POSTs when a web hook is saved: some of its settings under `payload`."""
    return {"action": "ping", "payload": {
        "web_hook_id": hook["id"], "name": hook["name"], "endpoint_url": hook["url"], "event": hook["event"],
        "active": True, "content-type": "application/json", "created_at": hook["created_at"],
        "updated_at": iso(moment)}}


def post_raw(url: str, body: bytes, headers: dict[str, str], *, timeout: float = 10) -> int | None:
    """POSTs exactly `body` with the header names exactly as given (urllib would recase `Greenhouse-Event-ID`);
    no proxies, and a self-signed https receiver is accepted. The receiver's status, or None without an answer."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        conn.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body=body,
                     headers={**headers, "Content-Length": str(len(body))})
        answer = conn.getresponse()
        answer.read()
        return answer.status
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        conn.close()


# ---- tokens ----------------------------------------------------------------------------------------------------


def jwt_like(claims: dict[str, Any], key: bytes) -> str:
    """A JWT-shaped access token (HS256 over the fake's own key). The fake looks tokens up; it never decodes them."""
    def part(data: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=")
    signing_input = part({"alg": "HS256", "typ": "JWT"}) + b"." + part(claims)
    mac = base64.urlsafe_b64encode(hmac.new(key, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    return (signing_input + b"." + mac).decode()


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        client_id, sep, secret = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return (client_id, secret) if sep else None


# ---- the list endpoints ----------------------------------------------------------------------------------------

STATUS = ("active", "rejected", "hired", "converted")
LISTS: dict[str, tuple[str, dict[str, Param]]] = {  # resource: (scope, its own query parameters)
    "jobs": ("harvest:jobs:list", {"status": Param("enum", "status", ("open", "closed", "draft")),
                                   "requisition_id": Param("text", "requisition_id"),
                                   "opened_at": Param("date", "opened_at"), "closed_at": Param("date", "closed_at")}),
    "stages": ("harvest:job_interview_stages:list", {"job_ids": Param("ids", "job_id"),
                                                     "active": Param("bool", "active")}),
    "candidates": ("harvest:candidates:list", {"email": Param("email"), "last_activity_at": Param(
        "date", "last_activity_at"), "tag": Param("member", "tags"), "private": Param("flag")}),
    "applications": ("harvest:applications:list", {
        "candidate_ids": Param("ids", "candidate_id"), "job_ids": Param("ids", "job_id"),
        "stage_ids": Param("ids", "stage_id"), "stage_name": Param("text", "stage_name"),
        "status": Param("enum", "status", STATUS, tuple(APP_STATUS_SHOWN.items())),
        "prospect": Param("bool", "prospect"), "last_activity_at": Param("date", "last_activity_at")}),
    "application_stages": ("harvest:application_stages:list", {
        "application_ids": Param("ids", "application_id"), "current": Param("bool", "current"),
        "job_interview_stage_ids": Param("ids", "job_interview_stage_id")}),
    "notes": ("harvest:notes:list", {
        "candidate_ids": Param("ids", "candidate_id"), "application_ids": Param("ids", "application_id"),
        "user_ids": Param("ids", "user_id"), "type": Param("text", "type"), "visibility": Param("text", "visibility")}),
    "users": ("harvest:users:list", {"primary_email": Param("text", "primary_email"),
                                     "deactivated": Param("bool", "deactivated"),
                                     "show_service_accounts": Param("flag")}),
}
SINGLE = {"jobs": "Job", "stages": "Job interview stage", "candidates": "Candidate", "applications": "Application",
          "users": "User"}


# ---- seed records ----------------------------------------------------------------------------------------------


def seed_items(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = data.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise Abort(400, f"{key} must be a list of objects", field=key)
    return items


def seed_text(item: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = item.get(key, default)
    if not isinstance(value, str) or not value:
        raise Abort(400, f"each of {where} needs {key} (a non-empty string)", field=where)
    return value


def seed_time(item: dict[str, Any], key: str, where: str, default: str) -> str:
    try:
        return iso(parse_iso(item[key])) if key in item else default
    except ValueError:
        raise Abort(400, f"{where}: {key} must be an ISO 8601 time with an offset", field=where) from None


def user_record(item: dict[str, Any], user_id: int, moment: str, *, service: bool = False) -> dict[str, Any]:
    first = item.get("first_name") or ("Integration" if service else "User")
    last = item.get("last_name") or ("Service User" if service else str(user_id))
    email = item.get("primary_email") or item.get("email") or f"user{user_id}@example.com"
    return {"id": user_id, "first_name": first, "last_name": last, "name": f"{first} {last}",
            "primary_email": email, "emails": [email], "job_title": item.get("job_title"),
            "deactivated": bool(item.get("deactivated", False)), "site_admin": bool(item.get("site_admin", True)),
            "employee_id": item.get("employee_id"), "agency_id": None, "linked_candidate_ids": [], "office_ids": [],
            "department_ids": [], "interviewer_tags": [], "created_at": moment, "updated_at": moment,
            "service_account": service}


def job_record(item: dict[str, Any], job_id: int, moment: str) -> dict[str, Any]:
    status = item.get("status", "open")
    if status not in ("open", "closed", "draft"):
        raise Abort(400, f"job {job_id}: status must be open, closed or draft", field="jobs")
    return {"id": job_id, "name": seed_text(item, "name", "jobs"), "requisition_id": item.get("requisition_id"),
            "notes": item.get("notes"), "confidential": False, "status": status,
            "opened_at": None if status == "draft" else moment, "closed_at": moment if status == "closed" else None,
            "is_template": False, "copied_from_id": None, "department_id": None, "office_ids": [],
            "custom_fields": item.get("custom_fields") or {}, "created_at": moment, "updated_at": moment}


def stage_list(item: dict[str, Any]) -> list[dict[str, Any]]:
    stages = item.get("stages")
    if stages is None:
        return [{"name": name} for name in DEFAULT_STAGES]
    if not isinstance(stages, list) or not stages or not all(isinstance(s, dict) for s in stages):
        raise Abort(400, f"job {item.get('name')!r}: stages must be a non-empty list of objects", field="jobs")
    return stages


def contacts(values: Any, default_type: str, where: str) -> list[dict[str, str]]:
    """`["a@x.io", {"value": "b@x.io", "type": "work"}]` as Greenhouse's `[{"value", "type"}]`."""
    if not isinstance(values, list):
        raise Abort(400, f"{where} must be a list", field="candidates")
    out = []
    for value in values:
        if isinstance(value, str):
            out.append({"value": value, "type": default_type})
        elif isinstance(value, dict) and isinstance(value.get("value"), str):
            out.append({"value": value["value"], "type": value.get("type") or default_type})
        else:
            raise Abort(400, f"{where}: each entry is a string or {{\"value\", \"type\"}}", field="candidates")
    return out


def candidate_record(item: dict[str, Any], candidate_id: int, moment: str) -> dict[str, Any]:
    return {"id": candidate_id, "first_name": seed_text(item, "first_name", "candidates"),
            "last_name": seed_text(item, "last_name", "candidates"), "preferred_name": item.get("preferred_name"),
            "company": item.get("company"), "title": item.get("title"), "private": bool(item.get("private", False)),
            "can_email": bool(item.get("can_email", True)), "tags": list(item.get("tags") or []),
            "email_addresses": contacts(item.get("email_addresses", []), "personal", "email_addresses"),
            "phone_numbers": contacts(item.get("phone_numbers", []), "mobile", "phone_numbers"),
            "addresses": [], "website_addresses": [], "social_media_addresses": [], "linked_user_ids": [],
            "custom_fields": item.get("custom_fields") or {}, "created_at": seed_time(item, "created_at", "candidates",
                                                                                      moment),
            "updated_at": moment, "last_activity_at": moment, "external_id": item.get("external_id"),
            "recruiter_id": item.get("recruiter_id"), "coordinator_id": item.get("coordinator_id")}


def application_record(item: dict[str, Any], app_id: int, stage_id: int, moment: str) -> dict[str, Any]:
    status = item.get("status", "active")
    if status not in STATUS:
        raise Abort(400, f"application {app_id}: status must be one of {', '.join(STATUS)}", field="applications")
    created = seed_time(item, "created_at", "applications", moment)
    updated = seed_time(item, "updated_at", "applications", moment)
    return {"id": app_id, "candidate_id": item["candidate_id"], "job_id": item["job_id"], "job_post_id": None,
            "stage_id": stage_id, "status": status, "prospect": False, "created_at": created, "updated_at": updated,
            "last_activity_at": updated, "rejected_at": updated if status == "rejected" else None,
            "recruiter_id": item.get("recruiter_id"), "coordinator_id": item.get("coordinator_id"),
            "source_id": None, "referrer_id": None, "custom_fields": item.get("custom_fields") or {}}


def check_settings(settings: dict[str, Any], changes: Any) -> None:
    """Applies `changes` to `settings` after checking each; 400 names the first bad one."""
    if not isinstance(changes, dict):
        raise Abort(400, "settings must be an object", field="settings")
    for key, value in changes.items():
        if key not in settings:
            raise Abort(400, f"unknown setting {key!r}", field="settings")
        if key == "webhook_on_api_move":
            ok = type(value) is bool
        elif key == "webhook_retry_delays":
            ok = isinstance(value, list) and all(type(v) in (int, float) and v >= 0 for v in value)
        else:
            ok = type(value) in (int, float) and value > 0 and (key != "rate_limit" or type(value) is int)
        if not ok:
            raise Abort(400, f"settings.{key} has the wrong type or range: {value!r}", field="settings")
        settings[key] = value


# ---- the board (a small page for the demo) ---------------------------------------------------------------------

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Greenhouse fake</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:64rem;padding:0 1rem}}
table{{border-collapse:collapse;width:100%}}th,td{{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #ddd}}
</style></head><body><h1>Greenhouse fake</h1><p>{message}</p>
<table><tr><th>Application</th><th>Candidate</th><th>Job</th><th>Stage</th><th>Move to</th></tr>{rows}</table>
<h2>Web hook deliveries</h2><p>{hook}</p><table><tr><th>#</th><th>Action</th><th>Application</th><th>Status</th></tr>
{deliveries}</table></body></html>"""


def board_page(rows: list[dict[str, Any]], hook: dict[str, Any], deliveries: list[dict[str, Any]],
               message: str) -> str:
    """rows: {id, candidate, job, stage, status, stage_id, stages: [{id, name}]}; newest deliveries first."""
    esc = html.escape
    lines = []
    for row in rows:
        options = "".join(f'<option value="{s["id"]}"{" selected" if s["id"] == row["stage_id"] else ""}>'
                          f'{esc(s["name"])}</option>' for s in row["stages"])
        lines.append(f'<tr><td>{row["id"]}</td><td>{esc(row["candidate"])}</td><td>{esc(row["job"])}</td>'
                     f'<td>{esc(row["stage"] or "")} ({row["status"]})</td><td><form method="post" '
                     f'action="/_fake/board"><input type="hidden" name="application" value="{row["id"]}">'
                     f'<select name="stage">{options}</select> <button>Move</button></form></td></tr>')
    state = f'To {esc(hook["url"] or "(no URL)")}: {"enabled" if hook["enabled"] else "disabled"}.'
    done = "".join(f'<tr><td>{d["n"]}</td><td>{d["action"]}</td><td>{d["application_id"] or ""}</td>'
                   f'<td>{d["status"]}</td></tr>' for d in deliveries)
    return PAGE.format(message=esc(message), rows="".join(lines), hook=state, deliveries=done)
