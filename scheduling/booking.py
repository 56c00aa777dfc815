"""Self-scheduling services (issue #5): solve a request, send its link, book, reschedule and cancel.

Booking cannot double-book. `interview_book` works in three steps:
1. Outside any lock, refresh the free/busy of the option's people and rooms (budget REFRESH_BUDGET seconds).
   If the provider fails, the cache is used when it is younger than twice FREEBUSY_MAX_AGE; otherwise the
   candidate is told to try again in a minute (`retry_later`) and the attempt is audited.
2. In one transaction: advisory locks (`lock_names`, sorted) on every person and room of the option and on the
   request; the problem is rebuilt from the database (Loopwise's own sessions included) and the exact option
   re-checked with `scheduling.engine.check`. If it no longer holds, the request is re-solved after the
   transaction and the fresh options are returned: not an error.
3. Still in that transaction: the ScheduledInterview, an InterviewSession per session that is not a break, a
   SessionParticipant per person (busy until the session's end plus their buffer), the request's move to
   `booked`, and the outbox items: the calendar events, ICS invitations for outside interviewers, and the
   candidate's confirmation (held back up to VIDEO_WAIT for the video link). After commit, the open requests
   that can draw the option's people and rooms (and those a reschedule or cancel frees) are re-solved
   (`scheduling.recompute`).
The database has the last word: exclusion constraints (migration 0003, PostgreSQL) refuse overlapping live
rows of one person or room; an IntegrityError there is a lost race and ends like a failed check. On SQLite
every transaction starts with BEGIN IMMEDIATE, so step 2 runs one booking at a time.

Choices where the issue leaves room:
- Idempotent per request: an option identical (start and sessions) to the live booking's returns that booking,
  before and after taking the locks, so a double click, a reload or a retried POST book once.
- A candidate may book only an option of the request's stored set (the portal looks it up with
  `option_for_start`); anything else answers the stored options as fresh ones. Staff (book for the candidate,
  book from a proposed window) may book any option that passes the check.
- The re-check's window starts at the option's own start, so the step grid is that of the option set it came
  from, whatever hour the check runs; the notice, busy times, caps and working hours are checked as of now.
- A reschedule books a new ScheduledInterview (revision + 1) and supersedes the live one in the same
  transaction: its sessions and participants stop being live, its events are cancelled through the outbox,
  and outside interviewers who no longer sit anything get a CANCEL. The candidate gets one "moved" email whose
  ICS updates the same calendar entry.
- `interview_book` on a booked request with another option is a reschedule (same cut-off for candidates);
  staff bookings and cancellations ignore the cut-off.
- Booking extends the active link to the interview's start when it would expire earlier, so the link that
  booked can also reschedule and cancel.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import zoneinfo
from dataclasses import dataclass
from functools import cache

from django.db import IntegrityError, OperationalError, transaction

from integrations.ats.writeback import ats_writeback_enqueue
from integrations.calendars.freebusy import freebusy_refresh, is_fresh, max_age
from integrations.calendars.writer import (
    VIDEO_WAIT,
    calendar_cancel_enqueue,
    calendar_write_enqueue,
    invites_enqueue,
    organiser_connection,
)
from integrations.models import Calendar, Health
from integrations.webhooks import events as webhooks
from scheduling import clock
from scheduling.audit import audit_log
from scheduling.candidate_mail import candidate_mail_enqueue, interview_schedule
from scheduling.engine import ProblemError, check, solve
from scheduling.errors import (
    ChangesClosed,
    EmailNotSent,
    InvalidTransition,
    InvalidWindows,
    NotBookable,
    NothingToOffer,
)
from scheduling.links import (
    link_issue,
    link_request_new,
    link_resolve,
    link_send,
    link_touch,
    request_admin_url,
)
from scheduling.locks import lock_names
from scheduling.models import (
    Interviewer,
    InterviewSession,
    ProposedWindow,
    Room,
    ScheduledInterview,
    SchedulingLink,
    SchedulingRequest,
    SessionParticipant,
)
from scheduling.notifications import coordinator_emails, notify
from scheduling.problem_builder import BuiltProblem, problem_build
from scheduling.recompute import recompute_enqueue
from scheduling.services import request_move

__all__ = ["BookingResult", "MAX_OPTIONS", "REFRESH_BUDGET", "request_solve", "request_start", "request_approve",
           "link_issue", "link_send", "link_regenerate", "link_resolve", "link_touch", "link_request_new",
           "option_for_start", "candidate_schedule", "live_interview", "interview_book", "interview_reschedule",
           "interview_cancel", "proposed_windows_add", "book_from_window", "diagnostics_in_words"]

logger = logging.getLogger(__name__)

S = SchedulingRequest.State
MAX_OPTIONS = 5000
REFRESH_BUDGET = 5.0  # seconds for step 1's free/busy refresh
WINDOWS_MAX = 10
WINDOWS_HORIZON = dt.timedelta(days=62)
_RACE_STATES = ("40P01", "40001")  # PostgreSQL: deadlock detected, serialization failure
BOOKABLE = frozenset({S.NEW, S.PENDING_APPROVAL, S.AWAITING_CANDIDATE, S.NEEDS_ATTENTION, S.EXPIRED, S.BOOKED})

MSG_BOOKED = "Your interview is booked."
MSG_ALREADY = "This time is already booked for you."
MSG_TAKEN = "That time has just been taken. Here are the times still available."
MSG_CHANGED = "The times on offer have changed. Please choose again."
MSG_RETRY = "We could not check the interviewers' calendars just now. Please try again in a minute."


@dataclass(frozen=True)
class BookingResult:
    """What a booking attempt came to: `interview` when booked (or already booked on that option);
    `fresh_options` when the option no longer holds (the request's re-solved options, possibly empty);
    `retry_later` when calendars could not be read; `message` says it in a sentence for the candidate."""

    interview: ScheduledInterview | None
    fresh_options: list[dict] | None
    retry_later: bool
    message: str


# ---------------------------------------------------------------------------------------------------------------
# Reading


def _fresh(request: SchedulingRequest) -> SchedulingRequest:
    return SchedulingRequest.objects.select_related(
        "coordinator", "plan__requisition__coordinator", "plan__requisition__ats_connection",
        "application__candidate", "application__ats_connection").get(pk=request.pk)


def live_interview(request: SchedulingRequest) -> ScheduledInterview | None:
    return ScheduledInterview.objects.filter(request=request, state=ScheduledInterview.State.ACTIVE).first()


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _candidate_zone_name(request: SchedulingRequest) -> str:
    for name in (request.candidate_timezone, request.application.candidate.timezone):
        if name and name in _zones():
            return name
    return ""


def _parse(instant: str) -> dt.datetime:
    return dt.datetime.fromisoformat(instant.replace("Z", "+00:00"))


def option_for_start(*, request: SchedulingRequest, start: str) -> dict | None:
    """The stored option that starts at `start` (ISO 8601 with an offset, any zone), or None."""
    try:
        wanted = _parse(start)
    except (TypeError, ValueError):
        return None
    if wanted.tzinfo is None:
        return None
    for option in request.options or []:
        try:
            if _parse(option["start"]) == wanted:
                return option
        except (KeyError, TypeError, ValueError):
            continue
    return None


def candidate_schedule(*, request: SchedulingRequest) -> list[dict]:
    """The live interview as the candidate sees it (see `scheduling.candidate_mail.interview_schedule`): each
    session's name, start and end (aware, UTC), break or not, interviewers' first names and titles when the
    plan shows them, room and video link. Empty when nothing is booked."""
    interview = live_interview(request)
    if interview is None:
        return []
    return interview_schedule(interview, show_names=request.plan.show_interviewer_names)


# ---------------------------------------------------------------------------------------------------------------
# Solving and starting


def request_solve(*, request: SchedulingRequest, now: dt.datetime | None = None) -> dict:
    """Solve the request's plan as the database stands (a booked request's own interview left out, so that it
    can move), store options, diagnostics, truncation and time on the request, and return the engine's result
    with one more key, `words`: the diagnostics as sentences with names (`diagnostics_in_words`)."""
    now = now or clock.now()
    built = problem_build(plan=request.plan, now=now, candidate_timezone=_candidate_zone_name(request),
                          exclude_interview=live_interview(request), max_options=MAX_OPTIONS)
    result = solve(built.problem)
    SchedulingRequest.objects.filter(pk=request.pk).update(
        options=result["options"], diagnostics=result["diagnostics"], options_truncated=result["truncated"],
        options_computed_at=now)
    request.options, request.diagnostics = result["options"], result["diagnostics"]
    request.options_truncated, request.options_computed_at = result["truncated"], now
    result["words"] = diagnostics_in_words(result["diagnostics"], built)
    return result


def _names(ids: list[str], built: BuiltProblem) -> str:
    names = []
    for rid in ids:
        thing = built.interviewers.get(rid) or built.rooms.get(rid)
        names.append(thing.name if thing is not None else rid)
    return ", ".join(names) or "nobody"


def diagnostics_in_words(diagnostics: list[dict], built: BuiltProblem) -> list[str]:
    """One sentence per diagnostic, with people's, rooms' and sessions' names (built from `code`,
    `session` and `resources`, never from the engine's `message`)."""
    out = []
    for d in diagnostics:
        who = _names(d.get("resources") or [], built)
        template = built.sessions.get(d.get("session") or "")
        session = f"'{template.name}'" if template is not None else "the loop"
        out.append({
            "calendar_unknown": f"The calendars of {who} could not be read, so they are left out of every option; "
                                f"fix their calendar connection.",
            "no_working_hours": f"No one who can sit {session} ({who}) has working hours that fit it in the window.",
            "busy": f"{who} are busy whenever {session} could take place.",
            "cap_day": f"{who} reach their daily interview limit on every day {session} could take place.",
            "cap_week": f"{who} reach their weekly interview limit in every week {session} could take place.",
            "notice": "The plan's minimum notice leaves no start time in the window.",
            "window": "The loop does not fit in the plan's window.",
            "candidate_window": "No start time fits inside the candidate's available times.",
            "pool_too_small": f"The pool for {session} has too few people ({who}).",
            "no_common_time": f"{who} are never free together for {session}.",
        }.get(d.get("code"), f"{d.get('code')}: {who} ({session})."))
    return out


def _plan_calendars(request: SchedulingRequest, now: dt.datetime) -> list[Calendar]:
    built = problem_build(plan=request.plan, now=now, max_options=1)
    ids = [p.calendar_id for p in built.interviewers.values()
           if p.availability_source == Interviewer.Source.CALENDAR and p.calendar_id]
    ids += [r.calendar_id for r in built.rooms.values() if r.calendar_id]
    return list(Calendar.objects.filter(pk__in=ids, connection__active=True).select_related("connection"))


def request_start(*, request: SchedulingRequest, actor=None) -> SchedulingRequest:
    """Start a new request (or retry one that needs attention): refresh the calendars of the plan's people and
    rooms that are not fresh, solve, then: no options -> `needs_attention` and the coordinator is told why
    (never the candidate); options -> `pending_approval` when the plan wants approval, else the link is emailed
    and the request waits for the candidate. A link email that cannot be sent -> `needs_attention` too."""
    request = _fresh(request)
    if request.state not in (S.NEW, S.NEEDS_ATTENTION):
        raise NotBookable(f"request #{request.pk} is {request.state}: it has been started already",
                          {"request_id": request.pk, "state": request.state})
    webhooks.emit_request_created(request=request)  # issue #10: once per request (keyed), whichever door made it
    now = clock.now()
    stale = [c for c in _plan_calendars(request, now) if not is_fresh(c, now=now)]
    if stale:
        _refresh_safely(stale)
    try:
        result = request_solve(request=request)
    except ProblemError as e:  # the plan itself cannot be solved (e.g. no sessions): a person must fix it
        _needs_attention(request, actor=actor, cause="the plan cannot be solved",
                         subject=f"Request #{request.pk}: its plan cannot be scheduled",
                         body=(f"Loopwise cannot solve the plan of request #{request.pk} ({request.plan}): "
                               f"{e}. The candidate has not been contacted. Fix the plan, then start the request "
                               "again."))
        return request
    if not result["options"]:
        _needs_attention(request, actor=actor, cause="no bookable time",
                         subject=f"Request #{request.pk} has no bookable time",
                         body=(f"Loopwise found no time to offer for request #{request.pk} "
                               f"({request.plan}). The candidate has not been contacted.\n\nWhy:\n"
                               + "\n".join(f"- {w}" for w in result["words"])
                               + "\n\nFix what blocks it, then start the request again."))
        return request
    if request.plan.requires_approval:
        request_move(request=request, to=S.PENDING_APPROVAL, cause="times found; waiting for approval", actor=actor)
        notify(kind="request.approval_needed", obj=request, recipients=coordinator_emails(request),
               subject=f"Request #{request.pk} is waiting for your approval",
               body=(f"Loopwise found {len(result['options'])} start times for request #{request.pk} "
                     f"({request.plan}). Approve it to email the candidate their link."),
               url=request_admin_url(request))
        return request
    token = link_issue(request=request, actor=actor)
    try:
        link_send(request=request, token=token)
    except EmailNotSent:
        _needs_attention(request, actor=actor, cause="the link email could not be sent",
                         subject=f"Request #{request.pk}: the scheduling link could not be emailed",
                         body=(f"The mail server did not take the scheduling link for request #{request.pk}. "
                               "Use 'Regenerate the link' on the request to send a new one."))
        return request
    request_move(request=request, to=S.AWAITING_CANDIDATE, cause="link sent", actor=actor)
    return request


def _needs_attention(request: SchedulingRequest, *, actor, cause: str, subject: str, body: str) -> None:
    if request.state != S.NEEDS_ATTENTION:
        request_move(request=request, to=S.NEEDS_ATTENTION, cause=cause, actor=actor)
    notify(kind="request.needs_attention", obj=request, recipients=coordinator_emails(request), subject=subject,
           body=body, url=request_admin_url(request))


def _refresh_safely(calendars: list[Calendar]) -> None:
    try:
        freebusy_refresh(calendars=calendars, budget_seconds=REFRESH_BUDGET)
    except Exception as e:  # noqa: BLE001 - a provider failure leaves the cache as it was; callers judge its age
        logger.warning("free/busy refresh of %d calendars failed: %s", len(calendars), type(e).__name__)


def request_approve(*, request: SchedulingRequest, actor) -> None:
    """Approve a request waiting for approval: re-solve (time has passed), email the link, and wait for the
    candidate. Raises InvalidTransition when the request is not waiting for approval, NothingToOffer (after
    moving it to `needs_attention`) when no time is left, EmailNotSent when the link could not be emailed
    (the request stays waiting for approval)."""
    request = _fresh(request)
    if request.state != S.PENDING_APPROVAL:
        raise InvalidTransition(request.state, S.AWAITING_CANDIDATE)
    result = request_solve(request=request)
    if not result["options"]:
        request_move(request=request, to=S.NEEDS_ATTENTION, cause="no bookable time left at approval", actor=actor)
        raise NothingToOffer(f"request #{request.pk} has no bookable time left: " + " ".join(result["words"]),
                             {"request_id": request.pk})
    token = link_issue(request=request, actor=actor)
    link_send(request=request, token=token)
    request_move(request=request, to=S.AWAITING_CANDIDATE, cause="approved; link sent", actor=actor)


def link_regenerate(*, request: SchedulingRequest, actor) -> str:
    """Revoke the request's link and email a new one; returns the new raw token. A request that is not booked
    is re-solved first (NothingToOffer if no time is left) and, from `new`, `needs_attention` or `expired`,
    waits for the candidate again. Raises NotBookable for closed requests and for one waiting for approval
    (approving sends the link), EmailNotSent when the email failed (the old link stays revoked)."""
    request = _fresh(request)
    if request.state in (S.CANCELLED, S.COMPLETED):
        raise NotBookable(f"request #{request.pk} is {request.state}", {"request_id": request.pk})
    if request.state == S.PENDING_APPROVAL:
        raise NotBookable(f"request #{request.pk} is waiting for approval: approving it sends the link",
                          {"request_id": request.pk})
    if request.state != S.BOOKED:
        result = request_solve(request=request)
        if not result["options"]:
            raise NothingToOffer(f"request #{request.pk} has no bookable time: " + " ".join(result["words"]),
                                 {"request_id": request.pk})
    token = link_issue(request=request, actor=actor)
    link_send(request=request, token=token)
    if request.state in (S.NEW, S.NEEDS_ATTENTION, S.EXPIRED):
        request_move(request=request, to=S.AWAITING_CANDIDATE, cause="new link sent", actor=actor)
    return token


# ---------------------------------------------------------------------------------------------------------------
# Booking


@dataclass
class _Locked:
    interview: ScheduledInterview | None = None
    already: bool = False
    problems: list[str] | None = None


def _same_option(interview: ScheduledInterview, option: dict) -> bool:
    booked = interview.option or {}
    return bool(booked) and booked.get("start") == option.get("start") \
        and booked.get("sessions") == option.get("sessions")


def _offered(request: SchedulingRequest, option: dict) -> bool:
    return any(isinstance(o, dict) and o.get("start") == option.get("start")
               and o.get("sessions") == option.get("sessions") for o in request.options or [])


def _resource_pks(option: dict) -> tuple[set[int], set[int]]:
    """(interviewer pks, room pks) named anywhere in the option; ids that are not ours are ignored here (the
    check reports them)."""
    people: set[int] = set()
    rooms: set[int] = set()
    for session in option.get("sessions") or []:
        for ids in (session.get("roles") or []) if isinstance(session, dict) else []:
            for rid in ids if isinstance(ids, list) else []:
                if isinstance(rid, str) and len(rid) > 1 and rid[1:].isdigit() and rid[0] in "ir":
                    (people if rid[0] == "i" else rooms).add(int(rid[1:]))
    return people, rooms


def _ensure_open(request: SchedulingRequest) -> None:
    if request.state not in BOOKABLE:
        raise NotBookable(f"request #{request.pk} is {request.state}: it can no longer be booked",
                          {"request_id": request.pk, "state": request.state})


def _ensure_before_cutoff(request: SchedulingRequest, live: ScheduledInterview, now: dt.datetime) -> None:
    hours = request.plan.reschedule_cutoff_hours
    if live.start - now < dt.timedelta(hours=hours):
        raise ChangesClosed(f"the interview starts in less than {hours} hours: it can no longer be changed here; "
                            "please contact the recruiting team", {"request_id": request.pk, "cutoff_hours": hours})


def _calendars_stale(people: set[int], rooms: set[int]) -> bool:
    """Step 1: refresh the calendars of these people and rooms; True when one of them could not be read and its
    cache is too old to book from. A calendar known to be broken (red) is not stale: the check leaves its
    owner out, and the candidate gets fresh options instead of a retry that cannot help."""
    ids = list(Interviewer.objects.filter(pk__in=people, availability_source=Interviewer.Source.CALENDAR,
                                          calendar__isnull=False).values_list("calendar_id", flat=True))
    ids += list(Room.objects.filter(pk__in=rooms, calendar__isnull=False).values_list("calendar_id", flat=True))
    calendars = list(Calendar.objects.filter(pk__in=ids, connection__active=True).select_related("connection"))
    if not calendars:
        return False
    _refresh_safely(calendars)
    oldest = clock.now() - 2 * max_age()
    for cal in Calendar.objects.filter(pk__in=[c.pk for c in calendars]).select_related("connection"):
        if cal.busy_fetched_at is not None and cal.busy_fetched_at >= oldest:
            continue
        if cal.health == Health.RED or cal.connection.health == Health.RED:
            continue
        return True
    return False


def interview_book(*, request: SchedulingRequest, option: dict, actor_label: str = "candidate",
                   actor=None) -> BookingResult:
    """Book `option` for `request` (see the module docstring for the three steps). A booked request is
    rescheduled (the cut-off applies to candidates); booking the option it is already booked on returns that
    interview. Raises NotBookable for a cancelled or completed request, ChangesClosed after the cut-off."""
    return _book(request=request, option=option, actor_label=actor_label, actor=actor, reschedule=False)


def interview_reschedule(*, request: SchedulingRequest, option: dict, actor_label: str = "candidate",
                         actor=None) -> BookingResult:
    """Move the live booking to `option`. Candidates may do so until `plan.reschedule_cutoff_hours` before the
    interview (ChangesClosed after); NotBookable when nothing is booked."""
    return _book(request=request, option=option, actor_label=actor_label, actor=actor, reschedule=True)


def _book(*, request: SchedulingRequest, option: dict, actor_label: str, actor, reschedule: bool,
          staff: bool | None = None) -> BookingResult:
    staff = actor_label != "candidate" if staff is None else staff
    request = _fresh(request)
    if not isinstance(option, dict):
        return BookingResult(None, list(request.options or []), False, MSG_CHANGED)
    live = live_interview(request)
    if live is not None and _same_option(live, option):
        return BookingResult(live, None, False, MSG_ALREADY)
    _ensure_open(request)
    if reschedule and live is None:
        raise NotBookable(f"request #{request.pk} has no booking to move", {"request_id": request.pk})
    if live is not None and not staff:
        _ensure_before_cutoff(request, live, clock.now())
    if not staff and not _offered(request, option):
        return BookingResult(None, list(request.options or []), False, MSG_CHANGED)
    people, rooms = _resource_pks(option)

    # Step 1: outside any lock.
    if _calendars_stale(people, rooms):
        audit_log(action="booking.retry_later", obj=request, actor=actor, actor_label=actor_label,
                  summary=f"calendars unreadable and cache older than {2 * max_age()}; option {option.get('start')}")
        return BookingResult(None, None, True, MSG_RETRY)

    # Steps 2 and 3: one transaction.
    names = [f"interviewer:{pk}" for pk in people] + [f"room:{pk}" for pk in rooms] + [f"request:{request.pk}"]
    try:
        with transaction.atomic():
            lock_names(names)
            outcome = _book_locked(request=request, option=option, actor_label=actor_label, actor=actor,
                                   staff=staff)
    except (IntegrityError, OperationalError) as e:
        # The exclusion constraints saw an overlap the check did not (someone wrote without our locks), or two
        # such writers deadlocked on them: a lost race. Any other database error is not ours to hide.
        if isinstance(e, OperationalError) and getattr(e.__cause__, "sqlstate", None) not in _RACE_STATES:
            raise
        logger.warning("booking of request #%s lost a race in the database: %s", request.pk, type(e).__name__)
        outcome = _Locked(problems=["the database refused an overlapping booking"])
    if outcome.interview is not None:
        return BookingResult(outcome.interview, None, False, MSG_ALREADY if outcome.already else MSG_BOOKED)
    audit_log(action="booking.stale", obj=request, actor=actor, actor_label=actor_label,
              summary=f"option {option.get('start')} no longer holds: " + "; ".join(outcome.problems or [])[:200])
    request = _fresh(request)
    fresh = request_solve(request=request)
    return BookingResult(None, fresh["options"], False, MSG_TAKEN)


def _book_locked(*, request: SchedulingRequest, option: dict, actor_label: str, actor, staff: bool) -> _Locked:
    request = _fresh(request)  # as it stands under the locks
    live = live_interview(request)
    if live is not None and _same_option(live, option):
        return _Locked(interview=live, already=True)
    _ensure_open(request)
    now = clock.now()
    if live is not None and not staff:  # booked meanwhile (another tab): this is now a reschedule
        _ensure_before_cutoff(request, live, now)
    try:
        start, end = _parse(option["start"]), _parse(option["end"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return _Locked(problems=["the option has no valid start and end"])
    plan = request.plan
    span = max(dt.timedelta(days=plan.window_days), end - start + dt.timedelta(days=1))
    built = problem_build(plan=plan, now=now, window=(start, start + min(span, WINDOWS_HORIZON)),
                          exclude_interview=live, max_options=1)
    problems = check(built.problem, option)
    if problems:
        return _Locked(problems=problems)
    interview = _insert(request=request, option=option, built=built, previous=live, now=now)
    verb = "rescheduled" if live is not None else "booked"
    request_move(request=request, to=S.BOOKED, cause=f"{actor_label} {verb} a time", actor=actor)
    SchedulingRequest.objects.filter(pk=request.pk).update(booked_at=now)
    SchedulingLink.objects.filter(request=request, revoked_at__isnull=True, expires_at__lt=interview.start).update(
        expires_at=interview.start, extended=True)
    _enqueue_booking(interview=interview, previous=live)
    people, rooms = _resource_pks(option)
    if live is not None:  # a reschedule frees the old loop's people and rooms
        old_people, old_rooms = _resource_pks(live.option or {})
        people, rooms = people | old_people, rooms | old_rooms
    recompute_enqueue(interviewer_ids=people, room_ids=rooms, reason=f"request #{request.pk} {verb}")
    audit_log(action=f"interview.{verb}", obj=interview, actor=actor, actor_label=actor_label,
              summary=f"revision {interview.revision}, {interview.start:%Y-%m-%d %H:%M} UTC"
                      + (f", replacing interview #{live.pk}" if live is not None else ""))
    return _Locked(interview=interview)


def _retire(interview: ScheduledInterview, state: str) -> None:
    ScheduledInterview.objects.filter(pk=interview.pk).update(state=state)
    InterviewSession.objects.filter(interview=interview).update(active=False)
    SessionParticipant.objects.filter(session__interview=interview).update(active=False)
    interview.state = state


def _insert(*, request: SchedulingRequest, option: dict, built: BuiltProblem, previous: ScheduledInterview | None,
            now: dt.datetime) -> ScheduledInterview:
    if previous is not None:
        _retire(previous, ScheduledInterview.State.SUPERSEDED)
    last = ScheduledInterview.objects.filter(request=request).order_by("-revision").first()
    interview = ScheduledInterview.objects.create(
        request=request, revision=(last.revision + 1) if last else 1, start=_parse(option["start"]),
        end=_parse(option["end"]), option={k: option[k] for k in ("start", "end", "sessions")}, created_at=now)
    plan = request.plan
    for position, s in enumerate(option["sessions"]):
        template = built.sessions[s["id"]]
        if template.is_break:
            continue
        ids = [rid for role_ids in s["roles"] for rid in role_ids]
        rooms = [built.rooms[rid] for rid in ids if rid in built.rooms]
        session = InterviewSession.objects.create(
            interview=interview, template=template, position=position, name=template.name,
            start=_parse(s["start"]), end=_parse(s["end"]), room=rooms[0] if rooms else None)
        # Each contract role stands for a Role and a part (a reverse shadow's role is two: leads and overseer).
        for (_role, part), role_ids in zip(built.role_parts(s["id"]), s["roles"], strict=True):
            for rid in role_ids:
                person = built.interviewers.get(rid)
                if person is None:
                    continue
                buffer = person.buffer_minutes if person.buffer_minutes is not None else plan.buffer_minutes
                SessionParticipant.objects.create(session=session, interviewer=person, part=part,
                                                  busy_start=session.start,
                                                  busy_end=session.end + dt.timedelta(minutes=buffer))
    return interview


def _enqueue_booking(*, interview: ScheduledInterview, previous: ScheduledInterview | None) -> None:
    connection = organiser_connection()
    hold = clock.now() + VIDEO_WAIT if connection is not None else None
    if connection is not None:
        calendar_write_enqueue(interview=interview, connection=connection)
    else:
        audit_log(action="interview.no_calendar", obj=interview, actor_label="system",
                  summary="no calendar connection with an organiser calendar: no events written")
    if previous is not None:
        calendar_cancel_enqueue(interview=previous)
    invites_enqueue(interview=interview, previous=previous, not_before=hold)
    candidate_mail_enqueue(interview=interview, what="reschedule" if previous is not None else "confirmation",
                           not_before=hold)
    # The ATS hears of it too (a note, and the plan's next stage on a first booking): issue #6.
    ats_writeback_enqueue(interview=interview, what="rescheduled" if previous is not None else "booked",
                          not_before=hold)
    webhooks.emit_interview(interview=interview, previous=previous)  # issue #10: outbound webhooks


# ---------------------------------------------------------------------------------------------------------------
# Cancelling


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d\s().-]{6,}\d")


def _scrub(text: str) -> str:
    """Free text for a staff notice, without email addresses or phone numbers."""
    return _PHONE.sub("[number]", _EMAIL.sub("[email]", text or "")).strip()[:500]


def interview_cancel(*, request: SchedulingRequest, by: str, actor=None, reason: str = "") -> None:
    """Cancel the request and its live booking, if any: participants released, sessions no longer live, the
    interview and the request cancelled, the active link revoked; the outbox cancels the calendar events,
    sends outside interviewers a CANCEL and the candidate a cancellation with a METHOD:CANCEL ICS (same UID,
    SEQUENCE + 1). `by` is "candidate" (cut-off applies; the coordinator is told, with the reason), or who
    else cancelled ("coordinator", "ats", ...). Cancelling a cancelled request does nothing; a completed one
    raises NotBookable."""
    now = clock.now()
    with transaction.atomic():
        lock_names([f"request:{request.pk}"])
        request = _fresh(request)
        if request.state == S.CANCELLED:
            return
        if request.state not in BOOKABLE:
            raise NotBookable(f"request #{request.pk} is {request.state}: it cannot be cancelled",
                              {"request_id": request.pk, "state": request.state})
        live = live_interview(request)
        if by == "candidate":
            if live is None:
                raise NotBookable(f"request #{request.pk} has no booking to cancel", {"request_id": request.pk})
            _ensure_before_cutoff(request, live, now)
        if live is not None:
            _retire(live, ScheduledInterview.State.CANCELLED)
            calendar_cancel_enqueue(interview=live)
            invites_enqueue(interview=live, cancelled=True)
            candidate_mail_enqueue(interview=live, what="cancellation")
            ats_writeback_enqueue(interview=live, what="cancelled")
            webhooks.emit_interview_cancelled(interview=live, by=by)  # issue #10: outbound webhooks
            people, rooms = _resource_pks(live.option or {})
            recompute_enqueue(interviewer_ids=people, room_ids=rooms, reason=f"request #{request.pk} cancelled")
        request_move(request=request, to=S.CANCELLED, cause=f"cancelled by {by}"[:200], actor=actor)
        SchedulingLink.objects.filter(request=request, revoked_at__isnull=True).update(revoked_at=now)
        summary = f"cancelled by {by}" + (f", interview #{live.pk}" if live is not None else "")
        if reason and by != "candidate":
            summary += f": {_scrub(reason)}"
        audit_log(action="request.cancelled", obj=request, actor=actor,
                  actor_label="candidate" if by == "candidate" else "system", summary=summary)
    if by == "candidate":
        when = f" on {live.start:%Y-%m-%d %H:%M} UTC" if live is not None else ""
        notify(kind="request.cancelled_by_candidate", obj=request, recipients=coordinator_emails(request),
               subject=f"Request #{request.pk}: the candidate cancelled their interview",
               body=(f"The candidate of request #{request.pk} ({request.plan}) cancelled the interview{when}. "
                     f"The calendar events are being removed.\n\nReason given: {_scrub(reason) or '(none)'}"),
               url=request_admin_url(request))


# ---------------------------------------------------------------------------------------------------------------
# Windows the candidate proposes


def proposed_windows_add(*, request: SchedulingRequest, windows: list[tuple[dt.datetime, dt.datetime]]) -> None:
    """Record times the candidate says suit them when no offered time does, and tell the coordinator.
    Each window must be aware, in the future, end after its start and end within 62 days; a request holds at
    most 10. Raises InvalidWindows naming the first bad one, NotBookable for a closed request."""
    request = _fresh(request)
    _ensure_open(request)
    now = clock.now()
    if not windows:
        raise InvalidWindows("give at least one time that suits you", {"field": "windows"})
    existing = ProposedWindow.objects.filter(request=request).count()
    if existing + len(windows) > WINDOWS_MAX:
        raise InvalidWindows(f"at most {WINDOWS_MAX} times can be proposed ({existing} already are)",
                             {"field": "windows"})
    for i, (start, end) in enumerate(windows):
        field = f"windows[{i}]"
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidWindows("a time needs its time zone", {"field": field})
        if start <= now:
            raise InvalidWindows("a proposed time must be in the future", {"field": field})
        if end <= start:
            raise InvalidWindows("a proposed time must end after it starts", {"field": field})
        if end > now + WINDOWS_HORIZON:
            raise InvalidWindows("a proposed time must end within 62 days", {"field": field})
    ProposedWindow.objects.bulk_create([ProposedWindow(request=request, start=a, end=b) for a, b in windows])
    audit_log(action="request.windows_proposed", obj=request, actor_label="candidate",
              summary=f"{len(windows)} time(s) proposed")
    notify(kind="request.windows_proposed", obj=request, recipients=coordinator_emails(request),
           subject=f"Request #{request.pk}: the candidate proposed times",
           body=(f"No offered time suited the candidate of request #{request.pk} ({request.plan}), who proposed "
                 f"{len(windows)} time(s) of their own. Open the request to book from one of them."),
           url=request_admin_url(request))


def book_from_window(*, request: SchedulingRequest, window_id: int, actor) -> BookingResult:
    """Book (or move a booking to) the first option inside a window the candidate proposed, for the coordinator.
    When none fits, `fresh_options` is empty and `message` says why."""
    request = _fresh(request)
    _ensure_open(request)
    window = ProposedWindow.objects.filter(pk=window_id, request=request).first()
    if window is None:
        raise NotBookable(f"request #{request.pk} has no proposed time #{window_id}", {"request_id": request.pk})
    now = clock.now()
    start = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    end = min(start + WINDOWS_HORIZON, max(start + dt.timedelta(days=request.plan.window_days),
                                           window.end + dt.timedelta(hours=1)))
    live = live_interview(request)
    built = problem_build(plan=request.plan, now=now, window=(start, end),
                          candidate_timezone=_candidate_zone_name(request),
                          candidate_available=[(window.start, window.end)], exclude_interview=live,
                          max_options=1)
    result = solve(built.problem)
    if not result["options"]:
        words = diagnostics_in_words(result["diagnostics"], built)
        return BookingResult(None, [], False, "No time inside this window works: " + " ".join(words))
    return _book(request=request, option=result["options"][0], actor_label="user", actor=actor,
                 reschedule=live is not None, staff=True)

