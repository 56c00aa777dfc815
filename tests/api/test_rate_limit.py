"""One rate limit per key on the shared cache: over it, 429 with Retry-After; other keys are unaffected."""

from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _empty_cache(db):
    cache.clear()
    yield
    cache.clear()


def test_it_answers_429_with_retry_after(api, settings):
    settings.API_RATE_PER_MINUTE = 3
    client = api("read")
    assert [client.get("/api/v1/pools/").status_code for _ in range(3)] == [200, 200, 200]
    response = client.get("/api/v1/pools/")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json()["errors"][0]["field"] is None
    assert api("write").get("/api/v1/pools/").status_code == 200
