"""Outbound: which callback URLs the platform may call, and one signed POST to one of them.

In hosted mode a callback URL is a server-side request forgery risk exactly like a provider
endpoint, so it goes through the same guard (``check_endpoint``: https, public addresses), and,
when the operator sets an allow-list, its host must be on it. The guard runs when the callback
is registered and again before every attempt (a name may resolve differently later).
Redirects are never followed.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from urllib.parse import urlsplit

from convergio.providers import check_endpoint
from convergio.secrets import Secret

from ._signing import EVENT_HEADER, signed_headers

__all__ = ["check_callback_url", "post_signed"]


def _listed(host: str, allowed_hosts: Collection[str]) -> bool:
    for entry in (h.strip().lower().rstrip(".") for h in allowed_hosts):
        if entry == host or (entry.startswith("*.") and host.endswith(entry[1:])):
            return True
    return False


def check_callback_url(url: str, *, hosted: bool, allowed_hosts: Collection[str]) -> None:
    """Refuse a callback URL the platform must not call.

    Raises:
        ValueError: the message says why (never resolves in local mode beyond loopback checks).
    """
    if len(url) > 2048:
        raise ValueError("url is longer than 2048 characters")
    check_endpoint(url, allowed_hosts=allowed_hosts, local_mode=not hosted)
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if hosted and allowed_hosts and not _listed(host, allowed_hosts):
        raise ValueError(f"url host {host!r} is not on the operator's callback allow-list")


def post_signed(
    url: str, secret: Secret, body: bytes, *, delivery_id: str, event: str, timeout_s: float
) -> int:
    """POST ``body`` signed with ``secret``; return the status code.

    Raises:
        httpx.HTTPError: the receiver could not be reached or did not answer in time.
    """
    headers = signed_headers(secret.reveal(), body, delivery_id=delivery_id, timestamp=int(time.time()))
    headers |= {EVENT_HEADER: event, "Content-Type": "application/json", "User-Agent": "convergio-webhooks"}
    import httpx  # here, not at the top: httpx pulls rich and click into the app's cold start (issue 22)

    with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
        return client.post(url, content=body, headers=headers).status_code
