"""The portal's own write: the time zone a candidate chose. Booking, cancelling, proposing times and asking
for a new link are the booking services' (`scheduling.booking`)."""

from __future__ import annotations

from candidates_portal.display import canonical_zone
from scheduling.models import SchedulingRequest

__all__ = ["candidate_timezone_set"]


def candidate_timezone_set(*, request: SchedulingRequest, zone: str) -> None:
    """Remember `zone` (an IANA name; an old name a browser reports, such as Asia/Calcutta, is stored under its
    current one) as the candidate's time zone for `request`: pages and emails show times in it. Raises
    ValueError for a name that is not one of `display.zone_names()`."""
    name = canonical_zone(zone)
    if name is None:
        raise ValueError(f"{zone!r} is not a time zone the portal offers")
    zone = name
    SchedulingRequest.objects.filter(pk=request.pk).update(candidate_timezone=zone)
    request.candidate_timezone = zone
