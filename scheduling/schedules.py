"""Every periodic task, declared once and applied by `manage.py sync_schedules` at deploy.

Schedules are django-q2 `Schedule` rows (editable in the admin). Ours are named "loopwise:<name>"; a sync
creates or updates them by name and deletes Loopwise schedules no longer declared here, leaving anyone
else's alone. Cron expressions are read in TIME_ZONE (UTC).
"""

from __future__ import annotations

from django.db import transaction
from django_q.models import Schedule

__all__ = ["PREFIX", "SCHEDULES", "sync_schedules"]

PREFIX = "loopwise:"

# (name, task, cron, comment)
SCHEDULES: list[tuple[str, str, str, str]] = [
    ("sweep-work", "scheduling.tasks.sweep_work", "* * * * *",
     "Queue due outbox items and webhook events again, and rescue those a lost worker left running."),
    ("notice-digests", "scheduling.tasks.send_notice_digests", "*/10 * * * *",
     "Send each staff member one digest of the notices held back by the hourly limit."),
    ("freebusy-refresh", "integrations.tasks.refresh_free_busy", "*/5 * * * *",
     "Read every stale calendar's free/busy into the cache; calendars that fail turn amber, then red, and the "
     "coordinators hear of it."),
    ("options-catch-all", "scheduling.tasks.recompute_stale_options", "3-59/5 * * * *",
     "Re-solve the option sets of open requests computed before the latest busy-time change or booking of their "
     "people and rooms (the safety net under the recompute queued by each change)."),
    ("ats-poll", "integrations.tasks.poll_ats", "*/5 * * * *",
     "Find ATS stage changes since the last poll (the safety net under webhooks) and flag quiet webhooks."),
    ("health-checks", "integrations.tasks.check_connections", "23 * * * *",
     "Check every connection's credentials and read components hourly, so a broken one shows before it is needed."),
    ("retention", "scheduling.tasks.run_retention", "17 3 * * *",
     "Erase candidates past RETENTION_DAYS and blank webhook bodies past WEBHOOK_BODY_RETENTION_DAYS."),
    ("reminders", "scheduling.tasks.send_reminders", "*/5 * * * *",
     "Queue each due reminder step (candidate email, coordinator note) once; the outbox sends it."),
    ("link-expiry-warnings", "scheduling.tasks.escalate_expiring_links", "2-59/15 * * * *",
     "Tell coordinators about unused links that expire within LINK_EXPIRY_WARNING_HOURS (once per expiry)."),
    ("expire-requests", "scheduling.tasks.expire_requests", "7-59/15 * * * *",
     "Move requests whose link ran out unused to 'Link expired', and tell their coordinators."),
    ("training-progress", "scheduling.tasks.record_training", "12-59/15 * * * *",
     "Count the sessions trainees sat that took place, and move them on to reverse shadow or trained."),
]


def sync_schedules() -> list[str]:
    """Make the Schedule rows match SCHEDULES. Returns one line per schedule: created, updated, unchanged or
    deleted. Running it twice changes nothing the second time."""
    report = []
    with transaction.atomic():
        wanted = {PREFIX + name for name, *_ in SCHEDULES}
        for name, func, cron, _comment in SCHEDULES:
            full = PREFIX + name
            fields = {"func": func, "schedule_type": Schedule.CRON, "cron": cron, "repeats": -1}
            # The name column is not unique: keep the oldest row of a name, drop copies made by hand.
            rows = list(Schedule.objects.filter(name=full).order_by("pk"))
            for extra in rows[1:]:
                extra.delete()
            current = rows[0] if rows else None
            if current is not None and all(getattr(current, k) == v for k, v in fields.items()):
                report.append(f"unchanged {full}")
                continue
            obj, created = Schedule.objects.update_or_create(name=full, defaults=fields)
            if not created:
                # django-q2 computes a cron's next run only when the row is first saved.
                obj.next_run = obj.calculate_next_run()
                obj.save(update_fields=["next_run"])
            report.append(f"{'created' if created else 'updated'} {full}: {func} at '{cron}'")
        for stale in Schedule.objects.filter(name__startswith=PREFIX).exclude(name__in=wanted).order_by("name"):
            report.append(f"deleted {stale.name}")
            stale.delete()
    return report
