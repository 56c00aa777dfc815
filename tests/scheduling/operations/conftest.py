"""The booking engineer's organisation on the google fake (tests/scheduling/booking/conftest.py), reused: a loop
of coding (Alice in London or Bob in New York, in the Thames room), lunch, and system design (Carol in New York),
with time standing at a Monday 06:00 UTC and ticking on. Tests move it with `frozen.move_to(...)`."""

from __future__ import annotations

import pytest

from tests.scheduling.booking.conftest import World, build_world, frozen  # noqa: F401 - `frozen` is a fixture


@pytest.fixture
def world(db, google_fake, mail_fake, frozen) -> World:  # noqa: F811 - the imported fixture, requested
    return build_world(google_fake, mail_fake)
