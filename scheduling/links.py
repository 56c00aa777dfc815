"""Candidates' self-scheduling links: issue, send, resolve, and the "request a new link" alert.

A token is `secrets.token_urlsafe(32)` (256 bits); only its SHA-256 (`hash_token`) is stored, and it is looked
up by that hash and compared with `hmac.compare_digest`. The raw token exists in two places only: the email
that `link_send` hands to the mail server at once (it never waits in the outbox, whose rows are kept), and the
return value of `link_issue` / `link_regenerate`. A request has at most one active link (a database
constraint): issuing revokes the previous one. A link expires `plan.link_expiry_hours` after it is issued, or
when the interview starts if that is later (booking extends it, so that the same link can reschedule or
cancel); the portal asks `link.is_usable(at=...)`.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
import smtplib

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import NoReverseMatch, reverse

from scheduling import clock
from scheduling.audit import audit_log
from scheduling.candidate_mail import link_message
from scheduling.errors import EmailNotSent
from scheduling.locks import lock_names
from scheduling.models import Notice, ScheduledInterview, SchedulingLink, SchedulingRequest, hash_token
from scheduling.notifications import coordinator_emails, notify

__all__ = ["TOKEN_BYTES", "portal_url", "link_issue", "link_send", "link_resolve", "link_touch", "link_request_new",
           "request_admin_url"]

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32
_TOKEN_MAX = 128  # longer input is no token of ours: refused before hashing


def portal_url(token: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + f"/s/{token}/"


def request_admin_url(request: SchedulingRequest) -> str:
    try:
        return reverse("admin:scheduling_schedulingrequest_change", args=[request.pk])
    except NoReverseMatch:
        return ""


def link_issue(*, request: SchedulingRequest, actor=None) -> str:
    """Revoke the request's active link, if any, create a new one, and return its raw token (stored nowhere).

    It expires `plan.link_expiry_hours` from now, or when the live interview starts if that is later."""
    now = clock.now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires = now + dt.timedelta(hours=request.plan.link_expiry_hours)
    live = ScheduledInterview.objects.filter(request=request, state=ScheduledInterview.State.ACTIVE).first()
    if live is not None and live.start > expires:
        expires = live.start
    with transaction.atomic():
        lock_names([f"request:{request.pk}"])
        revoked = SchedulingLink.objects.filter(request=request, revoked_at__isnull=True).update(revoked_at=now)
        link = SchedulingLink.objects.create(request=request, token_hash=hash_token(token), created_at=now,
                                             expires_at=expires, extended=expires > now + dt.timedelta(
                                                 hours=request.plan.link_expiry_hours))
        audit_log(action="link.issued", obj=request, actor=actor,
                  summary=f"link #{link.pk}, expires {expires:%Y-%m-%d %H:%M} UTC"
                          + (f"; {revoked} earlier link revoked" if revoked else ""))
    return token


def link_send(*, request: SchedulingRequest, token: str) -> None:
    """Email the candidate their portal link, now (not through the outbox: the token must not be stored).

    Raises EmailNotSent when the mail server cannot take it; `link_sent_at` is set only on success."""
    link = SchedulingLink.objects.filter(token_hash=hash_token(token), request=request).first()
    if link is None:
        raise ValueError("link_send: the token is not a link of this request")
    message = link_message(request=request, url=portal_url(token), expires_at=link.expires_at)
    try:
        message.send()
    except (smtplib.SMTPException, OSError, ValueError) as e:
        # The error's text may name the recipient: only its type is logged.
        logger.warning("the link email of request #%s could not be sent: %s", request.pk, type(e).__name__)
        raise EmailNotSent(f"the link email for request #{request.pk} could not be sent ({type(e).__name__}); "
                           "try again later", {"request_id": request.pk})
    now = clock.now()
    SchedulingRequest.objects.filter(pk=request.pk).update(link_sent_at=now)
    request.link_sent_at = now
    audit_log(action="link.sent", obj=request, summary=f"link #{link.pk} emailed to the candidate")


def link_resolve(*, token: str) -> SchedulingLink | None:
    """The link a token belongs to, whatever its state (the portal checks `is_usable`), or None."""
    if not token or len(token) > _TOKEN_MAX:
        return None
    digest = hash_token(token)
    link = (SchedulingLink.objects.select_related("request__plan__requisition", "request__application__candidate")
            .filter(token_hash=digest).first())
    if link is None or not hmac.compare_digest(link.token_hash, digest):
        return None
    return link


def link_touch(*, link: SchedulingLink) -> None:
    """Count one use of `link` (a page opened with it)."""
    now = clock.now()
    SchedulingLink.objects.filter(pk=link.pk).update(use_count=F("use_count") + 1, last_used_at=now)
    link.use_count += 1
    link.last_used_at = now


def link_request_new(*, link: SchedulingLink) -> None:
    """The candidate, on an expired or revoked link's page, asks for a new one: tell the coordinator (at most
    one email an hour for the request, through notify's throttle) and record it (once per email sent)."""
    request = SchedulingRequest.objects.select_related(
        "coordinator", "plan__requisition__coordinator", "plan__requisition__ats_connection",
        "application__ats_connection").get(pk=link.request_id)
    now = clock.now()
    why = "revoked" if link.revoked_at else "expired" if link.is_expired(at=now) else "used up"
    notice = notify(kind="link.new_requested", obj=request, recipients=coordinator_emails(request),
                    subject=f"Request #{request.pk}: the candidate asks for a new scheduling link",
                    body=(f"The candidate of request #{request.pk} opened a scheduling link that is {why} and asked "
                          f"for a new one. If the request should still be scheduled, open it and choose "
                          f"'Regenerate the link': that revokes the old link and emails a new one."),
                    url=request_admin_url(request))
    if notice is not None and notice.status == Notice.Status.FOLDED:
        return
    audit_log(action="link.new_requested", obj=request, actor_label="candidate",
              summary=f"link #{link.pk} is {why}; the coordinator was told")
