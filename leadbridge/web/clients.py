"""Who is calling: the client's address (X-Forwarded-For only from trusted proxies) and the
``/metrics`` gate.

Rules:
- the client is the TCP peer, unless the peer is one of ``Settings.trusted_proxies``: then it is the
  right-most address in ``X-Forwarded-For`` that is not itself a trusted proxy (everything left of
  it was written by the client and proves nothing). Anybody else's ``X-Forwarded-For`` is ignored,
  so rate limits cannot be dodged or pinned on somebody else by a forged header;
- ``/metrics`` answers a bearer token equal to ``Settings.metrics_token``; without a configured
  token only a direct loopback peer (not a proxy forwarding for somebody) may read it.
"""

from __future__ import annotations

import hmac
import ipaddress
from functools import lru_cache

from starlette.requests import Request

from leadbridge.core.settings import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Request, settings: Settings) -> str:
    """The calling client's address per the module rules (``"unknown"`` without a peer)."""
    peer = request.client.host if request.client else "unknown"
    networks = _networks(tuple(settings.trusted_proxies))
    if not networks or not _is_trusted(peer, networks):
        return peer
    forwarded = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",") if hop.strip()]
    for hop in reversed(forwarded):
        if not _is_trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a garbled hop: fall back to the proxy itself
    return peer


def metrics_allowed(request: Request, settings: Settings) -> bool:
    """Whether this caller may read ``/metrics`` (module rules)."""
    if settings.metrics_token is not None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        expected = settings.metrics_token.get_secret_value().encode()
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), expected)
    peer = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return False
    proxied = "x-forwarded-for" in request.headers or "forwarded" in request.headers
    return loopback and not proxied and not _is_trusted(peer, _networks(tuple(settings.trusted_proxies)))
