"""ATS health per component (auth, reads, webhooks, writes; an adapter may name more), kept in the spirit of
`integrations.calendars.health`: the silent failure made loud, once.

- `mark_success` records a working call. It is on the hot path (every webhook, every re-read), so a component
  already healthy is written at most once per `SUCCESS_EVERY`; a failing, quiet or unknown one is written at once.
- `mark_failure` counts failures in a row: a permanent one (refused credentials, a scope not granted) turns the
  component red at once, transient ones (throttling, 5xx, timeouts) after `RED_AFTER` in a row; before that the
  component is "failing (retrying)". Turning red records the provider's error and tells the coordinators of the
  connection's open, mapped requisitions and the connection's fallback address through `notify`, once (only the
  move into red notifies; `notify` also folds repeats within the hour) and writes an audit entry.
- `mark_error` does both from a `ProviderError`: it names the component itself (`error.component`); an error
  about one call only (`scope="request"`: not found, a stage guard) is no component's failure and is not counted.
- Only the connection's own credentials (component "auth", or any `scope="connection"` error) move the
  AtsConnection's own health, as only a connection's own credentials turn a calendar connection red.
- `mark_quiet` flags webhooks "quiet" (polling found a change no webhook delivered; see `integrations.ats.polling`)
  and tells the same people once, when the flag is raised. Any verified delivery clears it (`mark_success` on the
  webhooks component).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse

from integrations.ats.base import ComponentHealth, component_names, own_component, provider_class
from integrations.errors import ProviderError
from integrations.models import AtsComponentHealth, AtsConnection, Health
from integrations.webhooks import events as webhooks
from scheduling import clock
from scheduling.audit import audit_log
from scheduling.models import InterviewPlan
from scheduling.notifications import fallback_emails, notify

__all__ = ["RED_AFTER", "SUCCESS_EVERY", "WEBHOOKS", "mark_success", "mark_failure", "mark_error", "mark_quiet",
           "record_checks", "people_to_tell", "fix_link"]

RED_AFTER = 3  # transient failures in a row before a component turns red
SUCCESS_EVERY = dt.timedelta(minutes=1)
WEBHOOKS = "webhooks"
_ERROR_MAX = 2000


def _stale_success(now: dt.datetime) -> Q:
    """Rows a success must still be written to: not healthy, counting failures, quiet, or not written lately."""
    return (~Q(health=Health.OK) | Q(consecutive_failures__gt=0) | Q(last_success_at__isnull=True)
            | Q(last_success_at__lt=now - SUCCESS_EVERY))


def mark_success(*, connection: AtsConnection, component: str) -> None:
    """Record that `component` of `connection` just worked: healthy, the run of failures ended, quiet cleared."""
    component = own_component(connection, component)  # the adapter's own name: "auth" is Jobvite's "key"
    now = clock.now()
    fields = {"health": Health.OK, "last_success_at": now, "consecutive_failures": 0}
    inbound = component == component_names(connection)[0]
    if inbound:
        fields["quiet_since"] = None
    rows = AtsComponentHealth.objects.filter(connection_id=connection.pk, component=component)
    stale = _stale_success(now) | Q(quiet_since__isnull=False) if inbound else _stale_success(now)
    if not rows.filter(stale).update(**fields) and not rows.exists():
        AtsComponentHealth.objects.get_or_create(connection_id=connection.pk, component=component, defaults=fields)
    if component == own_component(connection, "auth"):
        recovered = AtsConnection.objects.filter(pk=connection.pk).filter(_stale_success(now)).update(
            health=Health.OK, last_success_at=now, consecutive_failures=0)
        if recovered and connection.health == Health.RED:
            audit_log(action="ats_connection.recovered", obj=connection, actor_label="worker",
                      summary="credentials accepted again")
        connection.health, connection.consecutive_failures = Health.OK, 0


def _fail_row(model, lookup: dict, *, error: str, permanent: bool, now: dt.datetime):
    """Count one failure on the row `lookup` names (created when missing), under a row lock. Returns the row, as
    updated, and whether it was red before."""
    with transaction.atomic():
        if model is AtsComponentHealth:
            row, _ = AtsComponentHealth.objects.select_for_update().get_or_create(**lookup)
        else:
            row = model.objects.select_for_update().get(**lookup)
        was_red = row.health == Health.RED
        failures = row.consecutive_failures + 1
        health = Health.RED if permanent or failures >= RED_AFTER else Health.DEGRADED
        model.objects.filter(pk=row.pk).update(health=health, last_error=error[:_ERROR_MAX], last_error_at=now,
                                               consecutive_failures=failures)
        row.health, row.last_error, row.last_error_at, row.consecutive_failures = health, error, now, failures
    return row, was_red


def mark_failure(*, connection: AtsConnection, component: str, error: str, permanent: bool,
                 connection_level: bool = False) -> bool:
    """Record a failure of `component`; returns True when this one turned it red (and people were told).
    `connection_level` (or the "auth" component) also counts it on the connection's own health."""
    component = own_component(connection, component)
    now = clock.now()
    row, was_red = _fail_row(AtsComponentHealth, {"connection_id": connection.pk, "component": component},
                             error=error, permanent=permanent, now=now)
    if component == own_component(connection, "auth") or connection_level:
        conn, conn_was_red = _fail_row(AtsConnection, {"pk": connection.pk}, error=error, permanent=permanent,
                                       now=now)
        connection.health, connection.consecutive_failures = conn.health, conn.consecutive_failures
        if conn.health == Health.RED and not conn_was_red:
            audit_log(action="ats_connection.red", obj=conn, actor_label="worker", summary=error[:200])
    if row.health != Health.RED or was_red:
        return False
    _tell_red(connection, row, error=error)
    return True


def mark_error(*, connection: AtsConnection, error: ProviderError) -> bool:
    """`mark_failure` for a classified adapter error; an error about one call only counts for nothing."""
    if error.permanent and error.scope == "request":
        return False
    return mark_failure(connection=connection, component=error.component or "reads", error=error.message,
                        permanent=error.permanent, connection_level=error.scope == "connection")


def mark_quiet(*, connection: AtsConnection, detail: str) -> bool:
    """Flag the inbound component of `connection` (webhooks; iCIMS: events) quiet; True when the flag was raised
    now (and people were told)."""
    now = clock.now()
    with transaction.atomic():
        row, _ = AtsComponentHealth.objects.select_for_update().get_or_create(
            connection_id=connection.pk, component=component_names(connection)[0])
        raised = row.quiet_since is None
        health = Health.DEGRADED if row.health in (Health.OK, Health.UNKNOWN) else row.health
        AtsComponentHealth.objects.filter(pk=row.pk).update(quiet_since=row.quiet_since or now, health=health,
                                                             last_error=detail[:_ERROR_MAX], last_error_at=now)
    if raised:
        notify(kind="ats.webhooks_quiet", obj=row, recipients=people_to_tell(connection),
               subject=f"Webhooks from {connection.name} have gone quiet",
               body=(f"Polling found a stage change in {connection} that no webhook delivered: {detail}\n\n"
                     "The webhook subscription may have been removed or disabled on the ATS side. Loopwise keeps "
                     "finding changes by polling (every few minutes), so nothing is lost, but candidates wait "
                     "longer. Check the webhook in the ATS against the URL shown on the connection's page."),
               url=_admin_url(connection))
        audit_log(action="ats_webhooks.quiet", obj=row, actor_label="worker", summary=detail[:200])
    return raised


def record_checks(*, connection: AtsConnection, results: list[ComponentHealth]) -> None:
    """Record what `check_components` found: a component that answered is healthy, one that failed counts a
    failure (transient: a one-off check turns nothing red by itself); one not probed changes nothing."""
    for result in results:
        if result.ok is True:
            mark_success(connection=connection, component=result.component)
        elif result.ok is False:
            mark_failure(connection=connection, component=result.component, error=result.message, permanent=False)


def people_to_tell(connection: AtsConnection) -> list[str]:
    """The coordinators of the connection's open requisitions that have an active plan on a stage (they are the
    ones whose candidates stop arriving), and the connection's fallback address; else `fallback_emails()`."""
    emails: set[str] = set()
    plans = (InterviewPlan.objects.filter(active=True, stage__isnull=False, requisition__open=True,
                                          requisition__ats_connection=connection)
             .select_related("requisition__coordinator"))
    for plan in plans:
        person = plan.requisition.coordinator
        if person is not None and person.is_active and person.email:
            emails.add(person.email)
    if connection.fallback_email:
        emails.add(connection.fallback_email)
    return sorted(emails) or fallback_emails()


def fix_link(connection: AtsConnection, component: str) -> tuple[str, str] | None:
    """(label, path) of the page that fixes `component` of `connection`, from its adapter (`AtsProvider.fix_link`),
    or None when the connection's own page is the fix."""
    cls = provider_class(connection.provider)
    return cls.fix_link(connection, component) if cls is not None else None


def _admin_url(obj) -> str:
    try:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""


def _tell_red(connection: AtsConnection, row: AtsComponentHealth, *, error: str) -> None:
    what = {"auth": "Loopwise can no longer sign in to it",
            "reads": "Loopwise can no longer read candidates, applications or jobs from it",
            "writes": "Loopwise can no longer write notes or move applications in it",
            "workflow": "Loopwise can no longer write the schedule or move applications in it",
            "events": "its pushed status notifications are failing",
            "quota": "its daily API call quota is spent: every call is refused until the reset",  # issue 9
            "key": "its API key is refused",  # Jobvite's components (issue 9)
            "candidates": "Loopwise can no longer read candidates or jobs from it",
            "workflow_states": "Loopwise can no longer check its workflow states or write comments and states in it",
            WEBHOOKS: "its webhooks are failing"}.get(row.component, f"its {row.component} part is failing")
    fix = fix_link(connection, row.component)  # issue 9: e.g. Lever's OAuth sign-in for a revoked grant
    fix_text = f"\n\nTo fix it: {fix[0]}: {settings.PUBLIC_BASE_URL.rstrip('/')}{fix[1]}" if fix else ""
    notify(kind="ats.red", obj=row, recipients=people_to_tell(connection),
           subject=f"ATS connection failing: {connection.name} ({row.component})",
           body=(f"{connection}: {what}.\n\nThe ATS said: {error}\n\nUntil this is fixed, candidates entering "
                 "mapped stages are not picked up (or outcomes are not written back); nothing is lost, the work "
                 "is retried and polling catches up. Run 'Test the connection' on the connection's page to see "
                 f"which part fails and why.{fix_text}"),
           url=_admin_url(connection))
    audit_log(action="ats_component.red", obj=row, actor_label="worker", summary=error[:200])
    webhooks.emit_connection_unhealthy(obj=row)  # issue #10: outbound webhooks
