"""What the portal reads: the session's link, the company, the loop, an option in words, the deadline for
changes. The request a page shows always comes from the link whose id the session holds (set only by the
token exchange), never from anything the browser sends."""

from __future__ import annotations

import datetime as dt
import re

from django.db.models import Prefetch

from candidates_portal.display import parse_instant
from scheduling.models import (
    Interviewer,
    OrganisationSettings,
    Role,
    Room,
    ScheduledInterview,
    SchedulingLink,
    SchedulingRequest,
    SessionTemplate,
)

__all__ = ["org_context", "portal_link", "link_open", "plan_sessions", "loop_minutes", "option_outline",
           "changes_deadline"]

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def org_context() -> dict:
    """The company as every portal page shows it: `org`, `support` (the contact text) and `support_href`
    (a mailto: or https: link when the contact is one)."""
    org = OrganisationSettings.load()
    contact = (org.support_contact or "").strip()
    href = f"mailto:{contact}" if _EMAIL.fullmatch(contact) else contact if contact.startswith("https://") else ""
    return {"org": org, "support": contact, "support_href": href}


def portal_link(*, link_id: object) -> SchedulingLink | None:
    """The link with this id, with its request, plan, requisition and candidate; None when there is none. The
    request's option set (up to 5000 options, a few megabytes of JSON) and diagnostics are read only by the
    pages that use them."""
    if not isinstance(link_id, int):
        return None
    return (SchedulingLink.objects
            .select_related("request__plan__requisition", "request__application__candidate")
            .defer("request__options", "request__diagnostics")
            .filter(pk=link_id).first())


def link_open(link: SchedulingLink, *, at: dt.datetime) -> bool:
    """A link opened once stays good for its session until it expires or is revoked (its use count was
    checked when it was opened)."""
    return link.revoked_at is None and not link.is_expired(at=at)


def plan_sessions(request: SchedulingRequest) -> list[SessionTemplate]:
    return list(SessionTemplate.objects.filter(plan=request.plan).order_by("position", "id"))


def loop_minutes(request: SchedulingRequest, sessions: list[SessionTemplate]) -> int:
    """How long the loop takes: from an offered option when there is one, else the sessions and gaps."""
    for option in request.options or []:
        try:
            return int((parse_instant(option["end"]) - parse_instant(option["start"])).total_seconds() // 60)
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    gaps = request.plan.gap_minutes * max(len(sessions) - 1, 0)
    return sum(s.duration_minutes for s in sessions) + gaps


def option_outline(*, request: SchedulingRequest, option: dict) -> list[dict]:
    """A stored option as the candidate reads it, in running order, breaks included: `{"name", "start", "end"
    (aware), "is_break", "people": [{"first_name", "title", "observing"}] (empty unless the plan shows
    names), "room"}`. A session's `roles` line up with its template's roles by id, as the problem builder
    made them; a role past those is a reverse shadow's overseer, who watches."""
    sessions = [s for s in option.get("sessions") or [] if isinstance(s, dict)]
    ids = [int(s["id"][1:]) for s in sessions if str(s.get("id", ""))[1:].isdigit()]
    templates = SessionTemplate.objects.filter(plan=request.plan, pk__in=ids).prefetch_related(
        Prefetch("roles", queryset=Role.objects.order_by("id")))
    templates = {f"s{t.pk}": t for t in templates}
    wanted = [rid for s in sessions for ids_ in s.get("roles") or [] for rid in ids_ if isinstance(rid, str)]
    people = Interviewer.objects.in_bulk([int(r[1:]) for r in wanted if r[:1] == "i" and r[1:].isdigit()])
    rooms = Room.objects.in_bulk([int(r[1:]) for r in wanted if r[:1] == "r" and r[1:].isdigit()])
    show = request.plan.show_interviewer_names
    rows = []
    for s in sessions:
        template = templates.get(s.get("id"))
        row = {"name": template.name if template else "Session", "start": parse_instant(s["start"]),
               "end": parse_instant(s["end"]), "is_break": bool(template and template.is_break), "people": [],
               "room": ""}
        roles = list(template.roles.all()) if template else []
        for index, rids in enumerate(s.get("roles") or []):
            # Past the template's roles: an overseer the problem builder appended for a reverse shadow.
            observing = index >= len(roles) or roles[index].trainees
            for rid in rids if isinstance(rids, list) else []:
                if rid[:1] == "r" and rid[1:].isdigit() and int(rid[1:]) in rooms:
                    row["room"] = rooms[int(rid[1:])].name
                elif show and rid[:1] == "i" and rid[1:].isdigit() and int(rid[1:]) in people:
                    person = people[int(rid[1:])]
                    row["people"].append({"first_name": person.first_name, "title": person.title,
                                          "observing": observing})
        rows.append(row)
    return rows


def changes_deadline(*, request: SchedulingRequest, interview: ScheduledInterview) -> dt.datetime:
    """Until when the candidate may reschedule or cancel `interview` themselves."""
    return interview.start - dt.timedelta(hours=request.plan.reschedule_cutoff_hours)
