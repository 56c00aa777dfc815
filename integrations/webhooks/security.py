"""Where outbound webhooks may go, and how their deliveries are signed.

Targets (server-side request forgery): a subscriber URL must be https, carry no user name or password, and every
address its host resolves to (`socket.getaddrinfo`) must be a public one: loopback, private, link-local,
multicast, reserved, unspecified and any other non-global address (shared CGNAT space, documentation ranges,
IPv4 hidden in an IPv6 address) are refused. The check runs when a subscription is saved (model `clean()`, so the
admin form and the API) and again at every delivery, after a fresh DNS resolution; the delivery then connects to
the address it vetted (`pinned_session`), so a name that re-resolves between the check and the connect (DNS
rebinding) cannot redirect it. Two settings relax it for tests and local development only:
`WEBHOOKS_ALLOW_PRIVATE_TARGETS` and `WEBHOOKS_ALLOW_HTTP` (both off by default).

Signing (after Stripe's scheme): `Loopwise-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with
the subscription's secret. Receivers check it with `verify_signature`, which refuses a timestamp more than
`tolerance` seconds (5 minutes) away from now, in either direction, so a captured delivery cannot be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

__all__ = ["UnsafeTarget", "Unresolvable", "Target", "SIGNATURE_HEADER", "DELIVERY_ID_HEADER", "TOLERANCE",
           "target_resolve", "signature_header", "verify_signature", "allow_private", "allow_http"]

SIGNATURE_HEADER = "Loopwise-Signature"
DELIVERY_ID_HEADER = "Loopwise-Delivery-Id"
TOLERANCE = 300  # seconds: receivers reject a signature whose timestamp is further from now


class UnsafeTarget(ValueError):
    """A subscriber URL Loopwise will not call; the message says why, naming the host and address."""


class Unresolvable(UnsafeTarget):
    """The host does not resolve (now): refused on save, retried at delivery."""


@dataclass(frozen=True)
class Target:
    """A vetted URL: where to connect (`address`, one of the host's resolved addresses, all of them vetted)."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


def allow_private() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_TARGETS", False))


def allow_http() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_HTTP", False))


def _refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Why `ip` is not a public address, or "" when it is."""
    mapped = getattr(ip, "ipv4_mapped", None) or getattr(ip, "sixtofour", None)
    if mapped is not None:
        return _refusal(mapped) or ""
    for kind in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):  # most telling first
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    if getattr(ip, "is_site_local", False):
        return "site-local"
    if not ip.is_global:
        return "non-public"
    return ""


def _resolve(host: str, port: int) -> list[str]:
    try:
        return [ipaddress.ip_address(host).compressed]  # a literal address: nothing to resolve
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise Unresolvable(f"the host {host} does not resolve ({e})") from None
    # An IPv6 address may carry a zone ("fe80::1%eth0"): the zone is not part of the address.
    addresses = list(dict.fromkeys(info[4][0].split("%", 1)[0] for info in infos))
    if not addresses:
        raise Unresolvable(f"the host {host} does not resolve")
    return addresses


def target_resolve(url: str, *, private_ok: bool | None = None, http_ok: bool | None = None) -> Target:
    """Check `url` as a webhook target and resolve its host now. Returns the Target to connect to; raises
    UnsafeTarget when the scheme is not https (http only with WEBHOOKS_ALLOW_HTTP), the URL holds credentials or
    no host, the host does not resolve, or ANY of its addresses is not public (unless
    WEBHOOKS_ALLOW_PRIVATE_TARGETS)."""
    private_ok = allow_private() if private_ok is None else private_ok
    http_ok = allow_http() if http_ok is None else http_ok
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise UnsafeTarget(f"not a valid URL ({e})") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and http_ok):
        raise UnsafeTarget("the URL must start with https://")
    if parts.username or parts.password:
        raise UnsafeTarget("the URL must not contain a user name or password")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeTarget("the URL has no host")
    port = port or (443 if scheme == "https" else 80)
    addresses = _resolve(host, port)
    if not private_ok:
        for address in addresses:
            why = _refusal(ipaddress.ip_address(address))
            if why:
                raise UnsafeTarget(f"the host {host} resolves to {address}, a {why} address: webhooks go to public "
                                   "addresses only")
    return Target(url=url, scheme=scheme, host=host, port=port, address=addresses[0])


# ---------------------------------------------------------------------------------------------------------------
# Signatures


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else bytes(body)


def _mac(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes | str, *, t: int) -> str:
    """The `Loopwise-Signature` value for `body` sent at unix time `t`."""
    return f"t={t},v1={_mac(secret, t, _as_bytes(body))}"


def verify_signature(secret: str, header: str, body: bytes | str, *, tolerance: int = TOLERANCE,
                     now: float | None = None) -> bool:
    """True when `header` (a `Loopwise-Signature` value) signs `body`, the raw request body, with `secret`, at a
    timestamp within `tolerance` seconds of `now` (unix time; the current time by default). Several v1 values
    are accepted (any may match), so that a receiver can be handed a new secret before the old one goes."""
    if now is None:
        from scheduling import clock  # receivers outside Loopwise pass `now`

        now = clock.now().timestamp()
    t, candidates = None, []
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            t = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if t is None or not candidates or abs(now - t) > tolerance:
        return False
    expected = _mac(secret, t, _as_bytes(body))
    return any(hmac.compare_digest(expected, c) for c in candidates)
