"""How the portal writes times for a candidate: in their zone, with the zone's abbreviation, days in words.

Pure functions (no database, no settings); the instants they take are aware. A zone whose abbreviation is only an offset
(`+04`, as tzdata writes many) is shown as `UTC+04`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import lru_cache

from django.utils.html import escape
from django.utils.safestring import mark_safe

__all__ = ["PER_DAY", "COMMON_ZONES", "ALIASES", "canonical_zone", "parse_instant", "zone_abbr", "fmt_time",
           "fmt_day", "fmt_when", "fmt_span", "fmt_minutes", "options_by_day", "zone_choices", "zone_options_html",
           "zone_names", "zone_title"]

PER_DAY = 8  # start times shown per day before "more times"

# Shown first in the zone list: where most candidates are, west to east.
COMMON_ZONES = (
    "America/Los_Angeles", "America/Denver", "America/Chicago", "America/New_York", "America/Toronto",
    "America/Mexico_City", "America/Sao_Paulo", "UTC", "Europe/London", "Europe/Dublin", "Europe/Lisbon",
    "Europe/Paris", "Europe/Berlin", "Europe/Madrid", "Europe/Amsterdam", "Europe/Warsaw", "Africa/Lagos",
    "Africa/Johannesburg", "Europe/Istanbul", "Africa/Nairobi", "Asia/Dubai", "Asia/Karachi", "Asia/Kolkata",
    "Asia/Dhaka", "Asia/Bangkok", "Asia/Singapore", "Asia/Shanghai", "Asia/Manila", "Asia/Tokyo",
    "Australia/Sydney", "Pacific/Auckland",
)
# Browsers report zones by ICU's ids, which keep some names tzdata has since renamed (Chromium says
# "Asia/Calcutta" for India); these are stored under tzdata's current name.
ALIASES = {
    "Asia/Calcutta": "Asia/Kolkata", "Asia/Katmandu": "Asia/Kathmandu", "Asia/Saigon": "Asia/Ho_Chi_Minh",
    "Asia/Rangoon": "Asia/Yangon", "Europe/Kiev": "Europe/Kyiv", "Atlantic/Faeroe": "Atlantic/Faroe",
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires", "America/Catamarca": "America/Argentina/Catamarca",
    "America/Cordoba": "America/Argentina/Cordoba", "America/Jujuy": "America/Argentina/Jujuy",
    "America/Mendoza": "America/Argentina/Mendoza", "America/Indianapolis": "America/Indiana/Indianapolis",
    "America/Louisville": "America/Kentucky/Louisville", "America/Godthab": "America/Nuuk",
    "Pacific/Truk": "Pacific/Chuuk", "Pacific/Ponape": "Pacific/Pohnpei", "Pacific/Enderbury": "Pacific/Kanton",
    "Africa/Asmera": "Africa/Asmara", "Asia/Dacca": "Asia/Dhaka", "Asia/Thimbu": "Asia/Thimphu",
    "Asia/Ulan_Bator": "Asia/Ulaanbaatar", "Asia/Macao": "Asia/Macau",
}
_SKIP_PREFIXES = ("Etc/", "SystemV/", "posix/", "right/", "US/", "Canada/", "Brazil/", "Mexico/", "Chile/")


def parse_instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def zone_abbr(instant: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    name = instant.astimezone(zone).tzname() or ""
    return f"UTC{name}" if name[:1] in "+-" and name else name or str(zone)


def fmt_time(instant: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    return f"{instant.astimezone(zone):%H:%M}"


def fmt_day(instant: dt.datetime, zone: zoneinfo.ZoneInfo, *, now: dt.datetime) -> str:
    """'Monday 7 December' (with the year when it is not the current one in that zone)."""
    local = instant.astimezone(zone)
    text = f"{local:%A} {local.day} {local:%B}"
    return text if local.year == now.astimezone(zone).year else f"{text} {local.year}"


def fmt_when(instant: dt.datetime, zone: zoneinfo.ZoneInfo, *, now: dt.datetime) -> str:
    """'Monday 7 December, 09:30 IST'."""
    return f"{fmt_day(instant, zone, now=now)}, {fmt_time(instant, zone)} {zone_abbr(instant, zone)}"


def fmt_span(start: dt.datetime, end: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """'09:30–10:30 IST' (the end's abbreviation too when the clocks change in between)."""
    a, b = zone_abbr(start, zone), zone_abbr(end, zone)
    first = fmt_time(start, zone) + (f" {a}" if a != b else "")
    return f"{first}–{fmt_time(end, zone)} {b}"


def fmt_minutes(minutes: int) -> str:
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def options_by_day(options: list[dict], zone: zoneinfo.ZoneInfo, *, now: dt.datetime, per_day: int = PER_DAY,
                   current: str | None = None) -> list[dict]:
    """The options' start times grouped by local day, in order: `[{"label", "abbr", "count", "shown", "more"}]`,
    `shown` and `more` being the day's time buttons as HTML (the first `per_day`, then the rest). A button posts
    the option's start as stored and reads the local time ("09:30"); the day and zone come from the heading
    that labels the group. The booking's own start (`current`) is disabled and says so. Options that cannot
    be read, or that start before `now` (the stored set ages), are skipped. Up to 5000 options: the buttons are
    written here in one pass, which is some ten times faster than a template loop."""
    days: list[dict] = []
    by_date: dict[dt.date, dict] = {}
    current_at = _maybe(current)
    for option in options:
        start = _maybe(option.get("start") if isinstance(option, dict) else None)
        if start is None or start <= now:
            continue
        local = start.astimezone(zone)
        day = by_date.get(local.date())
        if day is None:
            day = by_date[local.date()] = {"label": fmt_day(start, zone, now=now), "abbr": zone_abbr(start, zone),
                                           "offset": local.utcoffset(), "times": []}
            days.append(day)
        label = f"{local.hour:02d}:{local.minute:02d}"
        if local.utcoffset() != day["offset"]:  # the clocks changed during this day
            label += f" {zone_abbr(start, zone)}"
        day["times"].append(_button(option["start"], label, current=current_at is not None and start == current_at))
    for day in days:
        times = day.pop("times")
        del day["offset"]
        day["count"] = len(times)
        day["shown"], day["more"] = mark_safe("".join(times[:per_day])), mark_safe("".join(times[per_day:]))
        day["more_count"] = max(len(times) - per_day, 0)
    return days


def _button(value: str, label: str, *, current: bool) -> str:
    if current:
        return (f'<button name="start" value="{escape(value)}" class="current" disabled>{label}'
                f'<span class="sr-only"> (your current time)</span></button>')
    return f'<button name="start" value="{escape(value)}">{label}</button>'


def _maybe(value: str | None) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_instant(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """IANA zones a person would pick: Area/Place names and UTC, without the legacy aliases."""
    names = {n for n in zoneinfo.available_timezones()
             if "/" in n and not n.startswith(_SKIP_PREFIXES)}
    return tuple(sorted(names | {"UTC"}))


def canonical_zone(name: str) -> str | None:
    """`name` under tzdata's current name when it is a zone the portal offers (or an ICU alias of one), else
    None."""
    name = ALIASES.get(name, name)
    return name if name in zone_names() else None


def zone_title(name: str) -> str:
    return name.replace("_", " ")


def _offset(name: str, at: dt.datetime) -> str:
    offset = at.astimezone(zoneinfo.ZoneInfo(name)).utcoffset() or dt.timedelta(0)
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@lru_cache(maxsize=2)
def _choices(hour: dt.datetime) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    known = set(zone_names())
    common = tuple((n, f"{zone_title(n)} ({_offset(n, hour)})") for n in COMMON_ZONES if n in known)
    rest = tuple((n, zone_title(n)) for n in zone_names())
    return common, rest


def zone_choices(*, now: dt.datetime) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """(common zones with their current UTC offset, every zone), as (value, label) pairs for a <select>."""
    return _choices(_hour(now))


def _hour(now: dt.datetime) -> dt.datetime:
    return now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


@lru_cache(maxsize=2)
def _zone_options(hour: dt.datetime) -> tuple[str, str]:
    common, every = _choices(hour)
    return ("".join(f'<option value="{escape(v)}">{escape(label)}</option>' for v, label in common),
            "".join(f'<option value="{escape(v)}">{escape(label)}</option>' for v, label in every))


def zone_options_html(*, now: dt.datetime, selected: str) -> str:
    """The <option>s of the zone <select> in two groups, common zones first, `selected` selected. Some 600
    options: built once an hour (the common ones show their current offset), not by a template loop on every
    page."""
    common, every = _zone_options(_hour(now))
    plain, chosen = f'<option value="{escape(selected)}">', f'<option value="{escape(selected)}" selected>'
    if plain in common:
        common = common.replace(plain, chosen, 1)
    else:
        every = every.replace(plain, chosen, 1)
    return mark_safe(f'<optgroup label="Common time zones">{common}</optgroup>'
                     f'<optgroup label="All time zones">{every}</optgroup>')
