"""Link expiry (issue #7): warn before an unused link expires, extend it, and close requests whose link ran out.

- `links_escalate` (every 15 minutes): a link of a request still waiting for the candidate that expires within
  `LINK_EXPIRY_WARNING_HOURS` (24 by default) raises one escalation per link and expiry (a LinkEscalation row,
  unique, created in the same transaction as the coordinator's notice): the coordinator is told and the
  request shows on the dashboard with "extend" and "regenerate and resend". Extending the link gives it a
  new expiry, which may warn again in its turn.
- Optional self-extension, a setting: with `LINK_AUTO_EXTEND_HOURS` above 0 (0, off, by default), a link that
  has never been extended extends itself once by that many hours instead of only warning; the coordinator is
  told it did, and the next warning comes before the new expiry. The candidate is not emailed: their link simply
  keeps working. A setting rather than a plan option, so that the plan model stays as it is; per-plan control
  can come later without changing the mechanism.
- `requests_expire` (every 15 minutes): a request waiting for the candidate whose active link has expired moves
  to `expired` (through `request_move`, so once), and the coordinator is told.
- `link_extend` (the dashboard's button): a new expiry `hours` from the later of now and the old expiry; an
  expired request waits for the candidate again.
- `link_rotate` (reminders): only a link's hash is stored, so an email that carries the link needs a new token.
  It revokes the active link and creates a new one with the same expiry, in one transaction under the
  request's lock; the old URL stops working, the new one is in the email that goes with it.

Every periodic function works in batches under a time budget and returns a short summary; run again, it goes
on where it stopped.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse

from integrations.webhooks import events as webhooks
from scheduling import clock
from scheduling.audit import audit_log
from scheduling.errors import ConcurrentChange, InvalidTransition, NotBookable
from scheduling.links import TOKEN_BYTES, request_admin_url
from scheduling.locks import lock_names
from scheduling.models import LinkEscalation, SchedulingLink, SchedulingRequest, hash_token
from scheduling.notifications import coordinator_emails, notify
from scheduling.services import request_move

__all__ = ["warning_hours", "auto_extend_hours", "link_extend", "link_rotate", "links_escalate", "requests_expire",
           "dashboard_url", "Budget"]

logger = logging.getLogger(__name__)

S = SchedulingRequest.State
BATCH = 200
_REQUEST_RELATED = ("coordinator", "plan__requisition__coordinator", "plan__requisition__ats_connection",
                    "application__ats_connection")


def warning_hours() -> int:
    """How long before expiry an unused link raises an escalation (setting LINK_EXPIRY_WARNING_HOURS)."""
    return int(getattr(settings, "LINK_EXPIRY_WARNING_HOURS", 24))


def auto_extend_hours() -> int:
    """By how much a link extends itself once before expiring; 0 is off (setting LINK_AUTO_EXTEND_HOURS)."""
    return int(getattr(settings, "LINK_AUTO_EXTEND_HOURS", 0))


def dashboard_url(anchor: str = "") -> str:
    return reverse("dashboard:index") + (f"#{anchor}" if anchor else "")


class Budget:
    """Wall-clock time left to a periodic task (real seconds, not the shared clock, which tests move)."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def spent(self) -> bool:
        return time.monotonic() >= self.deadline


# ---------------------------------------------------------------------------------------------------------------
# Services


def link_extend(*, link: SchedulingLink, hours: int, actor=None, automatic: bool = False) -> SchedulingLink:
    """Give `link` a new expiry `hours` after the later of now and its current expiry, and mark it extended.
    A request that had expired waits for the candidate again. Raises NotBookable for a revoked link or a closed
    request, ValueError for hours outside 1..720."""
    if not 1 <= hours <= 720:
        raise ValueError("hours: between 1 and 720")
    now = clock.now()
    with transaction.atomic():
        lock_names([f"request:{link.request_id}"])
        link = SchedulingLink.objects.select_related("request").get(pk=link.pk)
        request = link.request
        if link.revoked_at is not None:
            raise NotBookable(f"link #{link.pk} was replaced by a newer one: extend that one instead",
                              {"link_id": link.pk})
        if request.state not in (S.AWAITING_CANDIDATE, S.EXPIRED, S.BOOKED):
            raise NotBookable(f"request #{request.pk} is {request.get_state_display().lower()}: its link cannot "
                              "be extended", {"request_id": request.pk, "state": request.state})
        old = link.expires_at
        link.expires_at = max(old, now) + dt.timedelta(hours=hours)
        link.extended = True
        link.save(update_fields=["expires_at", "extended"])
        how = "extended itself" if automatic else "extended"
        audit_log(action="link.extended", obj=request, actor=actor, actor_label="worker" if automatic else "system",
                  summary=f"link #{link.pk} {how} by {hours} h: {old:%Y-%m-%d %H:%M} -> "
                          f"{link.expires_at:%Y-%m-%d %H:%M} UTC")
        if request.state == S.EXPIRED:
            request_move(request=request, to=S.AWAITING_CANDIDATE, cause="link extended", actor=actor)
    return link


def link_rotate(*, request: SchedulingRequest, actor_label: str = "worker") -> tuple[SchedulingLink, str]:
    """Replace the request's active link by a new one with the same expiry; return it and its raw token (stored
    nowhere). Raises NotBookable when the request has no active, unexpired link."""
    now = clock.now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        lock_names([f"request:{request.pk}"])
        old = SchedulingLink.objects.filter(request=request, revoked_at__isnull=True).first()
        if old is None or old.is_expired(at=now):
            raise NotBookable(f"request #{request.pk} has no live link to send again", {"request_id": request.pk})
        SchedulingLink.objects.filter(pk=old.pk).update(revoked_at=now)
        link = SchedulingLink.objects.create(request=request, token_hash=hash_token(token), created_at=now,
                                             expires_at=old.expires_at, extended=old.extended,
                                             max_uses=old.max_uses)
        audit_log(action="link.rotated", obj=request, actor_label=actor_label,
                  summary=f"link #{old.pk} replaced by link #{link.pk} (same expiry) to email it again")
    return link, token


# ---------------------------------------------------------------------------------------------------------------
# Periodic: warn before expiry


def _expiring(now: dt.datetime):
    warned = LinkEscalation.objects.filter(link=OuterRef("pk"), expires_at=OuterRef("expires_at"))
    return (SchedulingLink.objects
            .filter(revoked_at__isnull=True, request__state=S.AWAITING_CANDIDATE, expires_at__gt=now,
                    expires_at__lte=now + dt.timedelta(hours=warning_hours()))
            .exclude(Exists(warned)))


def links_escalate(*, budget_seconds: float = 60.0, batch: int = BATCH) -> str:
    """Raise the escalation of each unused link about to expire (see the module docstring). Returns a summary."""
    budget = Budget(budget_seconds)
    warned = extended = 0
    seen: set[int] = set()  # a link that changed under us is not tried again in this run
    while not budget.spent():
        now = clock.now()
        ids = list(_expiring(now).exclude(pk__in=seen).order_by("expires_at", "id")
                   .values_list("pk", flat=True)[:batch])
        if not ids:
            break
        for pk in ids:
            if budget.spent():
                break
            seen.add(pk)
            outcome = _escalate_one(pk, now=clock.now())
            warned += outcome == LinkEscalation.Kind.EXPIRING
            extended += outcome == LinkEscalation.Kind.AUTO_EXTENDED
        if len(ids) < batch:
            break
    return f"links: {warned} expiring soon (coordinator told), {extended} extended themselves"


def _escalate_one(link_id: int, *, now: dt.datetime) -> str:
    link = SchedulingLink.objects.select_related(*(f"request__{r}" for r in _REQUEST_RELATED), "request__plan") \
        .filter(pk=link_id).first()
    if link is None or link.revoked_at is not None or link.request.state != S.AWAITING_CANDIDATE:
        return ""
    request = link.request
    extend = auto_extend_hours()
    kind = LinkEscalation.Kind.AUTO_EXTENDED if extend > 0 and not link.extended else LinkEscalation.Kind.EXPIRING
    try:
        with transaction.atomic():
            # The claim: a second worker, or this one run again, finds the row and does nothing.
            LinkEscalation.objects.create(link=link, kind=kind, expires_at=link.expires_at, created_at=now)
            if kind == LinkEscalation.Kind.AUTO_EXTENDED:
                link = link_extend(link=link, hours=extend, automatic=True)
                _tell_extended(request, link, extend)
            else:
                _tell_expiring(request, link, now)
    except IntegrityError:
        return ""
    except NotBookable:  # revoked or closed meanwhile
        return ""
    return kind


def _tell_expiring(request: SchedulingRequest, link: SchedulingLink, now: dt.datetime) -> None:
    left = max(int((link.expires_at - now).total_seconds() // 3600), 0)
    notify(kind="link.expiring", obj=request, recipients=coordinator_emails(request),
           subject=f"Request #{request.pk}: the candidate's link expires in {left} h without a booking",
           body=(f"The candidate of request #{request.pk} ({request.plan}) has not chosen a time, and their "
                 f"scheduling link expires at {link.expires_at:%Y-%m-%d %H:%M} UTC. On the dashboard you can "
                 f"extend the link, or regenerate it and email it again. Left alone, the request will move to "
                 f"'Link expired'."),
           url=dashboard_url("links"))
    audit_log(action="link.expiring", obj=request, actor_label="worker",
              summary=f"link #{link.pk} expires {link.expires_at:%Y-%m-%d %H:%M} UTC; the coordinator was told")
    webhooks.emit_link_expiring(link=link)  # issue #10: outbound webhooks


def _tell_extended(request: SchedulingRequest, link: SchedulingLink, hours: int) -> None:
    notify(kind="link.auto_extended", obj=request, recipients=coordinator_emails(request),
           subject=f"Request #{request.pk}: the candidate's link extended itself by {hours} h",
           body=(f"The candidate of request #{request.pk} ({request.plan}) has not chosen a time. Their link was "
                 f"about to expire, so it extended itself once, until {link.expires_at:%Y-%m-%d %H:%M} UTC. "
                 f"It will not do so again: you will be told before the new expiry."),
           url=request_admin_url(request))


# ---------------------------------------------------------------------------------------------------------------
# Periodic: close requests whose link ran out


def requests_expire(*, budget_seconds: float = 60.0, batch: int = BATCH) -> str:
    """Move each request waiting for the candidate whose active link has expired to `expired`, and tell the
    coordinator. Returns a summary."""
    budget = Budget(budget_seconds)
    moved = 0
    skipped: set[int] = set()
    while not budget.spent():
        now = clock.now()
        ran_out = SchedulingLink.objects.filter(request=OuterRef("pk"), revoked_at__isnull=True, expires_at__lte=now)
        requests = list(SchedulingRequest.objects.select_related(*_REQUEST_RELATED, "plan")
                        .filter(Exists(ran_out), state=S.AWAITING_CANDIDATE).exclude(pk__in=skipped)
                        .order_by("state_changed_at", "id")[:batch])
        if not requests:
            break
        for request in requests:
            if budget.spent():
                break
            try:
                request_move(request=request, to=S.EXPIRED, cause="the link expired without a booking")
            except (ConcurrentChange, InvalidTransition):
                skipped.add(request.pk)  # moved by someone else meanwhile (booked, cancelled): nothing to do
                continue
            moved += 1
            notify(kind="request.expired", obj=request, recipients=coordinator_emails(request),
                   subject=f"Request #{request.pk}: the link expired without a booking",
                   body=(f"The candidate of request #{request.pk} ({request.plan}) did not choose a time before "
                         f"their scheduling link expired. Regenerate the link to email a new one, or cancel the "
                         f"request."),
                   url=request_admin_url(request))
        if len(requests) < batch:
            break
    return f"requests: {moved} moved to expired"
