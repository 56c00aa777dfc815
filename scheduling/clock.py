"""The one clock and the one sleeper every part of Loopwise uses.

`now()` is `django.utils.timezone.now()` unless a clock file is configured
(`LOOPWISE_CLOCK_FILE`): then it returns the instant written in that file plus the real time
elapsed since the file was written, so that a test or the demo moves time for the web server
and every worker process at once, and time keeps flowing from there. time-machine moves it
inside one process as usual, because both paths go through the standard library.

`sleep()` is the only way code waits between retries. It is capped by
`LOOPWISE_MAX_SLEEP_SECONDS` (tiny in tests), and tests may swap the sleeper for one that
records the waits instead of making them (`use_sleeper`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings
from django.utils import timezone

_sleeper: Callable[[float], None] = time.sleep


def _clock_file() -> Path | None:
    path = getattr(settings, "LOOPWISE_CLOCK_FILE", "") or os.environ.get("LOOPWISE_CLOCK_FILE", "")
    return Path(path) if path else None


def now() -> dt.datetime:
    """The current instant, aware, in UTC."""
    path = _clock_file()
    if path is not None and path.exists():
        text = path.read_text().strip()
        if text:
            base = dt.datetime.fromisoformat(text)
            if base.tzinfo is None:
                raise ValueError(f"{path}: the clock file must hold an aware ISO instant, not {text!r}")
            elapsed = time.time() - path.stat().st_mtime
            return base.astimezone(dt.UTC) + dt.timedelta(seconds=max(elapsed, 0.0))
    return timezone.now()


def set_clock(instant: dt.datetime, *, path: Path | None = None) -> None:
    """Write `instant` to the clock file, moving time for every process that reads it."""
    target = path or _clock_file()
    if target is None:
        raise RuntimeError("LOOPWISE_CLOCK_FILE is not set")
    if instant.tzinfo is None:
        raise ValueError("set_clock needs an aware datetime")
    tmp = target.with_suffix(".tmp")
    tmp.write_text(instant.isoformat())
    tmp.replace(target)


def sleep(seconds: float) -> float:
    """Wait `seconds`, capped by the LOOPWISE_MAX_SLEEP_SECONDS setting. Returns the wait made."""
    cap = float(getattr(settings, "LOOPWISE_MAX_SLEEP_SECONDS", 30.0))
    wait = max(0.0, min(float(seconds), cap))
    _sleeper(wait)
    return wait


@contextlib.contextmanager
def use_sleeper(fn: Callable[[float], None]) -> Iterator[None]:
    """Swap the sleeper for the duration of the block (tests record waits instead of sleeping)."""
    global _sleeper
    old, _sleeper = _sleeper, fn
    try:
        yield
    finally:
        _sleeper = old
