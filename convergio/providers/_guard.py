"""The endpoint guard: a tenant's connection may not point the platform at internal addresses.

In hosted mode a tenant-supplied endpoint is a server-side request forgery risk: without a
check, ``http://169.254.169.254/`` (cloud metadata) or ``https://10.0.0.5/`` would be called
from inside the platform's network with the platform's identity. ``check_endpoint`` refuses
such URLs before any provider is built:

* hosted mode: ``https`` only; an IP literal, or a name that resolves to any address that
  is not globally routable (private, loopback, link-local (metadata), multicast, reserved,
  unspecified, shared address space; IPv4 and IPv6, IPv4-mapped IPv6 unwrapped first) is
  refused, unless the host is in the operator's allow-list (``api.openai.com`` or
  ``*.openai.azure.com``);
* local mode: ``https`` to any host; ``http`` only to loopback (``localhost``,
  ``127.0.0.1``, ``[::1]``...) or to an allow-listed host.

Resolution happens here, once; a host whose DNS answer changes afterwards (DNS rebinding)
is not covered, and redirects are never followed by the providers.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Collection, Sequence
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Resolver", "check_endpoint"]

Resolver = Callable[..., Sequence[tuple[Any, ...]]]
"""``socket.getaddrinfo``'s shape: ``(host, port, ...) -> [(family, type, proto, name, sockaddr)]``."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
"""Cloud instance-metadata services (AWS, Azure, GCP, ECS, Alibaba): named in the refusal."""


def check_endpoint(
    url: str,
    *,
    allowed_hosts: Collection[str],
    local_mode: bool,
    resolve: Resolver = socket.getaddrinfo,
) -> None:
    """Refuse an endpoint the platform must not call.

    Args:
        url: The connection's endpoint.
        allowed_hosts: Hosts the operator trusts: exact names (``api.openai.com``) or
            ``*.suffix`` patterns (``*.openai.azure.com`` matches any name under it, not
            the suffix itself). Allow-listed hosts are not resolved.
        local_mode: True on the embedded host (a laptop), where loopback servers are fine.
        resolve: The resolver (``socket.getaddrinfo``; tests inject their own).

    Raises:
        ValueError: the URL is malformed, uses another scheme, carries credentials, or
            points (or resolves) where the mode forbids; the message says why.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("endpoint is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("endpoint must be an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("endpoint must not carry credentials (user:password@)")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise ValueError("endpoint has no host")
    allowed = _allowed(host, allowed_hosts)
    literal = _literal(host)
    if local_mode:
        if parts.scheme == "http" and not allowed and not _is_loopback(host, literal, port, resolve):
            raise ValueError(f"endpoint host {host!r}: plain http is allowed for loopback servers only")
        return
    if parts.scheme != "https":
        raise ValueError("endpoint must use https in hosted mode")
    if allowed:
        return
    if literal is not None:
        reason = _forbidden(literal)
        if reason:
            raise ValueError(f"endpoint host {host!r} is a {reason} address")
        raise ValueError(
            f"endpoint host {host!r} is an IP address: name a host, or ask for it to be allow-listed"
        )
    for address in _resolve(host, port, resolve):
        reason = _forbidden(address)
        if reason:
            raise ValueError(f"endpoint host {host!r} resolves to a {reason} address ({address})")


def _allowed(host: str, allowed_hosts: Collection[str]) -> bool:
    for entry in allowed_hosts:
        pattern = entry.strip().rstrip(".").lower()
        if pattern.startswith("*."):
            if len(pattern) > 2 and host.endswith(pattern[1:]):
                return True
        elif pattern and host == pattern:
            return True
    return False


def _literal(host: str) -> IPAddress | None:
    try:
        return _unmap(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        return None


def _unmap(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _resolve(host: str, port: int | None, resolve: Resolver) -> list[IPAddress]:
    try:
        answers = resolve(host, port or 443, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise ValueError(f"endpoint host {host!r} does not resolve") from None
    addresses = []
    for answer in answers:
        literal = _literal(str(answer[4][0]))
        if literal is None:
            raise ValueError(f"endpoint host {host!r} resolves to something that is not an IP address")
        addresses.append(literal)
    if not addresses:
        raise ValueError(f"endpoint host {host!r} does not resolve")
    return addresses


def _forbidden(address: IPAddress) -> str | None:
    """Why the platform must not call ``address`` (``None``: it is a public address)."""
    checks = (
        ("cloud metadata", address in _METADATA),
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("non-public", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def _is_loopback(host: str, literal: IPAddress | None, port: int | None, resolve: Resolver) -> bool:
    if literal is not None:
        return literal.is_loopback
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return all(address.is_loopback for address in _resolve(host, port, resolve))
    except ValueError:
        return False
