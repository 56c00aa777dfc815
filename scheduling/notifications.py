"""Email to staff: problems that need a person (a dead outbox item, a broken connection, a request stuck).

`notify` sends at once through Django's SMTP backend and records a Notice row per recipient. To keep a
flapping problem from flooding a mailbox, at most one message per (kind, object, recipient) goes out per
hour: the first opens an hour-long window, and later ones inside it are recorded as `folded`.
`notice_send_digests` (every 10 minutes) sends each recipient ONE digest of their folded notices whose window
has closed (no notice of the same kind, object and recipient was sent in the last hour), and marks them
`digested`. Notices that failed to send in the last 24 hours ride along in the next digest, so a short SMTP
outage delays a message instead of losing it.

SMTP errors never escape: the notice is marked `failed` and the error is logged (redacted, naming the notice
by id). Notice has no column for the error text yet (reported to the lead), so the log holds it.

Who hears about a problem: `coordinator_emails` picks the request's coordinator, then the requisition's
coordinator, then the ATS connection's `fallback_email`, then `fallback_emails()` (settings.ADMINS, else the
active superusers). OrganisationSettings' addresses are left out on purpose: they face candidates.

Bodies name requests by id and link to the admin; they never carry a candidate's name, email or phone. The
email goes out as soon as `notify` runs, even inside a transaction that later rolls back (the notice row then
rolls back with it): callers that must not warn about work that did not happen call it after commit.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q
from django.template.loader import render_to_string

from integrations.models import AtsConnection
from scheduling import clock
from scheduling.locks import lock_names
from scheduling.logging import redact
from scheduling.models import Application, Notice, Requisition, SchedulingRequest, User

__all__ = ["THROTTLE_WINDOW", "FAILED_RETRY_WINDOW", "notify", "notice_send_digests", "coordinator_emails",
           "fallback_emails", "recipients_for"]

logger = logging.getLogger(__name__)

THROTTLE_WINDOW = dt.timedelta(hours=1)
# Failed notices younger than this are retried in the next digest; older ones stay failed (visible in the admin).
FAILED_RETRY_WINDOW = dt.timedelta(hours=24)
# What smtplib and the socket layer raise when the server is down, slow or refuses; ValueError covers a bad
# header. Anything else is a bug and should surface.
_SEND_ERRORS = (smtplib.SMTPException, OSError, ValueError)
_SUBJECT_MAX = Notice._meta.get_field("subject").max_length


def notify(*, kind: str, obj: models.Model | None = None, recipients: list[str], subject: str, body: str,
           url: str = "") -> Notice | None:
    """Tell `recipients` (staff) about `obj`: one Notice row and at most one email per recipient.

    Returns the first recipient's Notice (`sent`, `folded` or `failed`), or None when there is no recipient
    (logged as a warning). Never raises for SMTP trouble. `url` may be a path; it is made absolute with
    PUBLIC_BASE_URL in the email.
    """
    object_type, object_id = (obj._meta.label_lower, str(obj.pk)) if obj is not None else ("", "")
    subject = " ".join(subject.split())[:_SUBJECT_MAX]
    unique = list(dict.fromkeys(r.strip() for r in recipients if r and r.strip()))
    if not unique:
        logger.warning("notice %s for %s#%s has no recipient", kind, object_type, object_id)
        return None
    notices = [_notify_one(kind=kind, object_type=object_type, object_id=object_id, recipient=r, subject=subject,
                           body=body, url=url) for r in unique]
    return notices[0]


def _notify_one(*, kind: str, object_type: str, object_id: str, recipient: str, subject: str, body: str,
                url: str) -> Notice:
    now = clock.now()
    with transaction.atomic():
        # Two workers reporting the same problem at once must not both open a window.
        lock_names([f"notice:{kind}:{object_type}:{object_id}:{recipient}"])
        window_open = Notice.objects.filter(kind=kind, object_type=object_type, object_id=object_id,
                                            recipient=recipient, status=Notice.Status.SENT,
                                            created_at__gt=now - THROTTLE_WINDOW).exists()
        # A notice about to be sent is recorded as `sent` (sent_at still empty) so that a concurrent one folds.
        notice = Notice.objects.create(kind=kind, object_type=object_type, object_id=object_id, recipient=recipient,
                                       subject=subject, body=body, url=url, created_at=now,
                                       status=Notice.Status.FOLDED if window_open else Notice.Status.SENT)
    if window_open:
        return notice
    text = body.rstrip() + "\n"
    if url:
        text += f"\n{_absolute(url)}\n"
    text += ("\n--\nLoopwise sends at most one message an hour about the same thing; "
             "further ones arrive in a digest.\n")
    error = _send([EmailMessage(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[recipient])])
    if error:
        logger.warning("notice #%s (%s) could not be sent: %s", notice.pk, kind, error)
        notice.status = Notice.Status.FAILED
        notice.save(update_fields=["status"])
    else:
        notice.sent_at = clock.now()
        notice.save(update_fields=["sent_at"])
    return notice


def notice_send_digests() -> str:
    """Send each recipient one digest of their due notices, and mark them `digested`.

    Due: folded notices whose window has closed, and failed notices younger than FAILED_RETRY_WINDOW. Rows are
    locked (SKIP LOCKED) while their digest is sent, so two runs at once never send the same notice twice.
    Returns a short summary.
    """
    now = clock.now()
    recipients = list(_due(now).order_by().values_list("recipient", flat=True).distinct())
    sent = failed = count = 0
    for recipient in sorted(recipients):
        with transaction.atomic():
            notices = list(_due(now).filter(recipient=recipient).order_by("created_at", "id")
                           .select_for_update(skip_locked=True))
            if not notices:
                continue
            error = _send([_digest_message(recipient, notices)])
            if error:
                failed += 1
                logger.warning("digest of %d notices (#%s..#%s) could not be sent: %s", len(notices),
                               notices[0].pk, notices[-1].pk, error)
                continue
            Notice.objects.filter(pk__in=[n.pk for n in notices]).update(status=Notice.Status.DIGESTED,
                                                                         sent_at=clock.now())
            sent += 1
            count += len(notices)
    return f"digests: {sent} sent ({count} notices), {failed} failed"


def _due(now: dt.datetime):
    window_open = Notice.objects.filter(kind=OuterRef("kind"), object_type=OuterRef("object_type"),
                                        object_id=OuterRef("object_id"), recipient=OuterRef("recipient"),
                                        status=Notice.Status.SENT, created_at__gt=now - THROTTLE_WINDOW)
    return (Notice.objects
            .filter(Q(status=Notice.Status.FOLDED) | Q(status=Notice.Status.FAILED,
                                                       created_at__gt=now - FAILED_RETRY_WINDOW))
            .filter(created_at__lte=now)
            .exclude(Exists(window_open)))


def _digest_message(recipient: str, notices: list[Notice]) -> EmailMessage:
    items = [{"subject": n.subject, "body": n.body.rstrip(), "created_at": n.created_at,
              "link": _absolute(n.url) if n.url else "", "failed": n.status == Notice.Status.FAILED}
             for n in notices]
    text = render_to_string("emails/notice_digest.txt", {"notices": items})
    subject = f"Loopwise digest: {len(items)} notice{'s' if len(items) != 1 else ''}"
    return EmailMessage(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[recipient])


def _send(messages: list[EmailMessage]) -> str:
    """Send over one SMTP connection; the error text (redacted) or "" on success."""
    try:
        with get_connection(fail_silently=False) as conn:
            conn.send_messages(messages)
    except _SEND_ERRORS as e:
        return redact(f"{type(e).__name__}: {e}")[:500]
    return ""


def _absolute(url: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + url if url.startswith("/") else url


# ---------------------------------------------------------------------------------------------------------------
# Who to tell


def coordinator_emails(obj: SchedulingRequest | Requisition | Application) -> list[str]:
    """The address that should hear about trouble with `obj`: the request's coordinator, else the requisition's
    coordinator (active staff with an email), else the ATS connection's fallback address, else
    `fallback_emails()`. Always one address, except when no fallback is configured at all."""
    if isinstance(obj, SchedulingRequest):
        requisition = obj.plan.requisition
        people = [obj.coordinator, requisition.coordinator]
        connections = [requisition.ats_connection, obj.application.ats_connection]
    elif isinstance(obj, Application):
        requisition = obj.requisition
        people = [requisition.coordinator]
        connections = [requisition.ats_connection, obj.ats_connection]
    elif isinstance(obj, Requisition):
        people = [obj.coordinator]
        connections = [obj.ats_connection]
    else:
        raise TypeError(f"coordinator_emails: expected a request, application or requisition, not {type(obj)!r}")
    for user in people:
        if user is not None and user.is_active and user.email:
            return [user.email]
    for connection in connections:
        if connection is not None and connection.fallback_email:
            return [connection.fallback_email]
    return fallback_emails()


def fallback_emails() -> list[str]:
    """Who hears about problems nobody owns: settings.ADMINS, else the active superusers (at most five)."""
    admins = [email for _name, email in settings.ADMINS]
    if admins:
        return admins
    return list(User.objects.filter(is_superuser=True, is_active=True).exclude(email="")
                .order_by("pk").values_list("email", flat=True)[:5])


def recipients_for(*, payload: dict, target: str = "") -> list[str]:
    """Recipients for work named by ids (an outbox item): `request_id` or `requisition_id` in the payload, or
    an `ats:<id>` target, point at the owner; anything else goes to `fallback_emails()`."""
    request = requisition = None
    if payload.get("request_id"):
        request = SchedulingRequest.objects.select_related(
            "coordinator", "plan__requisition__coordinator", "plan__requisition__ats_connection",
            "application__ats_connection").filter(pk=payload["request_id"]).first()
    if request is not None:
        return coordinator_emails(request)
    if payload.get("requisition_id"):
        requisition = Requisition.objects.select_related("coordinator", "ats_connection").filter(
            pk=payload["requisition_id"]).first()
    if requisition is not None:
        return coordinator_emails(requisition)
    if target.startswith("ats:"):
        connection = AtsConnection.objects.filter(pk=target[4:]).first() if target[4:].isdigit() else None
        if connection is not None and connection.fallback_email:
            return [connection.fallback_email]
    return fallback_emails()
