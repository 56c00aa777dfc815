"""The ATS provider interface, shared by Greenhouse, Lever, iCIMS and Jobvite.

An adapter serves one `AtsConnection`: it lists jobs and their stages, reads a candidate and an
application, verifies and parses an inbound delivery (webhook or pushed event), polls for applications
changed since a watermark, writes back (a note or its provider's equivalent, and a stage move), and
checks each of its components. It speaks only the frozen dataclasses below, never ORM rows or provider
JSON, so the services above it (inbound processing, polling, the outbox, health) are the same for every
provider. External ids are always strings, whatever type the provider uses.

Errors are classified once, in the adapter (style.md section 8), as `ProviderError`:
- `permanent=True, scope="connection"`, `reason="auth"`: the connection's own credentials are refused
  (invalid client, wrong key). The connection turns red.
- `scope="component"`: one part of the integration is refused (e.g. a 403 on writes: a scope not
  granted). `error.component` names it; only that component turns red.
- `scope="request"`: only this call is wrong (not found, a stage guard that does not hold, validation).
- `permanent=False`: throttling, 5xx, timeouts, connection errors, with `retry_after` when the provider
  gave one. Retried in `integrations.http.call_with_retries` through the shared sleeper.
Every `ProviderError` an ATS adapter raises carries `component` (one of the adapter's `components`),
whatever its scope, so that health can count failures per component.

Inbound deliveries are judged in two steps, so that the view can answer each case the way the issue asks:
`verify_webhook` (401: not from the provider, logged, nothing stored) then `parse_webhook` (400: from the
provider but unreadable, with the reason). Payloads are hints: the flow re-reads the application before
acting.

Write-backs are idempotent by construction, because neither Greenhouse notes nor stage moves can be
undone: `add_note` carries our key into the written text and looks for it before every write;
`move_stage` re-reads the application before every write and is guarded by the stage it expects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from django.utils.module_loading import import_string

from integrations.errors import ProviderError
from integrations.http import DEFAULT_TIMEOUT

__all__ = ["AtsStageRef", "AtsJob", "AtsCandidate", "AtsApplication", "ParsedEvent", "Change", "PollResult",
           "ComponentHealth", "WebhookRejected", "ProviderError", "AtsProvider", "PROVIDERS", "provider_for",
           "header", "STAGE_CHANGE", "PING", "OTHER", "ApiQuota"]

STAGE_CHANGE, PING, OTHER = "stage_change", "ping", "other"  # ParsedEvent.kind


@dataclass(frozen=True, slots=True)
class AtsStageRef:
    """One stage of a job's pipeline. `position` orders the stages (0 first); an inactive stage stays listed so
    that history still resolves, but no application should enter it."""

    external_id: str
    name: str
    position: int
    active: bool = True


@dataclass(frozen=True, slots=True)
class AtsJob:
    """An open job (requisition) and its stages, in pipeline order."""

    external_id: str
    title: str
    stages: tuple[AtsStageRef, ...] = ()
    department: str = ""
    location: str = ""


@dataclass(frozen=True, slots=True)
class AtsCandidate:
    """The person behind an application. Personal data: never log it, never put it in a task argument."""

    external_id: str
    first_name: str
    last_name: str
    email: str = ""
    phone: str = ""
    timezone: str = ""  # an IANA name when the provider knows one, else ""


@dataclass(frozen=True, slots=True)
class AtsApplication:
    """A candidate's application to a job, and where it stands now, as read from the provider's API.

    `status` is normalised to "active", "rejected", "hired" or the provider's own word for anything else.
    `updated_at` is aware, in UTC (None only when the provider gives no time at all)."""

    external_id: str
    candidate_external_id: str
    job_external_id: str
    stage_external_id: str
    stage_name: str
    status: str
    updated_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """What a verified delivery says, to be stored as an InboundEvent and processed from there.

    `event_key` identifies the delivery: unique per (connection, key), the same for a retry or a replay of
    the same delivery; each adapter documents where it comes from. `kind` is "stage_change", "ping" or
    "other"; `action` is the provider's own name for it (e.g. "candidate_stage_change"). The ids are hints
    from the payload (possibly empty for a ping or an unrelated event); the flow re-reads the application."""

    event_key: str
    kind: str
    application_external_id: str = ""
    stage_external_id: str = ""
    occurred_at: dt.datetime | None = None
    stage_name: str = ""
    action: str = ""


@dataclass(frozen=True, slots=True)
class Change:
    """An application that changed since the poll's watermark, as the provider's list answered it."""

    application_external_id: str
    stage_external_id: str
    updated_at: dt.datetime | None
    stage_name: str = ""
    status: str = ""


@dataclass(frozen=True, slots=True)
class PollResult:
    """The changes found and the watermark to store: the latest `updated_at` seen, never earlier than the `since`
    asked for. The caller subtracts its own overlap before the next poll (updates can share a timestamp)."""

    changes: tuple[Change, ...]
    new_watermark: dt.datetime


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    """One component's check. `ok` is None when the component was not probed (writes are never probed; a push
    channel cannot be); `message` then says why. On failure `message` is the provider's own error text."""

    component: str
    ok: bool | None
    message: str = ""


@dataclass(frozen=True, slots=True)
class ApiQuota:
    """A provider's call quota as its rate-limit headers said at `seen_at` (iCIMS: per day, reset at 00:00 UTC).
    Any of the numbers may be None when the provider left that header out."""

    limit: int | None
    remaining: int | None
    resets_at: dt.datetime | None
    seen_at: dt.datetime


class WebhookRejected(Exception):
    """An inbound delivery refused: `status` 401 (not proven to come from the provider) or 400 (malformed),
    `reason` the text to log and to answer with. Never carries candidate data."""

    def __init__(self, reason: str, *, status: int = 401):
        super().__init__(reason)
        self.reason = reason
        self.status = status

    def __str__(self) -> str:
        return f"{self.status}: {self.reason}"


def header(headers: Mapping[str, str], name: str) -> str | None:
    """`headers[name]`, matched case-insensitively whatever the mapping (Django's `request.headers`, a plain
    dict, requests' CaseInsensitiveDict). Not `request.META`, whose keys are `HTTP_...`."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


class AtsProvider:
    """Reads jobs, candidates and applications, takes in deliveries, and writes back, for one AtsConnection.

    An instance holds an HTTP session and a cached access token: one per task or request, not thread-safe.
    Every method raises `ProviderError` (classified as the module docstring says) unless it says otherwise.
    """

    kind: ClassVar[str]
    components: ClassVar[tuple[str, ...]]          # health rows, in the order the admin shows them
    webhook_component: ClassVar[str] = "webhooks"  # the component inbound deliveries prove alive (iCIMS: "events")
    write_component: ClassVar[str] = "writes"      # the component write-back proves alive (iCIMS: "workflow")
    write_back: ClassVar[tuple[str, ...]]          # what Loopwise writes, for the admin's matrix
    # The shared flow's generic component names ("auth", "reads", "writes") -> this adapter's own, when it names its
    # parts otherwise (Jobvite: "key", "candidates", "workflow_states"); `own_component` applies it.
    component_aliases: ClassVar[dict[str, str]] = {}

    def __init__(self, connection, *, base_url: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 page_size: int | None = None):
        """`connection` is an integrations.models.AtsConnection (credentials decrypted on access; it need not be
        saved). `base_url` defaults to the connection's, then to the real service. `timeout` bounds each HTTP
        call in seconds. `page_size` asks for smaller pages than the provider's maximum (tests, or a slow
        account); None uses the maximum."""
        self.connection = connection
        self.base_url = (base_url or connection.base_url or "").rstrip("/")
        self.timeout = timeout
        self.page_size = page_size

    @property
    def credentials(self) -> dict:
        return dict(self.connection.credentials or {})

    def close(self) -> None:
        """Releases pooled connections; the adapter must not be used afterwards."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- reads ------------------------------------------------------------------------------------------------

    def list_jobs(self) -> list[AtsJob]:
        """Every open job with its stages in pipeline order, following pagination to the end."""
        raise NotImplementedError

    def get_candidate(self, external_id: str) -> AtsCandidate:
        """The candidate; an unknown id is `ProviderError(permanent=True, scope="request", reason="not_found")`."""
        raise NotImplementedError

    def get_application(self, external_id: str) -> AtsApplication:
        """The application as it stands now (never from a cache); unknown: reason "not_found", scope "request"."""
        raise NotImplementedError

    def poll_changes(self, since: dt.datetime) -> PollResult:
        """Applications updated at or after `since` (aware; ValueError if naive), following pagination to the
        end, oldest first; each application once, as it stands at its latest update."""
        raise NotImplementedError

    # ---- inbound ------------------------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> None:
        """Prove the delivery comes from the provider, over the raw bytes as received (never re-serialised).
        Returns None; raises `WebhookRejected(reason, status=401)` for a missing, malformed or wrong signature,
        a stale delivery, or a connection with no secret configured. Makes no HTTP call."""
        raise NotImplementedError

    def parse_webhook(self, raw_body: bytes, headers: Mapping[str, str] | None = None) -> ParsedEvent:
        """Read a verified delivery (`headers` as received, for ids or encodings carried there). Returns a
        ParsedEvent for every well-formed delivery, a ping and unrelated actions included; raises
        `WebhookRejected(reason, status=400)` when the body is not JSON or lacks what its action needs."""
        raise NotImplementedError

    def stored_body(self, raw_body: bytes, headers: Mapping[str, str]) -> bytes:
        """The bytes to keep of a verified delivery, which `parse_webhook` must read again without its headers
        (`inbound_handle` re-parses the stored body): the body as received, unless the provider encodes it (iCIMS
        gzips its pushes: stored decompressed). Raises `WebhookRejected(status=400)` when it cannot be decoded."""
        return bytes(raw_body)

    # ---- writes -------------------------------------------------------------------------------------------------

    def add_note(self, application_external_id: str, text: str, *, key: str) -> str:
        """Write `text` on the application (or the provider's equivalent of a note) and return its id. `key` is
        our idempotency key (ids only, no newline): the same key never writes twice, even after a timeout
        whose write was applied, or from a new worker after a crash; the existing note's id is returned.
        Raises ValueError for a key the adapter could not find again (empty, too long, a line break...)."""
        raise NotImplementedError

    def move_stage(self, application_external_id: str, *, from_stage_external_id: str,
                   to_stage_external_id: str) -> None:
        """Move the application from the stage we expect to the target one. Already in the target: returns
        without writing. In neither: `ProviderError(permanent=True, scope="request", reason="stage_mismatch")`
        (someone moved it meanwhile). Never moves twice, even when a timed-out move was applied."""
        raise NotImplementedError

    # ---- health -------------------------------------------------------------------------------------------------

    def api_quota(self) -> ApiQuota | None:
        """The call quota as last seen by this instance, or None (no answer yet, or a provider without one)."""
        return None

    @classmethod
    def fix_link(cls, connection, component: str) -> tuple[str, str] | None:
        """(label, URL path) of the page that fixes `component` of `connection` when it fails (Lever's OAuth: sign
        in to Lever again), or None when the connection's own page is the fix. Makes no HTTP call."""
        return None

    def check_components(self) -> list[ComponentHealth]:
        """One ComponentHealth per component in `components`, in that order: every read component is probed
        with a cheap read; writes are never probed (a Greenhouse note cannot be deleted), though a read may show
        they cannot work (`ok=False`). Never raises ProviderError: a failure is the component's `ok=False` with the
        provider's message; a component that could not be checked is `ok=None` with the reason."""
        raise NotImplementedError


PROVIDERS: dict[str, str] = {  # AtsConnection.provider -> adapter class, imported on first use
    "greenhouse": "integrations.ats.greenhouse.GreenhouseAts",
    "lever": "integrations.ats.lever.LeverAts",
    "icims": "integrations.ats.icims.IcimsAts",
    "jobvite": "integrations.ats.jobvite.JobviteAts",
}


def provider_class(kind: str) -> type[AtsProvider] | None:
    """The adapter class for a provider kind (imported on first use), or None when there is none yet."""
    path = PROVIDERS.get(kind)
    return import_string(path) if path else None


def own_component(connection, name: str) -> str:
    """The component of `connection`'s provider that a generic name ("auth", "reads", "writes") stands for."""
    cls = provider_class(connection.provider)
    return cls.component_aliases.get(name, name) if cls else name


def component_names(connection) -> tuple[str, str]:
    """(webhook component, write component) of `connection`'s provider, defaulting to the common names."""
    cls = provider_class(connection.provider)
    return (cls.webhook_component, cls.write_component) if cls else ("webhooks", "writes")


def provider_for(connection, **kwargs) -> AtsProvider:
    """The adapter for `connection.provider`, imported on first use. A provider without an adapter yet is a
    permanent connection error (the connection turns red, saying so) rather than a crash."""
    path = PROVIDERS.get(connection.provider)
    if path is None:
        raise ProviderError(f"No ATS adapter for provider {connection.provider!r} yet", permanent=True,
                            scope="connection", reason="unsupported", component="auth")
    return import_string(path)(connection, **kwargs)
