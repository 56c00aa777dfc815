"""Wire formats for the `lever` fake (integrations/fakes/lever.py): Lever's error body, epoch-millisecond times,
`limit`/`offset` pagination with opaque offset tokens, the v1 object shapes, and the webhook envelope with its
signature. Pure functions, no state."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any

from integrations.fakes.base import Abort, Request

DEFAULT_STAGES = ("New Applicant", "Phone Screen", "On-site Interview", "Offer")
LIMIT_DEFAULT, LIMIT_MAX = 100, 100
SCOPES = ("opportunities:read:admin", "opportunities:write:admin", "stages:read:admin", "postings:read:admin",
          "notes:read:admin", "notes:write:admin", "contact:read:admin", "users:read:admin", "webhooks:write:admin")
ERROR_CODES = {400: "BadRequestError", 401: "UnauthorizedError", 403: "ForbiddenError", 404: "ResourceNotFound",
               405: "MethodNotAllowed", 429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway",
               503: "ServiceUnavailable", 504: "GatewayTimeout"}
SIGNATURE_SCHEMES = ("token_triggered_at", "header", "token_only")


def now_ms() -> int:
    return int(time.time() * 1000)


def lever_error(status: int, message: str, *, headers: dict[str, str] | None = None) -> Abort:
    """An Abort with Lever's error body `{"code": "<ErrorName>", "message": "<text>"}` (contract §2.4)."""
    return Abort(status, message, body={"code": ERROR_CODES.get(status, "Error"), "message": message},
                 headers=headers)


def basic_key(header: str | None) -> str | None:
    """The API key of `Authorization: Basic base64(key:)` (the password is empty); None for anything else."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        key, sep, _ = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return key if sep and key else None


# ---- pagination ------------------------------------------------------------------------------------------------


def limit_of(req: Request) -> int:
    raw = req.arg("limit")
    if raw is None:
        return LIMIT_DEFAULT
    if not raw.isdigit() or not 1 <= int(raw) <= LIMIT_MAX:
        raise lever_error(400, f"limit must be an integer between 1 and {LIMIT_MAX}")
    return int(raw)


def query_hash(req: Request) -> str:
    """What an offset token is tied to: the query without limit and offset (its filters and sort order)."""
    kept = sorted((k, sorted(v)) for k, v in req.query.items() if k not in ("limit", "offset"))
    return hashlib.sha256(json.dumps([req.path, kept]).encode()).hexdigest()[:16]


def encode_offset(position: list, qhash: str) -> str:
    raw = json.dumps({"p": position, "q": qhash}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_offset(token: str, qhash: str) -> list:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if data["q"] == qhash and isinstance(data["p"], list):
            return data["p"]
    except (ValueError, binascii.Error, KeyError, TypeError):
        pass
    raise lever_error(400, "Invalid offset token")


def paged(req: Request, items: list[dict[str, Any]], key: Any) -> dict[str, Any]:
    """`{"data": [...], "hasNext": bool, "next"?: token}` for the page after the request's `offset`; `items` in
    `key` order (key(item) is a JSON-able list)."""
    limit, qhash = limit_of(req), query_hash(req)
    offset = req.arg("offset")
    if offset:
        after = decode_offset(offset, qhash)
        items = [i for i in items if key(i) > after]
    shown = items[:limit]
    answer: dict[str, Any] = {"data": shown, "hasNext": len(items) > limit}
    if answer["hasNext"]:
        answer["next"] = encode_offset(key(shown[-1]), qhash)
    return answer


def ms_param(req: Request, name: str) -> int | None:
    raw = req.arg(name)
    if raw is None or raw == "":
        return None
    if not raw.lstrip("-").isdigit():
        raise lever_error(400, f"{name} must be a timestamp in milliseconds since the epoch")
    return int(raw)


# ---- webhooks --------------------------------------------------------------------------------------------------


def signature(secret: str, token: str, triggered_at: int) -> str:
    """hex(HMAC-SHA256(key=signature token, msg=token + triggeredAt)) (contract §2.5)."""
    return hmac.new(secret.encode(), f"{token}{triggered_at}".encode(), hashlib.sha256).hexdigest()


def envelope(event: str, data: dict[str, Any], token: str, triggered_at: int, secret: str,
             scheme: str) -> tuple[bytes, dict[str, str]]:
    """The delivery's body and headers under one of SIGNATURE_SCHEMES: the documented one (signature in the body
    over token + triggeredAt), or one of the two unverified ones (for tests that the adapter refuses them)."""
    body: dict[str, Any] = {"triggeredAt": triggered_at, "event": event, "token": token}
    headers = {"Content-Type": "application/json", "User-Agent": "Lever-Webhooks"}
    if scheme == "token_triggered_at":
        body["signature"] = signature(secret, token, triggered_at)
    elif scheme == "token_only":
        body["signature"] = hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
    body["data"] = data
    raw = json.dumps(body, separators=(",", ":")).encode()
    if scheme == "header":
        mac = hmac.new(secret.encode(), f"{triggered_at}.".encode() + raw, hashlib.sha256).hexdigest()
        headers["Lever-Signature"] = f"t={triggered_at},v1={mac}"
    return raw, headers


# ---- v1 objects ------------------------------------------------------------------------------------------------


def opportunity_json(opp: dict[str, Any], stages: dict[str, dict], applications: dict[str, dict],
                     expand: list[str], contact: dict[str, Any] | None) -> dict[str, Any]:
    shown = {k: v for k, v in opp.items() if not k.startswith("_")}
    if "stage" in expand:
        stage = stages.get(opp["stage"])
        shown["stage"] = {"id": stage["id"], "text": stage["text"]} if stage else opp["stage"]
    if "applications" in expand:
        shown["applications"] = [applications[a] for a in opp["applications"] if a in applications]
    if "contact" in expand and contact is not None:
        shown["contact"] = contact
    return shown


def note_json(note: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in note.items() if k != "opportunity"}
