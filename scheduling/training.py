"""Interviewer training (issue #7): count the sessions trainees sat, and move them on when they have enough.

`training_record` (every 15 minutes) finds each trainee participation (part `shadow` or `reverse_shadow`) of a
session that has ended, of an interview that is still live (a cancelled or rescheduled-away interview never took
place, so it does not count), and records it as one TrainingSession: a unique row per trainee and session,
inserted with ON CONFLICT DO NOTHING, so reruns and concurrent workers count it once.

Which pool a session counts toward: the pools of the session's roles in which the trainee is a member, preferring
the membership whose training state matches the part they sat (a shadow part counts toward a `shadow`
membership), else one still in training. A trainee no longer in training there gets a row without membership,
which counts nothing but marks the session as seen.

Then each membership touched is checked against its pool: at `shadows_required` shadow sessions a `shadow`
becomes a `reverse_shadow`, at `reverse_shadows_required` reverse-shadow sessions a `reverse_shadow` becomes
`trained` (a pool that requires 0 reverse shadows goes straight on). Each move is a conditional update from the
state read, so it happens once; the one that wins writes the audit entry and tells the coordinator of the request
whose session completed the step.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Exists, OuterRef
from django.urls import NoReverseMatch, reverse

from scheduling import clock
from scheduling.audit import audit_log
from scheduling.escalation import Budget
from scheduling.models import (
    PoolMembership,
    Role,
    ScheduledInterview,
    SessionParticipant,
    TrainingSession,
)
from scheduling.notifications import coordinator_emails, fallback_emails, notify

__all__ = ["BATCH", "training_record", "memberships_promote"]

BATCH = 500
Part = SessionParticipant.Part
Training = PoolMembership.Training
_NEXT = {Training.SHADOW: (Training.REVERSE_SHADOW, "shadows_required", TrainingSession.Kind.SHADOW),
         Training.REVERSE_SHADOW: (Training.TRAINED, "reverse_shadows_required", TrainingSession.Kind.REVERSE_SHADOW)}


def _due(now: dt.datetime):
    seen = TrainingSession.objects.filter(interviewer=OuterRef("interviewer"), session=OuterRef("session"))
    return (SessionParticipant.objects
            .filter(part__in=[Part.SHADOW, Part.REVERSE_SHADOW], active=True, session__active=True,
                    session__interview__state=ScheduledInterview.State.ACTIVE, session__end__lte=now)
            .exclude(Exists(seen)))


def training_record(*, budget_seconds: float = 60.0, batch: int = BATCH) -> str:
    """Record the trainee sessions that took place and promote whoever has enough. Returns a summary."""
    budget = Budget(budget_seconds)
    recorded = 0
    promoted: list[str] = []
    while not budget.spent():
        now = clock.now()
        parts = list(_due(now).select_related("session").order_by("session__end", "id")[:batch])
        if not parts:
            break
        memberships = _memberships_for(parts)
        rows = [TrainingSession(interviewer_id=p.interviewer_id, session_id=p.session_id,
                                membership=memberships.get(p.pk), kind=p.part, completed_at=p.session.end,
                                recorded_at=now) for p in parts]
        TrainingSession.objects.bulk_create(rows, ignore_conflicts=True)
        recorded += len(rows)
        promoted += memberships_promote(membership_ids={m.pk for m in memberships.values() if m is not None})
        if len(parts) < batch:
            break
    return f"training: {recorded} session(s) recorded; promoted: {', '.join(promoted) or 'nobody'}"


def _memberships_for(parts: list[SessionParticipant]) -> dict[int, PoolMembership | None]:
    """Participant id -> the membership its session counts toward (module docstring), in two queries."""
    template_ids = {p.session.template_id for p in parts if p.session.template_id}
    pools_of: dict[int, set[int]] = defaultdict(set)
    for template_id, pool_id in Role.objects.filter(session_id__in=template_ids, kind=Role.Kind.POOL) \
            .values_list("session_id", "pool_id"):
        pools_of[template_id].add(pool_id)
    mine: dict[int, list[PoolMembership]] = defaultdict(list)
    for m in PoolMembership.objects.filter(interviewer_id__in={p.interviewer_id for p in parts}).order_by("pk"):
        mine[m.interviewer_id].append(m)
    out: dict[int, PoolMembership | None] = {}
    for p in parts:
        template_id = p.session.template_id
        options = [m for m in mine[p.interviewer_id] if template_id is None or m.pool_id in pools_of[template_id]]
        exact = [m for m in options if m.training == p.part]
        learning = [m for m in options if m.training != Training.TRAINED]
        if template_id is None:  # the plan's session was deleted: only an unambiguous match counts
            out[p.pk] = exact[0] if len(exact) == 1 else None
        else:
            out[p.pk] = (exact or learning or [None])[0]
    return out


def memberships_promote(*, membership_ids: set[int]) -> list[str]:
    """Move each membership that has enough recorded sessions on, once. Returns one line per move."""
    if not membership_ids:
        return []
    counts: dict[tuple[int, str], int] = {
        (row["membership_id"], row["kind"]): row["n"]
        for row in TrainingSession.objects.filter(membership_id__in=membership_ids)
        .values("membership_id", "kind").annotate(n=Count("id"))}
    lines = []
    for m in PoolMembership.objects.filter(pk__in=membership_ids).select_related("pool", "interviewer") \
            .order_by("pk"):
        while m.training in _NEXT:
            to, required_field, kind = _NEXT[m.training]
            done, required = counts.get((m.pk, kind), 0), getattr(m.pool, required_field)
            if done < required:
                break
            won = PoolMembership.objects.filter(pk=m.pk, training=m.training).update(training=to)
            if not won:
                break  # another worker moved it first, and told everyone
            old, m.training = m.training, to
            _announce(m, old=old, done=done, kind=kind)
            lines.append(f"membership #{m.pk} {old} -> {to}")
    return lines


def _announce(m: PoolMembership, *, old: str, done: int, kind: str) -> None:
    what = "shadow" if kind == TrainingSession.Kind.SHADOW else "reverse-shadow"
    audit_log(action="training.promoted", obj=m, actor_label="worker",
              summary=f"interviewer #{m.interviewer_id} in pool #{m.pool_id}: {old} -> {m.training} after "
                      f"{done} {what} session(s)")
    last = (TrainingSession.objects.filter(membership=m, kind=kind)
            .select_related("session__interview__request__coordinator",
                            "session__interview__request__plan__requisition__coordinator",
                            "session__interview__request__plan__requisition__ats_connection",
                            "session__interview__request__application__ats_connection")
            .order_by("-completed_at", "-id").first())
    recipients = coordinator_emails(last.session.interview.request) if last is not None else fallback_emails()
    if m.training == Training.TRAINED:
        now_what = "is now fully trained: they sit sessions of this pool on their own"
    else:
        now_what = ("is now a reverse shadow: in plans that allow it, they lead sessions of this pool while a "
                    "trained member watches")
    try:
        url = reverse("admin:scheduling_poolmembership_change", args=[m.pk])
    except NoReverseMatch:
        url = ""
    notify(kind="training.promoted", obj=m, recipients=recipients,
           subject=f"{m.interviewer.name} moved on in {m.pool.name}: {m.get_training_display()}",
           body=(f"{m.interviewer.name} has completed {done} {what} session(s) in the pool {m.pool.name} and "
                 f"{now_what}."),
           url=url)
