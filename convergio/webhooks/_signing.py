"""Signing and verifying webhook bodies: HMAC-SHA256 over ``timestamp + "." + body``.

The same scheme both ways: inbound hooks verify what a sender signed, outbound deliveries are
signed for the receiver to verify. The timestamp is part of what is signed, so a captured request
cannot be replayed once it is older than the tolerance; the delivery id (deduplicated by the
store) covers replays inside that window.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "SignatureError",
    "new_secret",
    "sign",
    "signed_headers",
    "verify",
]

TIMESTAMP_HEADER = "X-Convergio-Timestamp"
SIGNATURE_HEADER = "X-Convergio-Signature"
DELIVERY_HEADER = "X-Convergio-Delivery"
EVENT_HEADER = "X-Convergio-Event"
_PREFIX = "sha256="
_MAX_DELIVERY_ID = 200


class SignatureError(ValueError):
    """A request's signature headers do not prove it came from the secret's holder, now.

    ``code`` says which check failed (``missing_header``, ``bad_signature``, ``stale_timestamp``);
    the message names the header, never the secret or the expected signature.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def new_secret() -> str:
    """A fresh signing secret (256 bits), shown to its owner once."""
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return _PREFIX + mac.hexdigest()


def signed_headers(secret: str, body: bytes, *, delivery_id: str, timestamp: int) -> dict[str, str]:
    """The three headers a signed request carries."""
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        DELIVERY_HEADER: delivery_id,
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = {k.lower(): v for k, v in headers.items()}
    value = lowered.get(name.lower(), "").strip()
    if not value:
        raise SignatureError("missing_header", f"{name}: header is required")
    return value


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: float, tolerance_s: int) -> str:
    """Check a signed request; return its delivery id.

    Args:
        secret: The hook's signing secret.
        headers: The request headers (any case).
        body: The raw body, exactly as received.
        now: The current unix time.
        tolerance_s: How far the timestamp may be from ``now``, either way.

    Raises:
        SignatureError: a header is missing or malformed, the timestamp is outside the
            tolerance, or the signature does not match.
    """
    raw_time = _header(headers, TIMESTAMP_HEADER)
    given = _header(headers, SIGNATURE_HEADER)
    delivery = _header(headers, DELIVERY_HEADER)
    if len(delivery) > _MAX_DELIVERY_ID:
        raise SignatureError("missing_header", f"{DELIVERY_HEADER}: at most {_MAX_DELIVERY_ID} characters")
    try:
        timestamp = int(raw_time)
    except ValueError:
        raise SignatureError("missing_header", f"{TIMESTAMP_HEADER}: must be unix seconds") from None
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError(
            "stale_timestamp", f"{TIMESTAMP_HEADER}: more than {tolerance_s} s from the server's clock"
        )
    if not hmac.compare_digest(given.encode(), sign(secret, timestamp, body).encode()):
        raise SignatureError("bad_signature", f"{SIGNATURE_HEADER}: does not match the body")
    return delivery
