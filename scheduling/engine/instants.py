"""Instants as integers: ISO 8601 text in, microseconds since the Unix epoch (UTC) out, and back.

The engine keeps every instant as an integer number of microseconds since 1970-01-01T00:00:00Z, so that
comparisons and arithmetic are exact and vectorise. Busy lists are the bulk of a problem (tens of
thousands of strings in an organisation-wide run), so `parse_many` reads the two shapes calendars send
(`2026-12-02T10:00:00Z` and `2026-12-02T10:00:00+05:30`) with NumPy, many at a time; any other text, and
any text the fast path doubts, goes through `datetime.fromisoformat`, which stays the single authority on
what is valid: the fast path accepts only strings that `fromisoformat` accepts, with the same value.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from itertools import chain

import numpy as np

US = 1
SECOND = 1_000_000
MINUTE = 60 * SECOND
DAY = 86_400 * SECOND

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST = -62_135_596_800 * SECOND  # 0001-01-01T00:00:00Z
_LAST = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
_NAIVE_EPOCH = datetime(1970, 1, 1)
_ONE_US = timedelta(microseconds=1)

# Column positions of the fast shapes: YYYY-MM-DDTHH:MM:SS then `Z` or `+hh:mm`.
_DIGITS = (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18)
_SEPARATORS = ((4, ord("-")), (7, ord("-")), (10, ord("T")), (13, ord(":")), (16, ord(":")))


class InstantError(ValueError):
    """Text that is not an instant with a UTC offset; the message says what is wrong."""


def parse_one(text: object) -> int:
    """Microseconds since the epoch for one ISO 8601 instant; raises InstantError."""
    if not isinstance(text, str):
        raise InstantError(f"must be an ISO 8601 instant string, not {type(text).__name__}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InstantError(f"{text!r} is not an ISO 8601 instant") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InstantError(f"{text!r} has no UTC offset (add Z or +hh:mm)")
    us = (moment - _EPOCH) // _ONE_US
    if not _FIRST <= us <= _LAST:
        raise InstantError(f"{text!r} is not between the years 1 and 9999 in UTC")
    return us


_NOTHING = ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"]


def parse_calendars(busy_lists: list[list], booked_lists: list[list]) -> tuple[list, list, list]:
    """Busy intervals ((n, 2) arrays, empty intervals dropped) and booked instants of many resources,
    parsed in one call, and the problems found as (list index, "busy[i][j]" or "booked[i]", message)."""
    problems = []
    raw = _joined(busy_lists, booked_lists)
    if raw is not None:
        n = 2 * sum(map(len, busy_lists)) + sum(map(len, booked_lists))
        us, bad = parse_many(lambda: _texts(busy_lists, booked_lists), raw=raw, n=n)
    else:
        pairs = list(chain.from_iterable(busy_lists))
        if not (set(map(type, pairs)) <= _LIST and set(map(len, pairs)) <= _TWO):
            for n, busy in enumerate(busy_lists):
                problems.extend((n, f"busy[{i}]", "must be a [start, end] pair") for i, pair in enumerate(busy)
                                if not isinstance(pair, list) or len(pair) != 2)
            # An empty placeholder keeps every later pair at its own index.
            busy_lists = [[x if isinstance(x, list) and len(x) == 2 else _NOTHING for x in b] for b in busy_lists]
        us, bad = parse_many(_texts(busy_lists, booked_lists))
    counts = [len(b) for b in busy_lists]
    busy_from = np.cumsum([0] + [2 * c for c in counts]).tolist()
    booked_from = np.cumsum([busy_from[-1]] + [len(b) for b in booked_lists]).tolist()
    if bad:
        busy_bad, booked_bad = [], []
        for i in sorted(bad):
            if i < busy_from[-1]:
                n = bisect_right(busy_from, i) - 1
                j = i - busy_from[n]
                busy_bad.append((n, j, 0, bad[i]) if j < counts[n] else (n, j - counts[n], 1, bad[i]))
            else:
                n = bisect_right(booked_from, i) - 1
                booked_bad.append((n, f"booked[{i - booked_from[n]}]", bad[i]))
        problems.extend((n, f"busy[{k}][{end}]", message) for n, k, end, message in sorted(busy_bad))
        problems.extend(booked_bad)
    # Each resource's busy texts are its starts, then its ends (_texts): where each pair's two are.
    m = np.array(counts, dtype=np.int64)
    owner = np.repeat(np.arange(len(counts)), m)
    start_at = np.arange(int(m.sum()), dtype=np.int64) + (np.array(busy_from[:-1], dtype=np.int64) // 2)[owner]
    end_at = start_at + m[owner]
    intervals = np.stack((us[start_at], us[end_at]), axis=1)
    for k in np.flatnonzero(intervals[:, 1] < intervals[:, 0]).tolist():
        if int(start_at[k]) in bad or int(end_at[k]) in bad:
            continue
        n = bisect_right(busy_from, 2 * k) - 1
        problems.append((n, f"busy[{k - busy_from[n] // 2}]", "ends before it starts"))
    empty = not (intervals[:, 1] > intervals[:, 0]).all()
    busy = []
    for a, b in zip(busy_from, busy_from[1:], strict=False):
        mine = intervals[a // 2:b // 2]
        busy.append(mine[mine[:, 1] > mine[:, 0]] if empty else mine)
    booked = [us[a:b] for a, b in zip(booked_from, booked_from[1:], strict=False)]
    return busy, booked, sorted(problems, key=lambda x: x[0])


_LIST, _TWO = {list}, {2}
_CHUNK = 8192  # texts parsed together by _fast
_LIST_LEN = list.__len__


def _texts(busy_lists: list[list], booked_lists: list[list]) -> list:
    """Every busy instant (resource by resource: its starts, then its ends) then every booked one, in one
    flat list. Every pair must be a list of two."""
    texts = []
    for busy in busy_lists:
        if busy:
            starts, ends = zip(*busy, strict=False)
            texts.extend(starts)
            texts.extend(ends)
    texts.extend(chain.from_iterable(booked_lists))
    return texts


def _joined(busy_lists: list[list], booked_lists: list[list]) -> bytes | None:
    """Every text of `_texts`, each followed by a NUL byte, as ASCII; None when some pair is not a list of
    two or some text is not an ASCII string (then the caller looks at them one by one).

    Joined a resource at a time: the strings of one resource are read twice (gathered, then copied)
    while they are still in the processor's cache, which on the large benchmark saves a fifth of the
    parsing time over gathering all of them first."""
    parts = []
    try:
        for busy in busy_lists:
            if busy:
                # list.__len__ refuses anything but a list (TypeError), so this one pass checks both.
                if not set(map(_LIST_LEN, busy)) <= _TWO:
                    return None
                starts, ends = zip(*busy, strict=False)  # twice as fast as chaining the pairs (all of two)
                parts.append("\0".join(starts))
                parts.append("\0".join(ends))
        parts.extend("\0".join(booked) for booked in booked_lists if booked)
        parts.append("")
        return "\0".join(parts).encode("ascii")
    except (TypeError, UnicodeEncodeError):
        return None


def parse_many(texts, raw: bytes | None = None, n: int | None = None) -> tuple[np.ndarray, dict[int, str]]:
    """Microseconds for each text (int64), and {index: message} for those that are not instants.

    `texts` is the list, or a function that makes it when needed; `raw` and `n` may give the texts
    already joined (each followed by a NUL byte) and their number."""
    if callable(texts):
        make, texts = texts, None
    else:
        make = None
    if n is None:
        n = len(texts)
    out = np.zeros(n, dtype=np.int64)
    if n == 0:
        return out, {}
    slow = np.ones(n, dtype=bool)
    if raw is None:
        try:
            # Joined with NUL, which no valid text holds: _fast checks that NUL sits exactly at every
            # (width + 1)-th byte and nowhere else, so every text is then exactly `width` long.
            raw = "\0".join(texts).encode("ascii") + b"\0"  # TypeError unless all are str
        except (TypeError, UnicodeEncodeError):
            raw = None
    width = len(raw) // n - 1 if raw is not None and len(raw) % n == 0 else 0
    if width in (20, 25):
        # In chunks, so that the dozens of intermediate arrays stay in the processor's cache and are reused
        # by the allocator instead of being mapped afresh (measured: about half the time on 122,000 texts).
        # A chunk is whole texts; one holding a text of another width fails its own checks and stays slow.
        view, size = memoryview(raw), width + 1
        for a in range(0, n, _CHUNK):
            b = min(n, a + _CHUNK)
            _fast(view[a * size:b * size], np.arange(a, b), width, out, slow)
    if not slow.any():
        return out, {}
    if texts is None:
        texts = make()
    if raw is not None and slow.all():  # several widths, or a bad row: sort by width (rarely needed)
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
        for width in (20, 25):
            rows = np.flatnonzero(lengths == width)
            if rows.size:
                _fast("\0".join([texts[i] for i in rows.tolist()]).encode("ascii") + b"\0", rows, width, out, slow)
    errors: dict[int, str] = {}
    for i in np.flatnonzero(slow).tolist():
        try:
            out[i] = parse_one(texts[i])
        except InstantError as e:
            errors[i] = str(e)
    return out, errors


# Rows of the transposed text: the digit columns, the separators, and the tens and units of each field.
_DIGIT_ROWS = list(_DIGITS)
_SEP_ROWS = [c for c, _ in _SEPARATORS]
_SEP_VALUES = (np.array([ch for _, ch in _SEPARATORS], dtype=np.uint8) - 48)[:, None]
_TENS, _UNITS = [0, 2, 5, 8, 11, 14, 17], [1, 3, 6, 9, 12, 15, 18]


def _fast(raw: bytes, rows: np.ndarray, width: int, out: np.ndarray, slow: np.ndarray) -> None:
    """Parses texts of one width, each followed by a NUL byte in `raw`, with NumPy; rows it cannot vouch
    for stay marked slow (and if a NUL is out of place, all the rows of this call)."""
    t = np.empty((width + 1, rows.size), dtype=np.uint8)  # transposed (one row per character) in one pass
    np.subtract(np.frombuffer(raw, dtype=np.uint8).reshape(rows.size, width + 1).T, np.uint8(48), out=t)
    if not (t[width] == np.uint8(208)).all():  # NUL - 48, wrapped: some text is not `width` long
        return
    # Below "0" wraps around, so `<= 9` tests both ends; two digits never exceed 99, so uint8 holds them.
    good = (t[_DIGIT_ROWS] <= 9).all(axis=0) & (t[_SEP_ROWS] == _SEP_VALUES).all(axis=0)
    f8 = t[_TENS] * np.uint8(10) + t[_UNITS]  # the two-digit fields; exact wherever the digits are
    good &= ((f8[2] >= 1) & (f8[2] <= 12) & (f8[3] >= 1) & (f8[4] <= 23) & (f8[5] <= 59) & (f8[6] <= 59))
    f = f8.astype(np.int64)
    # A row with a letter where a digit belongs is already not good, but its "year" may exceed the tables.
    year, month, day, hour, minute, second = (f[0] * 100 + f[1]).clip(0, 9999), f[2], f[3], f[4], f[5], f[6]
    month_at = _LEAP[year] * 13 + month.clip(0, 12)
    good &= (year >= 1) & (day <= _MONTH_DAYS.ravel()[month_at])
    seconds = ((_YEAR_START[year] + _MONTH_START.ravel()[month_at] + day - 1) * 86_400
               + hour * 3600 + minute * 60 + second)
    if width == 20:
        good &= t[19] == ord("Z") - 48
    else:
        oh, om = (t[[20, 23]] * np.uint8(10) + t[[21, 24]]).astype(np.int64)
        good &= (t[[20, 21, 23, 24]] <= 9).all(axis=0) & (oh <= 23) & (om <= 59) & (t[22] == ord(":") - 48)
        sign = np.where(t[19] == ord("-") - 48, -1, 1)
        good &= (t[19] == ord("+") - 48) | (t[19] == ord("-") - 48)
        seconds -= sign * (oh * 3600 + om * 60)
    # Instants outside the years 1 to 9999 in UTC (0001-01-01T00:00+01:00) go to parse_one, which refuses them.
    good &= (seconds >= _FIRST // SECOND) & (seconds <= _LAST // SECOND)
    if good.all():
        out[rows] = seconds * SECOND
        slow[rows] = False
        return
    idx = rows[good]
    out[idx] = seconds[good] * SECOND
    slow[idx] = False


_YEARS = np.arange(10_000)
_LEAP = ((_YEARS % 4 == 0) & ((_YEARS % 100 != 0) | (_YEARS % 400 == 0))).astype(np.int64)  # by year
_MONTH_DAYS = np.array([[0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
                        [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]], dtype=np.int64)
_MONTH_START = np.concatenate([[[0], [0]], np.cumsum(_MONTH_DAYS, axis=1)[:, :-1]], axis=1)[:, :13]


def days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 for proleptic Gregorian dates (Howard Hinnant's algorithm, vectorised)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


_YEAR_START = days_from_civil(_YEARS, np.ones_like(_YEARS), np.ones_like(_YEARS))  # 1 January of each year


def format_utc(us: int) -> str:
    """`2026-12-03T14:00:00Z` for an instant (fractions of a second are kept when present)."""
    return (_NAIVE_EPOCH + timedelta(microseconds=us)).isoformat() + "Z"


def to_datetime(us: int) -> datetime:
    """An aware UTC datetime for an instant."""
    return _EPOCH + timedelta(microseconds=us)
