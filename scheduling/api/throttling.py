"""One rate limit per API key (or per staff user), counted on the shared cache so that it holds across every web
process; over it, 429 with `Retry-After` (seconds)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from scheduling.models import ApiKey

__all__ = ["PerKeyThrottle"]


class PerKeyThrottle(SimpleRateThrottle):
    """`settings.API_RATE_PER_MINUTE` requests per minute per key, read on each request (tests change it)."""

    scope = "api"

    def get_rate(self) -> str:
        return f"{settings.API_RATE_PER_MINUTE}/min"

    def allow_request(self, request, view) -> bool:
        # The rate is read per request rather than at construction time.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str | None:
        if isinstance(request.auth, ApiKey):
            return f"throttle_api_key_{request.auth.pk}"
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            return f"throttle_api_user_{user.pk}"
        return f"throttle_api_ip_{self.get_ident(request)}"
