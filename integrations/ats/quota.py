"""A provider's daily API call quota, kept where the recruiting team sees it (iCIMS; issue 9).

iCIMS allows a licence a number of calls per day (10,000 typically) and says how many are left on every answer
(`x-ratelimit-limit`, `x-ratelimit-remaining`, `x-ratelimit-reset`: seconds to the reset at 00:00 UTC; contract
§1.10 and §1.12). Once it is spent, every call fails until the reset: no candidate is picked up, nothing is written
back. The adapter reads the headers (`AtsProvider.api_quota()`) and, when it is closed, hands its last reading to
`quota_record`, which keeps it on the connection (`api_quota_*`, shown in the admin) and sets the health of the
connection's "quota" component row (shown in the admin and on the dashboard):

- OK while more than WARN_BELOW of the day's calls are left;
- DEGRADED ("failing": amber) once WARN_BELOW or fewer are left, with how many and when it resets, and no email:
  20 % is the contract's suggested throttle point (§1.12), and at Loopwise's own pace (a poll every 5 minutes, a few
  calls per candidate) it leaves hours of calls, time for someone to find what is eating them (another
  integration on the same API user, a loop) before candidates stop being picked up;
- RED once none are left, saying when it resets; turning red tells the connection's coordinators once
  (`health.mark_failure`). The first reading after the reset turns it green again.

Readings are applied in the order they were taken (a worker that read the headers earlier never overwrites a
later reading).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q

from integrations.ats import health
from integrations.ats.base import ApiQuota
from integrations.models import AtsComponentHealth, AtsConnection, Health
from scheduling import clock

__all__ = ["COMPONENT", "WARN_BELOW", "quota_level", "quota_text", "quota_record", "stored_quota"]

COMPONENT = "quota"
WARN_BELOW = 0.20  # the share of the day's calls left under which the admin warns (see the module docstring)


def quota_level(quota: ApiQuota) -> str:
    """"exhausted", "low", "ok", or "unknown" (no remaining count)."""
    if quota.remaining is None:
        return "unknown"
    if quota.remaining <= 0:
        return "exhausted"
    if quota.limit and quota.remaining <= quota.limit * WARN_BELOW:
        return "low"
    return "ok"


def _until(moment: dt.datetime, now: dt.datetime) -> str:
    seconds = int((moment - now).total_seconds())
    if seconds <= 0:
        return "the reset time has passed; the next call will tell"
    hours, minutes = divmod(seconds // 60, 60)
    return f"in {hours} h {minutes:02d} min" if hours else f"in {minutes} min"


def quota_text(quota: ApiQuota, *, now: dt.datetime | None = None) -> str:
    """The quota in words: how many calls are left of how many, and when it resets."""
    now = now or clock.now()
    left = "?" if quota.remaining is None else f"{quota.remaining:,}"
    of = f" of {quota.limit:,}" if quota.limit else ""
    reset = (f"; resets at {quota.resets_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC ({_until(quota.resets_at, now)})"
             if quota.resets_at else "")
    level = quota_level(quota)
    if level == "exhausted":
        return f"Daily API quota exhausted: 0{of} calls left{reset}. Until then every call to the ATS is refused."
    if level == "low":
        return (f"Daily API quota running low: {left}{of} calls left (at or below {WARN_BELOW:.0%}){reset}. Look "
                "for what is using the calls before they run out.")
    return f"{left}{of} API calls left today{reset}."


def stored_quota(connection: AtsConnection) -> ApiQuota | None:
    """The reading stored on `connection`, or None."""
    if connection.api_quota_seen_at is None:
        return None
    return ApiQuota(limit=connection.api_quota_limit, remaining=connection.api_quota_remaining,
                    resets_at=connection.api_quota_resets_at, seen_at=connection.api_quota_seen_at)


def quota_record(*, connection: AtsConnection, quota: ApiQuota) -> str:
    """Keep `quota` on `connection` and set its "quota" component's health (see the module docstring). Returns the
    level recorded, or "stale" when a later reading is stored already."""
    if quota.remaining is None and quota.limit is None:
        return "unknown"
    fields = {"api_quota_limit": quota.limit, "api_quota_remaining": max(quota.remaining or 0, 0)
              if quota.remaining is not None else None, "api_quota_resets_at": quota.resets_at,
              "api_quota_seen_at": quota.seen_at}
    newer = Q(api_quota_seen_at__isnull=True) | Q(api_quota_seen_at__lte=quota.seen_at)
    if not AtsConnection.objects.filter(pk=connection.pk).filter(newer).update(**fields):
        return "stale"
    for name, value in fields.items():
        setattr(connection, name, value)
    level, text = quota_level(quota), quota_text(quota)
    if level == "exhausted":
        health.mark_failure(connection=connection, component=COMPONENT, error=text, permanent=True)
    elif level == "low":
        row, _ = AtsComponentHealth.objects.get_or_create(connection_id=connection.pk, component=COMPONENT)
        AtsComponentHealth.objects.filter(pk=row.pk).update(health=Health.DEGRADED, last_error=text,
                                                             last_error_at=clock.now(), consecutive_failures=0)
    elif level == "ok":
        health.mark_success(connection=connection, component=COMPONENT)
    return level
