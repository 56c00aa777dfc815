"""The booking engineer's organisation on the google fake (tests/scheduling/booking/conftest.py), reused: a loop
of coding (Alice in London or Bob in New York, in the Thames room), lunch, and system design (Carol in New York),
with time standing at a Monday 06:00 UTC. Rate-limit counters live in the cache, which no test transaction
rolls back: every test starts with an empty one."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.scheduling.booking.conftest import World, build_world, frozen  # noqa: F401 - `frozen` is a fixture


@pytest.fixture
def world(db, google_fake, mail_fake, frozen) -> World:  # noqa: F811 - the imported fixture, requested
    cache.clear()
    return build_world(google_fake, mail_fake)
