"""Reminder sequences (issue #7): chase a candidate who has not chosen a time, and tell the coordinator.

Which sequence: the plan's own active sequence (the oldest, if several), else the oldest active global one (no
plan). A step is due `delay_hours` after the request's link was last sent (`link_sent_at`), while the request
waits for the candidate; as soon as it is booked, cancelled or leaves `awaiting_candidate` for any reason, no
further step goes out (the selection skips it, and delivery checks again under the request's lock).

Once, also across worker restarts:
1. `reminders_run` (every 5 minutes) claims each due (request, step): one transaction inserts a ReminderSend
   whose key `reminder:<request>:<step>` is unique and an OutboxItem with the same key. A second worker, or a
   rerun, hits the unique key and claims nothing. When several steps of one request are due at once (workers
   were down, or a sequence was added late), only the latest is sent; the earlier ones are recorded as skipped,
   so a candidate never gets two reminders in one go.
2. The outbox delivers it (`reminder_deliver`, kind `mail.reminder`), with its retries and its dead state shown on
   the dashboard. Before it talks to the mail server it moves the row from `queued` to `sending` in a committed,
   conditional update. If the mail server refuses, or cannot be reached, the row goes back to `queued` and the
   outbox retries. A worker killed after claiming its outbox item but before that update is rescued by the
   outbox sweep and sends once; one killed while `sending` (the email may or may not have gone) leaves the row
   `sending`, and the next attempt marks it `uncertain` without sending: a reminder is sent once or not at all,
   never twice. The same holds when the mail server's answer is lost (timeout, dropped connection).

The link: only a link's hash is stored, so a reminder cannot carry the URL the candidate already has. It rotates
the token instead (`scheduling.escalation.link_rotate`: the old link is revoked and a new one with the same
expiry takes its place) in the transaction that sends the email, so a refused email leaves the old link working.
The reminder says plainly that it replaces the earlier link. A candidate who opened their page within the last
hour gets no reminder for that step (skipped): they are choosing, and a new token would end their session.
Rotating does not move `link_sent_at`, so the sequence keeps its timing; regenerating the link (a new first email)
does move it, and later steps count from there. Each step is sent at most once per request either way.

Emails are templated (templates/emails/candidate_reminder.txt and .html) and show the link's expiry and a few
start times on offer in the candidate's zone, as the other candidate emails do (`scheduling.candidate_mail`).
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib

from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from scheduling import clock
from scheduling.audit import audit_log
from scheduling.candidate_mail import candidate_zone, format_local, sender
from scheduling.errors import NotBookable, PermanentError
from scheduling.escalation import Budget, link_rotate
from scheduling.links import portal_url, request_admin_url
from scheduling.locks import lock_names
from scheduling.models import (
    OrganisationSettings,
    OutboxItem,
    ReminderSend,
    ReminderSequence,
    ReminderStep,
    SchedulingLink,
    SchedulingRequest,
    SessionTemplate,
)
from scheduling.notifications import coordinator_emails, notify
from scheduling.work import outbox_enqueue

__all__ = ["REMINDER_KIND", "reminder_key", "sequences_by_plan", "reminders_run", "reminder_claim",
           "reminder_deliver", "reminder_message"]

logger = logging.getLogger(__name__)

S = SchedulingRequest.State
Action = ReminderStep.Action
Status = ReminderSend.Status
REMINDER_KIND = "mail.reminder"
BATCH = 200
EXAMPLE_TIMES = 3
IN_USE = dt.timedelta(hours=1)
_REQUEST_RELATED = ("coordinator", "plan__requisition__coordinator", "plan__requisition__ats_connection",
                    "application__candidate", "application__ats_connection")


def reminder_key(request_id: int, step_id: int) -> str:
    return f"reminder:{request_id}:{step_id}"


# ---------------------------------------------------------------------------------------------------------------
# Claiming


def sequences_by_plan() -> tuple[dict[int, list[ReminderStep]], list[ReminderStep]]:
    """(plan id -> steps of that plan's sequence, steps of the global sequence), active sequences only, each list
    in order of delay. Two queries."""
    by_plan: dict[int, list[ReminderStep]] = {}
    default: list[ReminderStep] | None = None
    for seq in ReminderSequence.objects.filter(active=True).order_by("pk").prefetch_related("steps"):
        steps = sorted(seq.steps.all(), key=lambda s: (s.delay_hours, s.position, s.pk))
        if seq.plan_id is None:
            default = steps if default is None else default
        else:
            by_plan.setdefault(seq.plan_id, steps)
    return by_plan, default or []


def reminders_run(*, budget_seconds: float = 60.0, batch: int = BATCH) -> str:
    """Claim every due reminder step (see the module docstring); the outbox sends them. Returns a summary."""
    budget = Budget(budget_seconds)
    by_plan, default = sequences_by_plan()
    delays = [s.delay_hours for steps in [*by_plan.values(), default] for s in steps]
    if not delays:
        return "reminders: no active sequence"
    claimed = skipped = 0
    after = 0
    while not budget.spent():
        now = clock.now()
        rows = list(SchedulingRequest.objects
                    .filter(state=S.AWAITING_CANDIDATE, link_sent_at__lte=now - dt.timedelta(hours=min(delays)),
                            pk__gt=after)
                    .order_by("pk").values_list("pk", "plan_id", "link_sent_at")[:batch])
        if not rows:
            break
        after = rows[-1][0]
        done = set(ReminderSend.objects.filter(request_id__in=[r[0] for r in rows])
                   .values_list("request_id", "step_id"))
        for request_id, plan_id, sent_at in rows:
            steps = by_plan.get(plan_id, default)
            due = [s for s in steps if sent_at + dt.timedelta(hours=s.delay_hours) <= now
                   and (request_id, s.pk) not in done]
            if not due:
                continue
            *earlier, latest = due
            for step in earlier:
                skipped += reminder_claim(request_id=request_id, step=step, link_sent_at=sent_at,
                                          skip="a later step was due at the same time") is not None
            claimed += reminder_claim(request_id=request_id, step=latest, link_sent_at=sent_at) is not None
            if budget.spent():
                break
        if len(rows) < batch:
            break
    return f"reminders: {claimed} queued, {skipped} skipped (a later step was due)"


def reminder_claim(*, request_id: int, step: ReminderStep, link_sent_at: dt.datetime, skip: str = ""
                   ) -> ReminderSend | None:
    """Claim step `step` for request `request_id`: the ReminderSend row and, unless `skip` says why not, its
    OutboxItem, in one transaction. Returns None when it was claimed before (by anyone)."""
    now = clock.now()
    key = reminder_key(request_id, step.pk)
    try:
        with transaction.atomic():
            send = ReminderSend.objects.create(
                request_id=request_id, step=step, key=key, action=step.action, claimed_at=now,
                due_at=link_sent_at + dt.timedelta(hours=step.delay_hours),
                status=Status.SKIPPED if skip else Status.QUEUED, note=skip[:200])
            if not skip:
                outbox_enqueue(kind=REMINDER_KIND, key=key, target=f"request:{request_id}",
                               payload={"request_id": request_id, "reminder_send_id": send.pk, "step_id": step.pk})
    except IntegrityError:
        return None
    return send


# ---------------------------------------------------------------------------------------------------------------
# Delivering (the outbox handler)


class _Progress:
    """How far one delivery got: past this point the mail server may have the email."""

    handed_over = False


def reminder_deliver(item: OutboxItem) -> str:
    """Outbox handler for `mail.reminder`: send one claimed reminder step, at most once (module docstring)."""
    send = ReminderSend.objects.select_related("step").filter(pk=item.payload.get("reminder_send_id")).first()
    if send is None:
        return "skipped: the reminder step was deleted"
    if send.status in (Status.SENT, Status.SKIPPED, Status.UNCERTAIN):
        return f"reminder #{send.pk}: already {send.get_status_display().lower()}"
    won = ReminderSend.objects.filter(pk=send.pk, status=Status.QUEUED).update(status=Status.SENDING,
                                                                               sending_at=clock.now())
    if not won:
        # Found `sending`: an earlier attempt stopped mid-send, and the email may have reached the candidate.
        if ReminderSend.objects.filter(pk=send.pk, status=Status.SENDING).update(
                status=Status.UNCERTAIN, note="a worker stopped while sending it; not sent again"):
            audit_log(action="reminder.uncertain", obj=send.request, actor_label="worker",
                      summary=f"reminder #{send.pk} (step #{send.step_id}) not sent again: an earlier attempt "
                              "stopped while sending")
        return f"reminder #{send.pk}: not sent again (an earlier attempt stopped while sending)"
    progress = _Progress()
    try:
        return _deliver(send, progress)
    except smtplib.SMTPRecipientsRefused:
        # The server answered that it will not take the address: retrying cannot help.
        _requeue(send)
        raise PermanentError("the mail server refused the candidate's address")
    except smtplib.SMTPResponseException as e:
        # The server answered: it did not take the email; 4xx is worth retrying, 5xx is not.
        _requeue(send)
        if 500 <= e.smtp_code < 600:
            raise PermanentError(f"the mail server refused the reminder ({e.smtp_code})")
        raise
    except Exception:
        if not progress.handed_over:
            _requeue(send)
        raise


def _requeue(send: ReminderSend) -> None:
    ReminderSend.objects.filter(pk=send.pk, status=Status.SENDING).update(status=Status.QUEUED, sending_at=None)


def _finish(send: ReminderSend, status: str, note: str = "") -> None:
    fields = {"status": status, "note": note[:200]}
    if status == Status.SENT:
        fields["sent_at"] = clock.now()
    ReminderSend.objects.filter(pk=send.pk, status=Status.SENDING).update(**fields)


def _deliver(send: ReminderSend, progress: _Progress) -> str:
    step_text = f"step #{send.step_id} (after {send.step.delay_hours} h)"
    candidate_too = send.action in (Action.REMIND_CANDIDATE, Action.BOTH)
    with transaction.atomic():
        lock_names([f"request:{send.request_id}"])
        request = SchedulingRequest.objects.select_related(*_REQUEST_RELATED, "plan").get(pk=send.request_id)
        why_not = _why_not(request)
        if why_not:
            _finish(send, Status.SKIPPED, why_not)
            return f"reminder #{send.pk}: skipped ({why_not})"
        link_id = None
        if candidate_too and _in_use(request):
            _finish(send, Status.SKIPPED, "the candidate was on their booking page in the last hour")
            return f"reminder #{send.pk}: skipped (the link is in use)"
        if candidate_too:
            try:
                link, token = link_rotate(request=request)
            except NotBookable:
                _finish(send, Status.SKIPPED, "the link has expired or was revoked")
                return f"reminder #{send.pk}: skipped (no live link)"
            link_id = link.pk
            message = reminder_message(request=request, url=portal_url(token), expires_at=link.expires_at)
            connection = get_connection(fail_silently=False)
            connection.open()  # a failure here is certain: nothing was handed over
            try:
                progress.handed_over = True
                connection.send_messages([message])
            finally:
                connection.close()
        _finish(send, Status.SENT)
        audit_log(action="reminder.sent", obj=request, actor_label="worker",
                  summary=f"reminder #{send.pk}, {step_text}: "
                          + (f"emailed to the candidate with link #{link_id}" if candidate_too else "")
                          + ("; " if candidate_too and send.action == Action.BOTH else "")
                          + ("coordinator told" if send.action != Action.REMIND_CANDIDATE else ""))
    if send.action in (Action.NOTIFY_COORDINATOR, Action.BOTH):
        _tell_coordinator(request, send, reminded=candidate_too)
    return f"reminder #{send.pk} sent ({send.get_action_display().lower()})"


def _in_use(request: SchedulingRequest) -> bool:
    """The candidate opened their page within IN_USE: they need no reminder, and rotating the link now would
    end the session they are in."""
    return SchedulingLink.objects.filter(request=request, revoked_at__isnull=True,
                                         last_used_at__gte=clock.now() - IN_USE).exists()


def _why_not(request: SchedulingRequest) -> str:
    if request.state != S.AWAITING_CANDIDATE:
        return f"the request is {request.get_state_display().lower()}"
    if request.application.candidate.erased_at is not None:
        return "the candidate was erased"
    return ""


def _tell_coordinator(request: SchedulingRequest, send: ReminderSend, *, reminded: bool) -> None:
    hours = send.step.delay_hours
    notify(kind="reminder.coordinator", obj=request, recipients=coordinator_emails(request),
           subject=f"Request #{request.pk}: no time chosen {hours} h after the link was sent",
           body=(f"The candidate of request #{request.pk} ({request.plan}) has not chosen a time {hours} hours "
                 f"after their scheduling link was sent."
                 + (" A reminder with a fresh link was emailed to them just now." if reminded else "")
                 + " You may want to contact them, or extend or regenerate the link."),
           url=request_admin_url(request))


def reminder_message(*, request: SchedulingRequest, url: str, expires_at: dt.datetime) -> EmailMultiAlternatives:
    """The candidate's reminder: the new link, when it stops working and a few times on offer, in their zone."""
    org = OrganisationSettings.load()
    zone = candidate_zone(request)
    now = clock.now()
    examples, days = [], set()
    for option in request.options or []:
        try:
            start = dt.datetime.fromisoformat(str(option["start"]).replace("Z", "+00:00"))
        except (KeyError, TypeError, ValueError):
            continue
        local = start.astimezone(zone)
        if start > now and local.date() not in days:
            days.add(local.date())
            examples.append(format_local(start, zone))
        if len(examples) == EXAMPLE_TIMES:
            break
    context = {"company": org.company_name, "logo_url": org.logo_url, "support_contact": org.support_contact,
               "reply_to": org.reply_to_email, "first_name": request.application.candidate.first_name,
               "role": request.plan.requisition.title, "zone": str(zone), "url": url,
               "expires": format_local(expires_at, zone), "examples": examples,
               "sessions": [{"name": s.name, "minutes": s.duration_minutes, "is_break": s.is_break}
                            for s in SessionTemplate.objects.filter(plan=request.plan).order_by("position", "id")]}
    from_email, reply_to = sender(org)
    subject = f"{org.company_name}: a reminder to choose your {context['role']} interview time"
    message = EmailMultiAlternatives(subject=subject, body=render_to_string("emails/candidate_reminder.txt", context),
                                     from_email=from_email, to=[request.application.candidate.email],
                                     reply_to=reply_to)
    message.attach_alternative(render_to_string("emails/candidate_reminder.html", context), "text/html")
    return message
