"""From the ATS into Loopwise: requisitions and their stages, candidates and applications, and the scheduling
request a stage change starts. Every provider goes through here; adapters only speak `integrations.ats.base`.

The one door for a stage change is `stage_change_handle`, used alike by webhooks (`inbound_handle`, the handler
`scheduling.work` runs for each stored InboundEvent), polling (`integrations.ats.polling`) and the admin. It
never trusts a payload: it re-reads the application from the API, then:
1. finds the active InterviewPlan mapped to the application's current stage (`InterviewPlan.stage`, an AtsStage
   of the requisition whose external id is the application's job); none, or an application that is not active
   (rejected, hired), and only an application Loopwise already knows has its stage brought up to date: no
   candidate data is pulled for applications Loopwise will not schedule;
2. under an advisory lock on (connection, application), syncs the candidate and the application, and creates one
   SchedulingRequest for (application, plan). Idempotency: the partial unique constraint allows one open request
   per (application, plan), and its IntegrityError is caught; beyond it, a request is created only when the
   application has *entered* the stage as Loopwise knows it (its stored stage was another one) or has no request
   for the plan yet, so that a replay, a duplicate delivery or a poll after the request was cancelled or
   completed creates nothing (the application must leave the stage and come back for a new request);
3. after commit, starts the request through the portal flow (`scheduling.booking.request_start`: options, link,
   email), once: a transaction-level try-lock on the request and a fresh look at its state keep two deliveries
   racing from starting it twice. A request left `new` (a worker killed between the commit and the start) is
   started by the next delivery or poll that sees the change, or when the stored event is retried.

Leaving a mapped stage does not cancel anything: Loopwise's own write-back moves booked applications on.

Each first sighting of a stage by Loopwise is audited ("application.stage_entered", actor "webhook" or "poll"):
that is how polling tells that webhooks went quiet.

Errors: `ProviderError` propagates, classified by the adapter; health is marked by the caller that knows whether
to retry (`inbound_handle` marks and re-raises, so the inbox retries with backoff).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from integrations.ats import health
from integrations.ats.base import PING, STAGE_CHANGE, AtsApplication, AtsCandidate, AtsJob, AtsProvider, provider_for
from integrations.errors import ProviderError
from integrations.models import AtsConnection
from integrations.webhooks import events as webhooks
from scheduling import clock
from scheduling.audit import audit_log
from scheduling.booking import request_start
from scheduling.errors import LoopwiseError, NotBookable
from scheduling.locks import lock_names, try_lock_name
from scheduling.models import (
    Application,
    AtsStage,
    AuditEvent,
    Candidate,
    InboundEvent,
    InterviewPlan,
    Requisition,
    SchedulingRequest,
)

__all__ = ["STAGE_ENTERED", "SOURCES", "StageOccupant", "requisition_sync", "jobs_sync", "candidate_sync",
           "application_sync", "mapped_stage", "stage_change_handle", "left_new", "request_start_once",
           "inbound_handle", "stage_occupants"]

logger = logging.getLogger(__name__)

STAGE_ENTERED = "application.stage_entered"
SOURCES = ("webhook", "poll", "admin")  # who may see a stage change (the audit actor)
OCCUPANTS_LOOKBACK_DAYS = 365


# ---------------------------------------------------------------------------------------------------------------
# Rows from the adapter's dataclasses


def requisition_sync(*, connection: AtsConnection, job: AtsJob) -> Requisition:
    """The requisition of `job` with its stages, created or brought up to date (title, department, location,
    stage names and order). People, plans and the open flag set in Loopwise are left as they are."""
    req, created = Requisition.objects.get_or_create(ats_connection=connection, external_id=job.external_id,
                                                     defaults={"title": job.title[:200] or job.external_id,
                                                               "department": job.department[:120],
                                                               "location": job.location[:120]})
    if not created:
        changed = {k: v for k, v in (("title", job.title[:200]), ("department", job.department[:120]),
                                     ("location", job.location[:120])) if v and getattr(req, k) != v}
        if changed:
            Requisition.objects.filter(pk=req.pk).update(**changed)
            for k, v in changed.items():
                setattr(req, k, v)
    for stage in job.stages:
        AtsStage.objects.update_or_create(requisition=req, external_id=stage.external_id,
                                          defaults={"name": stage.name[:120] or stage.external_id,
                                                    "position": max(0, min(stage.position, 32767))})
    return req


def jobs_sync(*, connection: AtsConnection) -> tuple[int, int]:
    """Import every open job of `connection` and its stages (the admin's "Import jobs and stages"), so that
    stages can be mapped to plans. Returns (jobs, stages). Raises ProviderError."""
    with provider_for(connection) as ats:
        jobs = ats.list_jobs()
    health.mark_success(connection=connection, component="auth")
    health.mark_success(connection=connection, component="reads")
    with transaction.atomic():
        for job in jobs:
            requisition_sync(connection=connection, job=job)
    return len(jobs), sum(len(j.stages) for j in jobs)


def candidate_sync(*, connection: AtsConnection, candidate: AtsCandidate) -> Candidate:
    """The candidate, created or updated from the ATS (an empty value in the ATS keeps what Loopwise has)."""
    fields = {"first_name": candidate.first_name[:120] or "(no name)", "last_name": candidate.last_name[:120],
              "email": candidate.email[:254], "phone": candidate.phone[:40], "timezone": candidate.timezone[:64]}
    row, created = Candidate.objects.get_or_create(ats_connection=connection, external_id=candidate.external_id,
                                                   defaults=fields)
    if not created:
        changed = {k: v for k, v in fields.items() if v and getattr(row, k) != v}
        if changed:
            Candidate.objects.filter(pk=row.pk).update(**changed)
            for k, v in changed.items():
                setattr(row, k, v)
    return row


def application_sync(*, connection: AtsConnection, application: AtsApplication, candidate: Candidate,
                     requisition: Requisition, stage: AtsStage | None, source: str) -> tuple[Application, bool]:
    """The application, created or updated; returns it and whether it entered `stage` now (its stored stage was
    another one, or it was new). An entry is audited with `source` ("webhook", "poll") as the actor."""
    active = application.status == "active"
    row, created = Application.objects.get_or_create(
        ats_connection=connection, external_id=application.external_id,
        defaults={"candidate": candidate, "requisition": requisition, "stage": stage, "active": active,
                  "stage_entered_at": application.updated_at or clock.now()})
    entered = created
    if not created:
        changed = {k: v for k, v in (("candidate_id", candidate.pk), ("requisition_id", requisition.pk),
                                     ("active", active)) if getattr(row, k) != v}
        if row.stage_id != (stage.pk if stage else None):
            changed.update(stage_id=stage.pk if stage else None,
                           stage_entered_at=application.updated_at or clock.now())
            entered = True
        if changed:
            Application.objects.filter(pk=row.pk).update(**changed)
            row.refresh_from_db()
    if entered and stage is not None:
        _audit_entry(row, stage, source)
    return row, entered


def _audit_entry(application: Application, stage: AtsStage, source: str) -> None:
    audit_log(action=STAGE_ENTERED, obj=application, actor_label=source,
              summary=f"stage {stage.external_id} ({stage.name})")


def _follow_stage(*, connection: AtsConnection, local: Application, application: AtsApplication, source: str
                  ) -> None:
    """Keep an application Loopwise already knows in step with the ATS when there is nothing to schedule."""
    stage = AtsStage.objects.filter(requisition_id=local.requisition_id,
                                    external_id=application.stage_external_id).first()
    changed = {}
    if local.stage_id != (stage.pk if stage else None):
        changed.update(stage_id=stage.pk if stage else None, stage_entered_at=application.updated_at or clock.now())
    if local.active != (application.status == "active"):
        changed["active"] = application.status == "active"
    if changed:
        Application.objects.filter(pk=local.pk).update(**changed)
        if stage is not None and "stage_id" in changed:
            local.stage_id = stage.pk
            _audit_entry(local, stage, source)


# ---------------------------------------------------------------------------------------------------------------
# Stage changes


def mapped_stage(*, connection: AtsConnection, application: AtsApplication) -> tuple[AtsStage | None,
                                                                                     InterviewPlan | None]:
    """The application's current stage as Loopwise knows it, and the active plan mapped to it (or None)."""
    stage = (AtsStage.objects.select_related("requisition")
             .filter(requisition__ats_connection=connection, requisition__external_id=application.job_external_id,
                     external_id=application.stage_external_id).first())
    if stage is None or not application.stage_external_id:
        return None, None
    plan = InterviewPlan.objects.select_related("requisition__coordinator").filter(stage=stage, active=True).first()
    return stage, plan


def _open_request(application: Application, plan: InterviewPlan) -> SchedulingRequest | None:
    return (SchedulingRequest.objects.filter(application=application, plan=plan,
                                             state__in=SchedulingRequest.OPEN_STATES).first())


def stage_change_handle(*, connection: AtsConnection, application_external_id: str, source: str = "webhook",
                        provider: AtsProvider | None = None) -> SchedulingRequest | None:
    """Act on a change of the application `application_external_id` (see the module docstring): returns the open
    request for its mapped stage's plan (created now, or the one that already exists), or None when its stage
    is not mapped, it is not active, or this stage visit's request is already closed. `source` ("webhook",
    "poll", "admin") is the audit actor; `provider` reuses an adapter (and its token). Raises ProviderError."""
    ats = provider or provider_for(connection)
    try:
        app = ats.get_application(application_external_id)  # the payload is a hint: what the API says now
        health.mark_success(connection=connection, component="auth")
        health.mark_success(connection=connection, component="reads")
        stage, plan = mapped_stage(connection=connection, application=app)
        local = (Application.objects.select_related("requisition")
                 .filter(ats_connection=connection, external_id=app.external_id).first())
        if plan is None or app.status != "active":
            if local is not None:
                _follow_stage(connection=connection, local=local, application=app, source=source)
            return None
        if local is not None and local.stage_id == stage.pk and \
                SchedulingRequest.objects.filter(application=local, plan=plan).exists():
            # A replay, a duplicate or a second poll: nothing to create (a request a killed worker left new is
            # started now).
            request = _open_request(local, plan)
            if request is not None and left_new(request):
                request_start_once(request_id=request.pk)
                request.refresh_from_db(fields=["state"])
            return request
        candidate = ats.get_candidate(app.candidate_external_id)
    finally:
        if provider is None:
            ats.close()
    return _create_request(connection=connection, app=app, candidate=candidate, stage=stage, plan=plan,
                           source=source)


def _create_request(*, connection: AtsConnection, app: AtsApplication, candidate: AtsCandidate, stage: AtsStage,
                    plan: InterviewPlan, source: str) -> SchedulingRequest | None:
    with transaction.atomic():
        lock_names([f"ats-application:{connection.pk}:{app.external_id}"])
        person = candidate_sync(connection=connection, candidate=candidate)
        local, entered = application_sync(connection=connection, application=app, candidate=person,
                                          requisition=stage.requisition, stage=stage, source=source)
        request, created = _open_request(local, plan), False
        if request is None and (entered or not SchedulingRequest.objects.filter(application=local,
                                                                                plan=plan).exists()):
            request, created = _request_create(local, plan, person, source)
        if request is not None and (created or left_new(request)):
            transaction.on_commit(functools.partial(request_start_once, request_id=request.pk))
    return request


def left_new(request: SchedulingRequest) -> bool:
    """A request this flow created that is still `new`: its start was lost (a worker killed after the commit).
    Requests made by hand stay `new` until a coordinator starts them."""
    return request.state == SchedulingRequest.State.NEW and AuditEvent.objects.filter(
        action="request.created", object_type="scheduling.schedulingrequest", object_id=str(request.pk),
        actor_label__in=SOURCES).exists()


def _request_create(application: Application, plan: InterviewPlan, candidate: Candidate,
                    source: str) -> tuple[SchedulingRequest | None, bool]:
    """The new request and True; or, when another open one for (application, plan) won a race (the partial
    unique constraint refused this one), that one and False."""
    try:
        with transaction.atomic():
            request = SchedulingRequest.objects.create(application=application, plan=plan,
                                                       coordinator=plan.requisition.coordinator,
                                                       candidate_timezone=candidate.timezone)
    except IntegrityError:
        return _open_request(application, plan), False
    audit_log(action="request.created", obj=request, actor_label=source,
              summary=f"application #{application.pk} entered stage {plan.stage.external_id if plan.stage else ''} "
                      f"mapped to plan #{plan.pk}")
    webhooks.emit_request_created(request=request)  # issue #10: outbound webhooks
    logger.info("ATS stage change: request #%s created for application #%s (plan #%s, from %s)", request.pk,
                application.pk, plan.pk, source)
    return request, True


def request_start_once(*, request_id: int) -> str:
    """Start request `request_id` if it is still `new`, and only once however many deliveries race to: the
    first takes a transaction-level lock on it, the others see it taken (or already started) and leave it."""
    with transaction.atomic():
        if not try_lock_name(f"ats-request-start:{request_id}"):
            return f"request #{request_id}: being started elsewhere"
        request = SchedulingRequest.objects.filter(pk=request_id).first()
        if request is None or request.state != SchedulingRequest.State.NEW:
            return f"request #{request_id}: started already"
        try:
            request_start(request=request)
        except NotBookable:
            return f"request #{request_id}: started already"
    request.refresh_from_db(fields=["state"])
    return f"request #{request_id}: {request.state}"


# ---------------------------------------------------------------------------------------------------------------
# The inbound handler


def inbound_handle(event: InboundEvent) -> str:
    """`scheduling.work` handler for a stored delivery of any ATS (INBOUND_HANDLERS): re-parse the stored body,
    then act on a stage change. A transient failure, or one of the connection or a component, is marked on the
    connection's health and raised, so that the inbox retries with backoff (credentials fixed within the hour
    resume by themselves; polling catches up after that); a failure about this application only (it was
    deleted) ends the event."""
    connection = event.connection
    if not connection.active:
        return f"skipped: connection #{connection.pk} is not active"
    if not event.raw_body:
        return "skipped: the body was erased"
    with provider_for(connection) as ats:
        parsed = ats.parse_webhook(event.raw_body.encode("utf-8"), {})
        if parsed.kind == PING:
            return "ping"
        if parsed.kind != STAGE_CHANGE or not parsed.application_external_id:
            return f"ignored: {parsed.action or parsed.kind}"
        try:
            request = stage_change_handle(connection=connection,
                                          application_external_id=parsed.application_external_id,
                                          source="webhook", provider=ats)
        except ProviderError as e:
            if e.permanent and e.scope == "request":
                return f"skipped: application {parsed.application_external_id}: {e.reason or e.status}"
            health.mark_error(connection=connection, error=e)
            raise
    if request is None:
        return f"application {parsed.application_external_id}: nothing to schedule"
    return f"application {parsed.application_external_id}: request #{request.pk} ({request.state})"


# ---------------------------------------------------------------------------------------------------------------
# Trying a mapping


@dataclass(frozen=True)
class StageOccupant:
    """An application in a stage now, per the ATS, and what Loopwise knows of it (nothing, when never synced)."""

    application_external_id: str
    updated_at: object
    application: Application | None


def stage_occupants(*, plan: InterviewPlan, limit: int = 50) -> tuple[list[StageOccupant], int]:
    """Who is in `plan`'s stage now, per the ATS ("who is in this stage now?", to try a mapping before switching
    it on): at most `limit` active applications, most recently changed first, and how many there are in all.
    The interface has no "list by stage", so this reads the applications changed in the last
    OCCUPANTS_LOOKBACK_DAYS days: one that has sat untouched for longer is not listed. Raises LoopwiseError
    when the plan has no stage from an ATS, ProviderError when the ATS fails."""
    stage = plan.stage
    connection = plan.requisition.ats_connection
    if stage is None or not stage.external_id or connection is None:
        raise LoopwiseError("this plan has no stage from an ATS: choose one of its requisition's ATS stages first",
                            {"plan_id": plan.pk})
    since = clock.now() - dt.timedelta(days=OCCUPANTS_LOOKBACK_DAYS)
    with provider_for(connection) as ats:
        result = ats.poll_changes(since)
    health.mark_success(connection=connection, component="reads")
    inside = [c for c in result.changes if c.stage_external_id == stage.external_id and c.status == "active"]
    inside.sort(key=lambda c: (c.updated_at or since, c.application_external_id), reverse=True)
    known = {a.external_id: a for a in Application.objects.select_related("candidate").filter(
        ats_connection=connection, external_id__in=[c.application_external_id for c in inside[:limit]])}
    return ([StageOccupant(c.application_external_id, c.updated_at, known.get(c.application_external_id))
             for c in inside[:limit]], len(inside))
