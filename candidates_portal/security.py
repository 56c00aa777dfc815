"""What every portal response carries, and the portal's rate limits.

Headers: a strict Content-Security-Policy (no inline script or style anywhere in the portal; one CSS file and
one small script, both from our own origin), `Referrer-Policy: no-referrer` (so the first URL, which holds the
token, never leaks through a Referer header; it overrides the site-wide `same-origin` because
SecurityMiddleware only sets the header when a response has none), and `Cache-Control: no-store` (a page
shows one candidate's schedule; no shared cache may keep it).

Rate limits are fixed one-minute windows counted in the shared cache (`django.core.cache`: Redis when
configured, else the database cache), so they hold across web processes:
- per client address, on every portal request (the token path included, which is what stops guessing);
- per link, on every request made with it (the session's link, or the token's once resolved);
- per link, on the POSTs that book, move, cancel, propose times or ask for a new link.
The database cache's `incr` is not atomic: under a burst a window may let a few requests more through, which is
acceptable for a limit meant to stop abuse, not to count exactly. Over the limit, the candidate gets a friendly
429 page with `Retry-After`. Limits can be tuned with the `PORTAL_RATE_LIMITS` setting (a dict with any of
the keys of DEFAULT_LIMITS); `PORTAL_TRUSTED_PROXIES` (default 0) is the number of reverse proxies in front
whose X-Forwarded-For entries are trusted for the client's address.

CSRF: under `no-referrer`, browsers send `Origin: null` with a form POST, even to the same origin (Fetch
standard, "serializing a request origin"), and Django's CsrfViewMiddleware refuses a null origin. Portal views
are therefore checked by `PortalCsrf` instead (a CsrfViewMiddleware that accepts `Origin: null` only when the
browser's `Sec-Fetch-Site` says same-origin, or says nothing); every other origin is refused as before, and the
CSRF token must match as on any Django form. A refused POST gets a portal page, not Django's default one.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.csrf import logger as csrf_logger
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import decorator_from_middleware
from django.utils.log import log_response
from django.views.decorators.csrf import csrf_exempt

from candidates_portal.selectors import org_context
from scheduling import clock

__all__ = ["CSP", "DEFAULT_LIMITS", "LINK_KEY", "EXPIRED_KEY", "PortalCsrf", "portal_headers", "portal_response",
           "client_ip", "over_limit", "too_many"]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
DEFAULT_LIMITS = {"ip": 60, "link": 30, "booking": 5}  # requests a minute
LINK_KEY = "portal_link_id"  # the link this browser session acts for (set only by the token exchange)
EXPIRED_KEY = "portal_expired_link_id"  # a link that was opened but is no longer usable


def portal_headers(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = CSP
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    add_never_cache_headers(response)
    return response


def _limits() -> dict[str, int]:
    return {**DEFAULT_LIMITS, **getattr(settings, "PORTAL_RATE_LIMITS", {})}


def client_ip(request: HttpRequest) -> str:
    proxies = int(getattr(settings, "PORTAL_TRUSTED_PROXIES", 0) or 0)
    if proxies > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def over_limit(scope: str, ident: object) -> bool:
    """Count one request against `scope` ("ip", "link" or "booking") for `ident`; True when over the limit."""
    window = int(clock.now().timestamp() // 60)
    key = f"portal:rl:{scope}:{ident}:{window}"
    try:
        count = cache.incr(key)  # the common case first: one round trip on Redis
    except ValueError:  # the window's first request
        count = 1 if cache.add(key, 1, timeout=120) else cache.incr(key)
    return count > _limits()[scope]


def too_many(request: HttpRequest) -> HttpResponse:
    response = render(request, "candidates_portal/notice.html", {
        "title": "Too many requests",
        "paragraphs": ["This page was opened too often in a short time. Please wait a minute, then try again."],
        **org_context()}, status=429)
    response["Retry-After"] = "60"
    return response


class PortalCsrf(CsrfViewMiddleware):
    """Django's CSRF check, except that `Origin: null` from a same-origin form (sent under no-referrer) passes
    the origin step; the token step is unchanged."""

    def _origin_verified(self, request: HttpRequest) -> bool:
        if request.META.get("HTTP_ORIGIN") == "null":
            return request.META.get("HTTP_SEC_FETCH_SITE", "same-origin") == "same-origin"
        return super()._origin_verified(request)

    def _reject(self, request: HttpRequest, reason: str) -> HttpResponse:
        response = render(request, "candidates_portal/notice.html", {
            "title": "Please try again",
            "paragraphs": ["This form could not be sent, perhaps because the page was open for a long time. "
                           "Go back, reload the page and try again."],
            **org_context()}, status=403)
        log_response("Forbidden (%s): %s", reason, request.path, response=response, request=request,
                     logger=csrf_logger)
        return response


_portal_csrf = decorator_from_middleware(PortalCsrf)


def portal_response(*, booking: bool = False):
    """Decorate a portal view: count the rate limits (the client's address, the session's link, and for
    `booking` views the link's booking POSTs), answer 429 when one is over, check CSRF with PortalCsrf, and add
    the portal's headers to whatever the view answers."""

    def decorate(view):
        checked = _portal_csrf(view)

        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            link_id = request.session.get(LINK_KEY) or request.session.get(EXPIRED_KEY)
            limited = over_limit("ip", client_ip(request))
            if link_id is not None:
                limited = over_limit("link", link_id) or limited
                if booking and request.method == "POST":
                    limited = over_limit("booking", link_id) or limited
            response = too_many(request) if limited else checked(request, *args, **kwargs)
            return portal_headers(response)

        # The site-wide CsrfViewMiddleware steps aside; PortalCsrf checks every portal view instead.
        return csrf_exempt(wrapper)

    return decorate
