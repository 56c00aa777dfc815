"""Everything the dashboard shows, read in a constant number of queries whatever the size of the history.

Lists are capped at LIMIT rows with their full count beside them (and a link to the filtered admin list); totals,
rates and percentiles are computed by the database (PostgreSQL's `percentile_cont`; other databases get the
durations in one query and the percentiles in Python). Names that lists mention (people, rooms, sessions, pools,
requisitions) are read once per page.

Definitions the numbers use:
- A request "sent its link" at its first move to `awaiting_candidate`, and was "booked" at its first move to
  `booked` (from RequestTransition), each counted from the request's creation (the ATS stage change). Later
  links and reschedules do not reset them.
- Reschedule rate: booked requests whose booking was moved at least once (an interview revision 2 or more).
  Cancellation rate: requests that ended cancelled, of all requests created in the range.
- Interviews this week: live sessions each interviewer sits in the current ISO week of the staff member's time
  zone (Monday 00:00 to Monday 00:00), against their weekly limit; the solver counts in each interviewer's own
  week, which differs by a few hours at most.
- The requisition filter applies to requests, links, failures and numbers; health, outbox and load are shown
  for the whole organisation, because a calendar or an interviewer serves every requisition.
"""

from __future__ import annotations

import datetime as dt
import statistics
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Window,
)
from django.db.models.functions import Extract, TruncWeek
from django.utils import timezone

from integrations.ats.health import fix_link as ats_fix_link
from integrations.models import AtsComponentHealth, AtsConnection, Calendar, CalendarConnection, Health
from scheduling.escalation import warning_hours
from scheduling.models import (
    Interviewer,
    LinkEscalation,
    OutboxItem,
    PoolMembership,
    ReminderSend,
    RequestTransition,
    Requisition,
    ScheduledInterview,
    SchedulingLink,
    SchedulingRequest,
    SessionParticipant,
    TrainingSession,
    WorkState,
)

__all__ = ["LIMIT", "Filters", "filters_from", "awaiting_too_long_hours", "dashboard_overview", "Percentile",
           "outbox_group"]

S = SchedulingRequest.State
LIMIT = 20
MAX_RANGE_DAYS = 731
BAD = (Health.DEGRADED, Health.RED)
_REQUEST_LIST = ("plan__requisition", "application__candidate")


def awaiting_too_long_hours() -> int:
    """After how long without a choice a request waiting for the candidate is listed (AWAITING_TOO_LONG_HOURS)."""
    return int(getattr(settings, "AWAITING_TOO_LONG_HOURS", 72))


class Percentile(Aggregate):
    """PostgreSQL's continuous percentile of an expression: `Percentile("seconds", 0.9)`."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction: between 0 and 1")
        super().__init__(expression, fraction=float(fraction), **extra)


# ---------------------------------------------------------------------------------------------------------------
# Filters


@dataclass(frozen=True)
class Filters:
    """The GET form: a requisition (or all) and a date range, inclusive, in the staff member's zone."""

    requisition_id: int | None
    start: dt.date
    end: dt.date
    errors: tuple[str, ...] = ()

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        zone = timezone.get_current_timezone()
        return (dt.datetime.combine(self.start, dt.time(0), tzinfo=zone),
                dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(0), tzinfo=zone))


def filters_from(params, *, now: dt.datetime) -> Filters:
    """Read the GET form; a bad value falls back to its default and says so in `errors`."""
    today = timezone.localtime(now).date()
    errors = []
    requisition_id = None
    raw = (params.get("requisition") or "").strip()
    if raw:
        if raw.isdigit():
            requisition_id = int(raw)
        else:
            errors.append("The requisition was not understood; showing all.")
    dates = {}
    for name, default in (("from", today - dt.timedelta(days=29)), ("to", today)):
        text = (params.get(name) or "").strip()
        try:
            dates[name] = dt.date.fromisoformat(text) if text else default
        except ValueError:
            errors.append(f"“{text}” is not a date (YYYY-MM-DD); using {default:%Y-%m-%d}.")
            dates[name] = default
    start, end = dates["from"], dates["to"]
    if start > end:
        errors.append("The range ended before it started; the two dates were swapped.")
        start, end = end, start
    if (end - start).days > MAX_RANGE_DAYS:
        errors.append(f"Ranges are limited to {MAX_RANGE_DAYS} days; showing the last {MAX_RANGE_DAYS}.")
        start = end - dt.timedelta(days=MAX_RANGE_DAYS)
    return Filters(requisition_id=requisition_id, start=start, end=end, errors=tuple(errors))


# ---------------------------------------------------------------------------------------------------------------
# Needs a human


@dataclass
class Section:
    rows: list
    total: int

    @property
    def more(self) -> int:
        return max(self.total - len(self.rows), 0)


def _requests(filters: Filters) -> QuerySet:
    qs = SchedulingRequest.objects.all()
    if filters.requisition_id:
        qs = qs.filter(plan__requisition_id=filters.requisition_id)
    return qs


def _section(qs: QuerySet) -> Section:
    """The first LIMIT rows and the count of all, in one query (a window count over the whole result)."""
    rows = list(qs.annotate(_total=Window(Count("pk")))[:LIMIT])
    return Section(rows, rows[0]._total if rows else 0)


def failures(filters: Filters) -> Section:
    """Requests that need attention, oldest first, with the cause of their last move there."""
    cause = RequestTransition.objects.filter(request=OuterRef("pk"), new_state=S.NEEDS_ATTENTION) \
        .order_by("-at", "-id").values("cause")[:1]
    return _section(_requests(filters).filter(state=S.NEEDS_ATTENTION).select_related(*_REQUEST_LIST)
                    .annotate(cause=Subquery(cause)).order_by("state_changed_at", "id"))


def expiring_links(filters: Filters, now: dt.datetime) -> Section:
    """Active links of requests waiting for the candidate that expire within the warning period, soonest first,
    with when the coordinator was told."""
    told = LinkEscalation.objects.filter(link=OuterRef("pk"), expires_at=OuterRef("expires_at")) \
        .order_by("created_at").values("created_at")[:1]
    qs = SchedulingLink.objects.filter(revoked_at__isnull=True, request__state=S.AWAITING_CANDIDATE,
                                       expires_at__gt=now, expires_at__lte=now + dt.timedelta(hours=warning_hours()))
    if filters.requisition_id:
        qs = qs.filter(request__plan__requisition_id=filters.requisition_id)
    return _section(qs.select_related(*(f"request__{r}" for r in _REQUEST_LIST))
                    .annotate(told_at=Subquery(told)).order_by("expires_at", "id"))


def _active_link() -> QuerySet:
    return SchedulingLink.objects.filter(request=OuterRef("pk"), revoked_at__isnull=True)


def expired_links(filters: Filters, now: dt.datetime) -> Section:
    """Requests whose link ran out: moved to `expired`, or still waiting with an expired link (the periodic task
    has not run yet). Most recent first."""
    link = _active_link()
    qs = _requests(filters).filter(Q(state=S.EXPIRED)
                                   | Q(Exists(link.filter(expires_at__lte=now)), state=S.AWAITING_CANDIDATE))
    return _section(qs.select_related(*_REQUEST_LIST)
                    .annotate(link_id=Subquery(link.values("pk")[:1]),
                              link_expires=Subquery(link.values("expires_at")[:1]))
                    .order_by("-state_changed_at", "-id"))


def waiting_too_long(filters: Filters, now: dt.datetime) -> Section:
    """Requests waiting for the candidate longer than AWAITING_TOO_LONG_HOURS since the link was sent, with
    their link's expiry and the reminders sent. Those whose link expires within the warning period, or has
    expired, are left out: the two lists above show them."""
    link = _active_link().filter(expires_at__gt=now)
    sent = ReminderSend.objects.filter(request=OuterRef("pk"), status=ReminderSend.Status.SENT).order_by() \
        .values("request").annotate(n=Count("pk")).values("n")[:1]
    soon = _active_link().filter(expires_at__lte=now + dt.timedelta(hours=warning_hours()))
    qs = _requests(filters).filter(state=S.AWAITING_CANDIDATE,
                                   link_sent_at__lte=now - dt.timedelta(hours=awaiting_too_long_hours())) \
        .exclude(Exists(soon))
    return _section(qs.select_related(*_REQUEST_LIST)
                    .annotate(link_id=Subquery(link.values("pk")[:1]),
                              link_expires=Subquery(link.values("expires_at")[:1]),
                              reminders=Subquery(sent))
                    .order_by("link_sent_at", "id"))


def outbox_group(kind: str) -> str:
    """'calendar', 'ats', 'mail' or 'other', from an outbox item's kind ('calendar.write_interview')."""
    prefix = kind.split(".", 1)[0]
    return prefix if prefix in ("calendar", "ats", "mail") else "other"


def outbox_problems() -> tuple[Section, dict[str, dict[str, int]]]:
    """Failing and dead outbox items, dead first, and their counts by group and state."""
    qs = OutboxItem.objects.filter(state__in=[WorkState.FAILED, WorkState.DEAD])
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {WorkState.FAILED: 0, WorkState.DEAD: 0})
    total = 0
    for row in qs.order_by().values("kind", "state").annotate(n=Count("pk")):
        counts[outbox_group(row["kind"])][row["state"]] += row["n"]
        total += row["n"]
    rows = list(qs.order_by("-state", "next_attempt_at", "id")[:LIMIT])  # "dead" sorts after "failed"
    return Section(rows, total), {k: dict(v) for k, v in counts.items()}


@dataclass
class Health_:
    calendar_connections: list = field(default_factory=list)
    ats_connections: list = field(default_factory=list)
    calendars: Section = field(default_factory=lambda: Section([], 0))
    components: list = field(default_factory=list)
    quiet: list = field(default_factory=list)

    @property
    def problems(self) -> int:
        return len(self.calendar_connections) + len(self.ats_connections) + self.calendars.total \
            + len(self.components)


def health() -> Health_:
    """Unhealthy connections, calendars and ATS components with their last error and whom they affect, and quiet
    webhooks."""
    out = Health_()
    out.calendar_connections = list(CalendarConnection.objects.filter(health__in=BAD)
                                    .annotate(calendar_count=Count("calendars")).order_by("-health", "name"))
    out.ats_connections = list(AtsConnection.objects.filter(health__in=BAD).order_by("-health", "name"))
    out.calendars = _section(Calendar.objects.filter(health__in=BAD)
                             .select_related("connection", "interviewer", "room")
                             .order_by("-health", "-last_error_at", "id"))
    components = list(AtsComponentHealth.objects.filter(Q(health__in=BAD) | Q(quiet_since__isnull=False))
                      .select_related("connection").order_by("connection__name", "component"))
    out.components = [c for c in components if c.health in BAD]
    out.quiet = [c for c in components if c.quiet_since is not None]
    red_connections = [c.pk for c in out.calendar_connections]
    people: dict[int, list] = defaultdict(list)
    if red_connections:
        for conn_id, pk, name in Interviewer.objects.filter(calendar__connection_id__in=red_connections,
                                                             active=True).order_by("name") \
                .values_list("calendar__connection_id", "pk", "name"):
            people[conn_id].append((pk, name))
    for c in out.calendar_connections:
        c.people = people.get(c.pk, [])  # the interviewers it leaves out: (pk, name)
    ats_ids = {c.pk for c in out.ats_connections} | {c.connection_id for c in components}
    requisitions: dict[int, list] = defaultdict(list)
    if ats_ids:
        for conn_id, pk, title in Requisition.objects.filter(ats_connection_id__in=ats_ids, open=True) \
                .order_by("title").values_list("ats_connection_id", "pk", "title"):
            requisitions[conn_id].append((pk, title))
    for c in out.ats_connections:
        # the open requisitions it syncs: (pk, title); not `requisitions`, the reverse relation's own name
        c.open_requisitions = requisitions.get(c.pk, [])
    for c in components:
        c.requisitions = requisitions.get(c.connection_id, [])
    for c in out.components:
        c.fix = ats_fix_link(c.connection, c.component)  # issue 9: (label, path), e.g. Lever's OAuth sign-in
    return out


# ---------------------------------------------------------------------------------------------------------------
# Numbers


def _first(state: str) -> Subquery:
    return Subquery(RequestTransition.objects.filter(request=OuterRef("pk"), new_state=state)
                    .order_by("at", "id").values("at")[:1])


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


@dataclass
class Numbers:
    link_p50: float | None = None
    link_p90: float | None = None
    book_p50: float | None = None
    book_p90: float | None = None
    total: int = 0
    linked: int = 0
    booked: int = 0
    rescheduled: int = 0
    cancelled: int = 0
    weeks: list[dict] = field(default_factory=list)

    @property
    def reschedule_rate(self) -> float | None:
        return 100 * self.rescheduled / self.booked if self.booked else None

    @property
    def cancellation_rate(self) -> float | None:
        return 100 * self.cancelled / self.total if self.total else None


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 3600


def numbers(filters: Filters) -> Numbers:
    """Times to link and to booking (median, 90th percentile, in hours), rates, and the same per week."""
    start, end = filters.bounds()
    scope = _requests(filters).filter(created_at__gte=start, created_at__lt=end)
    interviews = ScheduledInterview.objects.filter(request=OuterRef("pk"))
    counts = dict(
        total=Count("pk"),
        booked=Count("pk", filter=Q(was_booked=True)),
        rescheduled=Count("pk", filter=Q(was_moved=True)),
        cancelled=Count("pk", filter=Q(state=S.CANCELLED)),
    )
    timed = scope.annotate(first_link=_first(S.AWAITING_CANDIDATE), first_book=_first(S.BOOKED),
                           was_booked=Exists(interviews), was_moved=Exists(interviews.filter(revision__gte=2)))
    out = Numbers()
    if connection.vendor == "postgresql":
        timed = timed.annotate(to_link=Extract(F("first_link") - F("created_at"), "epoch"),
                               to_book=Extract(F("first_book") - F("created_at"), "epoch"))
        row = timed.aggregate(link_p50=Percentile("to_link", 0.5), link_p90=Percentile("to_link", 0.9),
                              book_p50=Percentile("to_book", 0.5), book_p90=Percentile("to_book", 0.9),
                              linked=Count("first_link"), **counts)
        for name in ("link_p50", "link_p90", "book_p50", "book_p90"):
            setattr(out, name, _hours(row[name]))
        for name in ("total", "linked", "booked", "rescheduled", "cancelled"):
            setattr(out, name, row[name] or 0)
        weekly = list(timed.annotate(week=TruncWeek("created_at")).order_by("week").values("week").annotate(
            link_p50=Percentile("to_link", 0.5), book_p50=Percentile("to_book", 0.5), **counts))
        for w in weekly:
            w["link_p50"], w["book_p50"] = _hours(w["link_p50"]), _hours(w["book_p50"])
    else:  # SQLite and others: one row per request in one query, the percentiles here
        rows = list(timed.annotate(week=TruncWeek("created_at"))
                    .values("week", "created_at", "first_link", "first_book", "was_booked", "was_moved", "state"))
        out, weekly = _numbers_in_python(rows)
    out.weeks = _fill_weeks(weekly, start, end)
    return out


def _numbers_in_python(rows: list[dict]) -> tuple[Numbers, list[dict]]:
    out = Numbers()
    links, books = [], []
    per_week: dict = defaultdict(lambda: {"links": [], "books": [], "total": 0, "booked": 0, "rescheduled": 0,
                                          "cancelled": 0})
    for r in rows:
        w = per_week[r["week"]]
        for name, value in (("total", 1), ("booked", int(r["was_booked"])), ("rescheduled", int(r["was_moved"])),
                            ("cancelled", int(r["state"] == S.CANCELLED))):
            setattr(out, name, getattr(out, name) + value)
            w[name] += value
        if r["first_link"] is not None:
            links.append((r["first_link"] - r["created_at"]).total_seconds())
            w["links"].append(links[-1])
        if r["first_book"] is not None:
            books.append((r["first_book"] - r["created_at"]).total_seconds())
            w["books"].append(books[-1])
    out.linked = len(links)
    out.link_p50, out.link_p90 = _hours(_pct(links, 0.5)), _hours(_pct(links, 0.9))
    out.book_p50, out.book_p90 = _hours(_pct(books, 0.5)), _hours(_pct(books, 0.9))
    weekly = [{"week": week, "link_p50": _hours(_pct(w["links"], 0.5)), "book_p50": _hours(_pct(w["books"], 0.5)),
               **{k: w[k] for k in ("total", "booked", "rescheduled", "cancelled")}}
              for week, w in sorted(per_week.items())]
    return out, weekly


def _fill_weeks(weekly: list[dict], start: dt.datetime, end: dt.datetime) -> list[dict]:
    """Every week of the range, in order, those without requests empty (so charts keep their time axis)."""
    by_day = {timezone.localtime(w["week"]).date() if isinstance(w["week"], dt.datetime) else w["week"]: w
              for w in weekly if w["week"] is not None}
    day = start.date() - dt.timedelta(days=start.weekday())
    out = []
    while day < end.date():
        w = by_day.get(day, {})
        booked = w.get("booked", 0)
        total = w.get("total", 0)
        out.append({"week": day, "label": f"{day:%d %b}", "total": total, "booked": booked,
                    "link_p50": w.get("link_p50"), "book_p50": w.get("book_p50"),
                    "reschedule_rate": 100 * w.get("rescheduled", 0) / booked if booked else None,
                    "cancellation_rate": 100 * w.get("cancelled", 0) / total if total else None})
        day += dt.timedelta(days=7)
    return out


def load_this_week(now: dt.datetime) -> tuple[list[dict], dt.date]:
    """Active interviewers with sessions this week or a weekly limit: sessions this week against the limit,
    busiest (relative to the limit) first."""
    local = timezone.localtime(now)
    monday = local.date() - dt.timedelta(days=local.weekday())
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(monday, dt.time(0), tzinfo=zone)
    end = start + dt.timedelta(days=7)
    week = Q(participations__active=True, participations__session__start__gte=start,
             participations__session__start__lt=end,
             participations__session__interview__state=ScheduledInterview.State.ACTIVE)
    rows = [{"pk": p.pk, "name": p.name, "n": p.n, "cap": p.max_per_week, "interviewer": p}
            for p in Interviewer.objects.filter(active=True).annotate(n=Count("participations", filter=week))
            .filter(Q(n__gt=0) | Q(max_per_week__isnull=False)).order_by("name")]
    rows.sort(key=lambda r: (-(r["n"] / r["cap"] if r["cap"] else r["n"] / 100), r["name"]))
    return rows, monday


def trainees(now: dt.datetime) -> list[dict]:
    """Memberships in training with their recorded sessions against their pool's requirements, and how many
    trainee sessions they have booked ahead."""
    Kind = TrainingSession.Kind
    members = list(PoolMembership.objects.exclude(training=PoolMembership.Training.TRAINED)
                   .select_related("pool", "interviewer")
                   .annotate(shadow_done=Count("training_sessions", filter=Q(training_sessions__kind=Kind.SHADOW)),
                             reverse_done=Count("training_sessions",
                                                filter=Q(training_sessions__kind=Kind.REVERSE_SHADOW)))
                   .order_by("pool__name", "interviewer__name"))
    ahead = dict(SessionParticipant.objects.filter(
        interviewer_id__in={m.interviewer_id for m in members}, active=True, session__start__gt=now,
        part__in=[SessionParticipant.Part.SHADOW, SessionParticipant.Part.REVERSE_SHADOW],
        session__interview__state=ScheduledInterview.State.ACTIVE).order_by().values("interviewer_id")
        .annotate(n=Count("pk")).values_list("interviewer_id", "n")) if members else {}
    stage = {PoolMembership.Training.SHADOW: "Shadow", PoolMembership.Training.REVERSE_SHADOW: "Reverse shadow"}
    return [{"membership": m, "pool": m.pool, "interviewer": m.interviewer, "stage": stage.get(m.training, ""),
             "shadowing_done": m.training == PoolMembership.Training.REVERSE_SHADOW,
             "shadow_done": m.shadow_done, "shadow_required": m.pool.shadows_required,
             "reverse_done": m.reverse_done, "reverse_required": m.pool.reverse_shadows_required,
             "booked_ahead": ahead.get(m.interviewer_id, 0)} for m in members]


# ---------------------------------------------------------------------------------------------------------------
# The page


@dataclass
class Overview:
    filters: Filters
    now: dt.datetime
    requisitions: list
    failures: Section
    expiring: Section
    expired: Section
    waiting: Section
    outbox: Section
    outbox_counts: dict
    health: Health_
    numbers: Numbers
    load: list
    week_of: dt.date
    trainees: list
    zone: zoneinfo.ZoneInfo | None = None


def dashboard_overview(*, filters: Filters, now: dt.datetime) -> Overview:
    """Every section of the dashboard (see the module docstring)."""
    outbox, outbox_counts = outbox_problems()
    load, week_of = load_this_week(now)
    return Overview(
        filters=filters, now=now,
        requisitions=list(Requisition.objects.order_by("-open", "title").values_list("pk", "title", "open")),
        failures=failures(filters), expiring=expiring_links(filters, now), expired=expired_links(filters, now),
        waiting=waiting_too_long(filters, now), outbox=outbox, outbox_counts=outbox_counts, health=health(),
        numbers=numbers(filters), load=load, week_of=week_of, trainees=trainees(now),
        zone=timezone.get_current_timezone())
