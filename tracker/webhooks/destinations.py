"""Which webhook destinations are allowed: only http(s) URLs whose host resolves to public
addresses only, unless the host is listed in TRACKER_WEBHOOK_ALLOWED_HOSTS.

Checked at creation (a 422) and again before every delivery (DNS can change; a refusal is a
logged failed attempt). Without this any token holder could make the server call into its own
network (loopback, private ranges, a cloud metadata address).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

Resolver = Callable[[str, int], list[str]]


class RefusedDestination(ValueError):
    """The URL may not be called; the message says why (safe to show: no secret in it)."""


def allowed_hosts(raw: str) -> frozenset[str]:
    """TRACKER_WEBHOOK_ALLOWED_HOSTS as a set of lower-case host names (brackets dropped)."""
    return frozenset(h.strip().strip("[]").lower() for h in raw.split(",") if h.strip())


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def non_public_reason(address: str) -> str | None:
    """Why `address` is not a public unicast address, or None when it is."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            inner = non_public_reason(str(mapped))
            return f"{inner} (inside IPv6 {ip})" if inner else None
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("not globally routable", not ip.is_global),
    )
    for name, hit in checks:
        if hit:
            return (
                f"{ip} is a {name} address"
                if name != "not globally routable"
                else (f"{ip} is not globally routable")
            )
    return None


def check_url(url: str) -> tuple[str, int]:
    """The URL's (host, port), or RefusedDestination for anything but an absolute http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedDestination(f"the URL is malformed: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise RefusedDestination("only http and https URLs are allowed")
    if not parts.hostname:
        raise RefusedDestination("the URL has no host")
    if parts.username or parts.password:
        raise RefusedDestination("the URL must not carry a user name or password")
    return parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


def check_destination(
    url: str, allowed: Iterable[str], *, resolve: Resolver = system_resolver
) -> list[str]:
    """Refuse (RefusedDestination) a URL that is not http(s) or whose host resolves to any
    non-public address, unless the host is allowed; return the addresses it resolved to."""
    host, port = check_url(url)
    try:
        addresses = [str(ipaddress.ip_address(host))]  # a literal address: no lookup
    except ValueError:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise RefusedDestination(f"the host {host!r} does not resolve: {exc}") from None
    if host in set(allowed):
        return addresses
    if not addresses:
        raise RefusedDestination(f"the host {host!r} resolves to no address")
    for address in addresses:
        why = non_public_reason(address)
        if why is not None:
            raise RefusedDestination(
                f"the host {host!r} is not a public destination ({why}); list it in "
                "TRACKER_WEBHOOK_ALLOWED_HOSTS to allow it"
            )
    return addresses


def pinned(url: str, address: str) -> tuple[str, str]:
    """The URL rewritten to connect to the checked `address`, and the Host header naming the
    original host: the request goes where the check looked, not to whatever a second DNS
    lookup would answer (DNS rebinding). For https the caller passes the original host as the
    TLS server name (httpx's `sni_hostname` extension), so the certificate is checked against
    it as usual."""
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), parts.netloc
