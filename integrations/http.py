"""Bounded retries with exponential backoff and jitter, through the shared sleeper.

Every adapter wraps its provider calls in `call_with_retries`: a `ProviderError` that is not
permanent (throttling, 5xx, a timeout) is retried up to `attempts` times, waiting
`Retry-After` when the provider gave one, else `base * 2**n` with full jitter, capped. The
waits go through `scheduling.clock.sleep`, so tests never sleep for real.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import TypeVar

import requests

from integrations.errors import ProviderError
from scheduling import clock

T = TypeVar("T")
log = logging.getLogger(__name__)
DEFAULT_TIMEOUT = 15  # seconds, for every provider HTTP call


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 30.0, retry_after: float | None = None,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number `attempt` (0-based)."""
    if retry_after is not None:
        return min(float(retry_after), cap)
    return (rng or random).uniform(0, min(cap, base * 2**attempt))


def call_with_retries(fn: Callable[[], T], *, attempts: int = 4, what: str = "provider call",
                      stop_on: frozenset[str] = frozenset()) -> T:
    """Run `fn`, retrying transient ProviderErrors; the last error is raised as it is. An error whose `reason` is
    in `stop_on` is raised at once, transient or not (a spent daily quota: retrying only spends more)."""
    for attempt in range(attempts):
        try:
            return fn()
        except ProviderError as e:
            if e.permanent or e.reason in stop_on or attempt == attempts - 1:
                raise
            wait = backoff_delay(attempt, retry_after=e.retry_after)
            log.warning("%s failed (%s), retry %d of %d in %.1fs", what, e.reason or e.status, attempt + 1,
                        attempts - 1, wait)
            clock.sleep(wait)
    raise AssertionError("unreachable")


def transport_failure(failure: BaseException, *, provider: str, component: str, what: str) -> ProviderError:
    """A `requests` exception (not an HTTP answer) as a ProviderError, the same way for every HTTP adapter: a
    timeout or an unreachable host is transient for this call; an unusable base URL is the connection's."""
    if isinstance(failure, requests.Timeout):
        return ProviderError(f"{provider} did not answer {what} in time", permanent=False, scope="request",
                             reason="timeout", component=component)
    if isinstance(failure, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema |
                  requests.exceptions.InvalidSchema):
        return ProviderError(f"{provider} base URL unusable: {failure}", permanent=True, scope="connection",
                             reason="bad_url", component=component)
    return ProviderError(f"{provider} unreachable for {what}: {type(failure).__name__}", permanent=False,
                         scope="request", reason="connection", component=component)
