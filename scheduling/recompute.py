"""Keep the candidates' option sets current (issue #5): "the set is recomputed when the free/busy or the bookings
of the people involved change".

Two ways in:
- Events. A booking, reschedule or cancel (`scheduling.booking`) and a free/busy refresh that stored different
  busy times for a calendar (`integrations.calendars.freebusy.store_busy`) call `recompute_enqueue` with the
  people and rooms concerned; after commit a django-q2 task (`scheduling.tasks.recompute_options`, ids only)
  runs `options_recompute_for`, which re-solves every open request that can draw one of them.
- A catch-all (`options_recompute_stale`, every 5 minutes): a request whose options are older than the newest
  busy block or booking of the people and rooms its plan can draw is re-solved. It covers a lost task message.

Choices where the issue leaves room:
- "Involved" means what the plan can draw (pool members, fixed interviewers, rooms, including "any room"),
  plus whoever the stored options name: freed time can add options with people the old set did not name.
- Open requests are those a candidate or a coordinator looks at through the stored set: waiting for approval,
  waiting for the candidate, and booked with a live interview still ahead (the reschedule page offers the set).
  An expired request is left alone: regenerating its link re-solves it.
- A re-solve never moves a request. When it leaves no option, the empty set is kept (the portal offers "no
  time suits; propose your own") and the coordinator is told once (notify's hourly throttle folds repeats);
  only a set that goes from some options to none tells them.
- Work is bounded: each call stops after `budget_seconds` and queues the requests it did not reach as one more
  task (`scheduling.tasks.recompute_request_options`), oldest option sets first.
- The catch-all reads FreeBusyBlock.fetched_at, which `store_busy` leaves alone for a calendar whose busy
  times did not change, so "newer blocks" means "changed busy". A calendar whose blocks all went away leaves
  no newer row: freed time is the event path's job (the dangerous direction, new busy time, is caught here, and
  booking re-checks every option anyway).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max, Q, TextField
from django.db.models.functions import Cast
from django_q.tasks import async_task

from scheduling import clock
from scheduling.engine import ProblemError
from scheduling.links import request_admin_url
from scheduling.models import (
    FreeBusyBlock,
    Interviewer,
    InterviewPlan,
    PoolMembership,
    Role,
    Room,
    ScheduledInterview,
    SchedulingRequest,
    SessionParticipant,
)
from scheduling.notifications import coordinator_emails, notify

__all__ = ["OPEN_STATES", "RECOMPUTE_BUDGET", "plan_resources", "requests_involving", "recompute_enqueue",
           "options_recompute", "options_recompute_for", "options_recompute_stale"]

logger = logging.getLogger(__name__)

S = SchedulingRequest.State
OPEN_STATES = (S.PENDING_APPROVAL, S.AWAITING_CANDIDATE, S.BOOKED)
RECOMPUTE_BUDGET = 30.0  # seconds of solving per task run; well below Q_CLUSTER["timeout"]


@dataclass(frozen=True)
class PlanResources:
    interviewers: frozenset[int]
    rooms: frozenset[int]

    def calendars(self) -> list[int]:
        ids = list(Interviewer.objects.filter(pk__in=self.interviewers, calendar__isnull=False,
                                              availability_source=Interviewer.Source.CALENDAR)
                   .values_list("calendar_id", flat=True))
        return ids + list(Room.objects.filter(pk__in=self.rooms, calendar__isnull=False)
                          .values_list("calendar_id", flat=True))


def plan_resources(plan: InterviewPlan | int) -> PlanResources:
    """Every interviewer and room `plan` can draw: fixed interviewers, pool members of any training stage (shadows
    and reverse shadows sit too), and the rooms of room roles (every active room for a role that names none)."""
    plan_id = plan if isinstance(plan, int) else plan.pk
    roles = Role.objects.filter(session__plan_id=plan_id)
    people = set(roles.filter(kind=Role.Kind.INTERVIEWER).values_list("interviewer_id", flat=True))
    people |= set(PoolMembership.objects.filter(pool__roles__in=roles.filter(kind=Role.Kind.POOL))
                  .values_list("interviewer_id", flat=True))
    rooms = set(roles.filter(kind=Role.Kind.ROOM, rooms__isnull=False).values_list("rooms", flat=True))
    if roles.filter(kind=Role.Kind.ROOM, rooms__isnull=True).exists():
        rooms |= set(Room.objects.filter(active=True).values_list("pk", flat=True))
    return PlanResources(frozenset(people - {None}), frozenset(rooms - {None}))


def _open_requests():
    live_ahead = Q(state=S.BOOKED, interviews__state=ScheduledInterview.State.ACTIVE,
                   interviews__start__gt=clock.now())
    return (SchedulingRequest.objects.filter(options_computed_at__isnull=False)
            .filter(Q(state__in=[S.PENDING_APPROVAL, S.AWAITING_CANDIDATE]) | live_ahead))


def _plans_drawing(people: set[int], rooms: set[int]) -> set[int]:
    """Ids of the plans that can draw one of these interviewers or rooms: `plan_resources`' rule, asked of the
    database in one query instead of plan by plan."""
    q = Q()
    if people:
        q |= Q(kind=Role.Kind.INTERVIEWER, interviewer_id__in=people)
        q |= Q(kind=Role.Kind.POOL, pool__memberships__interviewer_id__in=people)
    if rooms:
        q |= Q(kind=Role.Kind.ROOM, rooms__in=rooms)
        if Room.objects.filter(pk__in=rooms, active=True).exists():  # a role naming no room draws every active one
            q |= Q(kind=Role.Kind.ROOM, rooms__isnull=True)
    return set(Role.objects.filter(q).values_list("session__plan_id", flat=True).distinct())


def requests_involving(*, interviewer_ids: Iterable[int] = (), room_ids: Iterable[int] = (),
                       computed_by: dt.datetime | None = None) -> list[int]:
    """Ids of the open requests (OPEN_STATES, with a stored set) whose plan can draw, or whose stored options name,
    one of these interviewers or rooms; oldest option sets first. With `computed_by`, only the sets computed at or
    before that instant (a set solved later already saw the change).

    One query: the plans come from `_plans_drawing`, and the names are looked for in the stored options' JSON
    text (ids are written as quoted strings, "i12" or "r3", so a quoted match is exact). Reading and decoding
    every open request's options in Python instead took 6.5 s per booking with 2,000 open requests (measured
    by `bench_morning`), which made the recompute after each booking the whole queue's bottleneck."""
    people, rooms = set(interviewer_ids), set(room_ids)
    if not people and not rooms:
        return []
    named = Q()
    for rid in [f"i{p}" for p in sorted(people)] + [f"r{r}" for r in sorted(rooms)]:
        named |= Q(options_text__contains=f'"{rid}"')
    found = _open_requests()
    if computed_by is not None:
        found = found.filter(options_computed_at__lte=computed_by)
    return list(found.annotate(options_text=Cast("options", TextField()))
                .filter(Q(plan_id__in=_plans_drawing(people, rooms)) | named)
                .distinct().order_by("options_computed_at", "pk").values_list("pk", flat=True))


def recompute_enqueue(*, interviewer_ids: Iterable[int] = (), room_ids: Iterable[int] = (), reason: str) -> None:
    """After the current transaction commits, queue `scheduling.tasks.recompute_options` for these people and
    rooms (ids only). A broker failure is logged: the catch-all re-solves what it misses."""
    people, rooms = sorted(set(interviewer_ids)), sorted(set(room_ids))
    if not people and not rooms:
        return

    def enqueue() -> None:
        # After the commit: a set solved from this instant on sees the change, and the task skips it.
        changed_at = clock.now().isoformat()
        try:
            async_task("scheduling.tasks.recompute_options", people, rooms, reason, changed_at, group="recompute",
                       task_name=f"recompute options: {reason}"[:100])
        except Exception as e:  # noqa: BLE001 - a broker hiccup only delays the work: the catch-all re-solves
            logger.warning("could not queue an options recompute (%s): %s", reason, type(e).__name__)

    transaction.on_commit(enqueue)


def options_recompute_for(*, interviewer_ids: Iterable[int] = (), room_ids: Iterable[int] = (), reason: str,
                          budget_seconds: float = RECOMPUTE_BUDGET, changed_at: dt.datetime | None = None) -> int:
    """Re-solve the open requests involving these interviewers or rooms (`requests_involving`); returns how many
    were re-solved. Those left when the budget runs out are queued as a follow-up task.

    `changed_at` (when the change committed) makes repeated work collapse: a set solved after it already saw the
    change and is skipped. During a burst of bookings the tasks queue up behind each other; the first to run
    re-solves each involved request once, from a database that holds every booking committed so far, and the
    tasks queued for those bookings find nothing left to do (measured by `bench_morning`: one re-solve per
    booking and involved request made the recomputes the queue's bottleneck)."""
    ids = requests_involving(interviewer_ids=interviewer_ids, room_ids=room_ids, computed_by=changed_at)
    return options_recompute(request_ids=ids, reason=reason, budget_seconds=budget_seconds, changed_at=changed_at)


def options_recompute(*, request_ids: list[int], reason: str, budget_seconds: float = RECOMPUTE_BUDGET,
                      changed_at: dt.datetime | None = None) -> int:
    """Re-solve these requests (each if still open, and with `changed_at`, if its set is not newer) in order until
    the budget runs out; queue the rest as `scheduling.tasks.recompute_request_options`. Returns how many were
    re-solved."""
    started = time.monotonic()
    done = 0
    for i, pk in enumerate(request_ids):
        if done and time.monotonic() - started > budget_seconds:
            rest = list(request_ids[i:])
            logger.info("options recompute (%s): budget spent, %d request(s) queued for the next run", reason,
                        len(rest))
            try:
                async_task("scheduling.tasks.recompute_request_options", rest, reason,
                           changed_at.isoformat() if changed_at else None, group="recompute",
                           task_name=f"recompute options (rest): {reason}"[:100])
            except Exception as e:  # noqa: BLE001 - the catch-all re-solves them later
                logger.warning("could not queue the rest of an options recompute: %s", type(e).__name__)
            break
        if _resolve_one(pk, reason=reason, changed_at=changed_at):
            done += 1
    return done


def _resolve_one(pk: int, *, reason: str, changed_at: dt.datetime | None = None) -> bool:
    # booking imports this module (to enqueue after a booking): import it when first used.
    from scheduling.booking import request_solve

    found = _open_requests().filter(pk=pk)
    if changed_at is not None:  # another worker may have re-solved it since the list was made
        found = found.filter(options_computed_at__lte=changed_at)
    request = (found.select_related(
        "coordinator", "plan__requisition__coordinator", "plan__requisition__ats_connection",
        "application__candidate", "application__ats_connection").first())
    if request is None:  # booked far ahead, cancelled or completed meanwhile
        return False
    had = bool(request.options)
    try:
        result = request_solve(request=request)
    except ProblemError as e:
        logger.warning("options recompute of request #%s: the plan cannot be solved: %s", pk, e)
        return False
    if had and not result["options"]:
        _tell_no_options(request, result["words"], reason)
    return True


def _tell_no_options(request: SchedulingRequest, words: list[str], reason: str) -> None:
    notify(kind="request.options_gone", obj=request, recipients=coordinator_emails(request),
           subject=f"Request #{request.pk} has no bookable time left",
           body=(f"After a change in the calendars or bookings of its interviewers ({reason}), Loopwise found no "
                 f"time left to offer for request #{request.pk} ({request.plan}). The candidate's page now "
                 "shows no times and invites them to propose their own.\n\nWhy:\n"
                 + "\n".join(f"- {w}" for w in words)
                 + "\n\nFree some time or widen the plan; the times come back on their own once they exist."),
           url=request_admin_url(request))


def options_recompute_stale(*, budget_seconds: float = RECOMPUTE_BUDGET) -> str:
    """The catch-all: re-solve open requests whose options were computed before the newest busy block fetched
    for, or the newest interview booked with, the people and rooms their plan can draw; oldest sets first."""
    freshest: dict[int, dt.datetime | None] = {}
    due = []
    for pk, plan_id, computed in (_open_requests().distinct().order_by("options_computed_at", "pk")
                                  .values_list("pk", "plan_id", "options_computed_at")):
        if plan_id not in freshest:
            freshest[plan_id] = _last_change(plan_resources(plan_id))
        if freshest[plan_id] is not None and computed < freshest[plan_id]:
            due.append(pk)
    done = options_recompute(request_ids=due, reason="catch-all", budget_seconds=budget_seconds)
    return f"{done} of {len(due)} stale option set(s) re-solved"


def _last_change(res: PlanResources) -> dt.datetime | None:
    busy = FreeBusyBlock.objects.filter(calendar_id__in=res.calendars()).aggregate(m=Max("fetched_at"))["m"]
    booked = ScheduledInterview.objects.filter(
        Q(pk__in=SessionParticipant.objects.filter(interviewer_id__in=res.interviewers)
          .values("session__interview_id"))
        | Q(sessions__room_id__in=res.rooms)).aggregate(m=Max("created_at"))["m"]
    return max((t for t in (busy, booked) if t is not None), default=None)
