"""Local clocks of IANA time zones as arrays, so that thousands of instants convert in one NumPy call.

`zoneinfo` answers one instant at a time and keeps its transition table private. `ZoneClock` recovers the
transitions that fall in the span a problem can touch (by sampling the offset every six hours and bisecting
each change to the second) and then converts both ways with `searchsorted`:

- `local(utc)`: the wall-clock reading of an instant, as microseconds on a naive "local epoch" scale;
- `utc_of_local(local)`: the instant of a wall-clock reading the way `zoneinfo` reads it with `fold=0`:
  a reading inside a spring-forward gap takes the offset in force before the change (02:30 in New York on
  2027-03-14 is 07:30Z, which shows as 03:30 EDT), and a reading that occurs twice takes its first
  occurrence. For a change at instant T from offset `before` to `after`, every reading below
  `T + max(before, after)` belongs to the earlier offset: that one threshold covers both cases.

Assumption, true of every zone in the tz database for the years a scheduler meets: a zone does not change
its offset twice within six hours. Tests compare both conversions with `zoneinfo` itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from .instants import DAY, SECOND

_SAMPLE = 6 * 3600  # seconds between offset samples


@dataclass(frozen=True, slots=True)
class ZoneClock:
    """Offsets of one zone over a span of days; see the module docstring."""

    name: str
    transitions: np.ndarray  # instants (µs) at which a new offset starts, sorted
    offsets: np.ndarray  # µs; offsets[i] holds before transitions[i], offsets[-1] after the last
    thresholds: np.ndarray  # local readings (µs) from which fold=0 reads with the next offset

    def local(self, utc: np.ndarray) -> np.ndarray:
        """Wall-clock readings (µs on the local scale) of instants (µs)."""
        return utc + self.offsets[np.searchsorted(self.transitions, utc, side="right")]

    def utc_of_local(self, local: np.ndarray) -> np.ndarray:
        """Instants (µs) of wall-clock readings, read with fold=0."""
        return local - self.offsets[np.searchsorted(self.thresholds, local, side="right")]

    def local_days(self, utc: np.ndarray) -> np.ndarray:
        """Local calendar day of each instant, as days since 1970-01-01 (a Thursday)."""
        return self.local(utc) // DAY


def week_of(days: np.ndarray | int) -> np.ndarray | int:
    """The ISO week of a day number, named by the day number of its Monday."""
    return days - (days + 3) % 7


def weekday(days: np.ndarray | int) -> np.ndarray | int:
    """0 for Monday ... 6 for Sunday."""
    return (days + 3) % 7


@lru_cache(maxsize=512)
def zone_clock(name: str, first_day: int, last_day: int) -> ZoneClock:
    """The clock of zone `name` for instants from `first_day` to `last_day` (UTC day numbers), cached."""
    zone = ZoneInfo(name)
    start, end = (first_day - 1) * 86_400, (last_day + 2) * 86_400

    def offset(sec: int) -> int:
        return int(datetime.fromtimestamp(sec, UTC).astimezone(zone).utcoffset().total_seconds())

    transitions, offsets = [], [offset(start)]
    prev_t, prev_o = start, offsets[0]
    t = start
    while t < end:
        t = min(t + _SAMPLE, end)
        o = offset(t)
        if o != prev_o:
            lo, hi = prev_t, t  # offset(lo) == prev_o, offset(hi) != prev_o
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == prev_o:
                    lo = mid
                else:
                    hi = mid
            transitions.append(hi)
            offsets.append(o)
        prev_t, prev_o = t, o
    tr = np.array(transitions, dtype=np.int64) * SECOND
    off = np.array(offsets, dtype=np.int64) * SECOND
    th = tr + np.maximum(off[:-1], off[1:])
    return ZoneClock(name, tr, off, th)
