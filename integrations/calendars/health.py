"""Calendar health: the silent failure Loopwise exists to prevent, made loud.

Only a failure of the connection's own credentials turns the connection red; a failure of one
calendar turns only that calendar red. Transient trouble (throttling, 5xx, timeouts) counts as a
failure in a row but turns something red only after `RED_AFTER` refresh cycles in a row. Turning
red records the provider's error and the time, tells the coordinators whose plans use the
people affected (one notice per object per hour, through `notify`), and writes an audit entry.
Success resets the run.
"""

from __future__ import annotations

from django.db.models import Q
from django.urls import NoReverseMatch, reverse

from integrations.models import Calendar, CalendarConnection, Health
from integrations.webhooks import events as webhooks
from scheduling import clock
from scheduling.audit import audit_log
from scheduling.models import Interviewer, Requisition, Room
from scheduling.notifications import fallback_emails, notify

RED_AFTER = 3  # failures in a row before transient trouble turns a calendar or connection red


def mark_success(obj: Calendar | CalendarConnection) -> None:
    changed = obj.health != Health.OK
    type(obj).objects.filter(pk=obj.pk).update(health=Health.OK, last_success_at=clock.now(),
                                               consecutive_failures=0)
    obj.health, obj.consecutive_failures = Health.OK, 0
    if changed and obj.last_error:
        audit_log(action="calendar.recovered" if isinstance(obj, Calendar) else "calendar_connection.recovered",
                  obj=obj, actor_label="worker", summary="reads again")


def mark_failure(obj: Calendar | CalendarConnection, *, error: str, permanent: bool) -> bool:
    """Record a failure; returns True when this one turned `obj` red (and the coordinators were told)."""
    now = clock.now()
    failures = obj.consecutive_failures + 1
    red = permanent or failures >= RED_AFTER
    was_red = obj.health == Health.RED
    health = Health.RED if red else Health.DEGRADED
    type(obj).objects.filter(pk=obj.pk).update(health=health, last_error=error[:2000], last_error_at=now,
                                               consecutive_failures=failures)
    obj.health, obj.last_error, obj.last_error_at, obj.consecutive_failures = health, error, now, failures
    if red and not was_red:
        _tell(obj, error=error)
        return True
    return False


def affected_interviewers(obj: Calendar | CalendarConnection) -> list[Interviewer]:
    if isinstance(obj, Calendar):
        return list(Interviewer.objects.filter(calendar=obj))
    return list(Interviewer.objects.filter(calendar__connection=obj))


def affected_rooms(obj: Calendar | CalendarConnection) -> list[Room]:
    if isinstance(obj, Calendar):
        return list(Room.objects.filter(calendar=obj))
    return list(Room.objects.filter(calendar__connection=obj))


def coordinators_for(interviewers: list[Interviewer], rooms: list[Room]) -> list[str]:
    """Coordinators (or fallbacks) of the open requisitions whose plans can draw these people or rooms."""
    ids = [i.pk for i in interviewers]
    room_ids = [r.pk for r in rooms]
    reqs = Requisition.objects.filter(open=True).filter(
        Q(plans__sessions__roles__pool__memberships__interviewer_id__in=ids)
        | Q(plans__sessions__roles__interviewer_id__in=ids)
        | Q(plans__sessions__roles__rooms__in=room_ids)).select_related("coordinator", "ats_connection").distinct()
    emails: set[str] = set()
    for r in reqs:
        if r.coordinator and r.coordinator.is_active and r.coordinator.email:
            emails.add(r.coordinator.email)
        elif r.ats_connection and r.ats_connection.fallback_email:
            emails.add(r.ats_connection.fallback_email)
    return sorted(emails) or fallback_emails()


def _admin_url(obj) -> str:
    try:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""


def _tell(obj: Calendar | CalendarConnection, *, error: str) -> None:
    people = affected_interviewers(obj)
    rooms = affected_rooms(obj)
    names = ", ".join(p.name for p in people[:10]) + (f" and {len(people) - 10} more" if len(people) > 10 else "")
    rooms_text = ", ".join(r.name for r in rooms)
    who = " and ".join(x for x in (names, rooms_text) if x) or "no interviewer yet"
    if isinstance(obj, Calendar):
        subject = f"Calendar unreadable: {who}"
        what = f"Loopwise cannot read the calendar {obj.external_id}."
        fix = "Check that the calendar still exists and is shared, or send the interviewer a new consent link."
    else:
        subject = f"Calendar connection broken: {obj.name}"
        what = f"The calendar connection '{obj.name}' ({obj.get_provider_display()}) lost its access."
        fix = "Send a new consent link (user connections) or re-authorise the service account."
    body = (f"{what}\n\nProvider said: {error}\n\nUntil this is fixed, {who} will not be offered to candidates: "
            f"the solver leaves them out and names them as 'calendar unknown', instead of letting them look busy."
            f"\n\n{fix}")
    notify(kind="calendar.red", obj=obj, recipients=coordinators_for(people, rooms), subject=subject, body=body,
           url=_admin_url(obj))
    audit_log(action="calendar.red" if isinstance(obj, Calendar) else "calendar_connection.red", obj=obj,
              actor_label="worker", summary=error[:200])
    webhooks.emit_connection_unhealthy(obj=obj)  # issue #10: outbound webhooks
