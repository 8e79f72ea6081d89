r"""Signing and verifying webhook requests: HMAC-SHA256 over ``v2:{timestamp}.{delivery_id}\n{body}``.

The same scheme both ways: inbound hooks verify what a sender signed, outbound deliveries are
signed for the receiver to verify. The timestamp is signed, so a captured request cannot be
replayed once it is older than the tolerance; the delivery id is signed too (scheme ``v2``;
``v1`` signed only the timestamp and body, so a captured request replayed under a fresh
``X-Convergio-Delivery`` passed), so inside the window a replay can only repeat its own id, which
the store deduplicates. The newline ends the id: a header value cannot hold one, so no other
split of the same bytes names a different id (ids may contain dots; outbound ones do).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "SIGNATURE_SCHEME",
    "TIMESTAMP_HEADER",
    "SignatureError",
    "new_secret",
    "sign",
    "signature_base",
    "signed_headers",
    "verify",
]

TIMESTAMP_HEADER = "X-Convergio-Timestamp"
SIGNATURE_HEADER = "X-Convergio-Signature"
DELIVERY_HEADER = "X-Convergio-Delivery"
EVENT_HEADER = "X-Convergio-Event"
SIGNATURE_SCHEME = "v2"
"""The tag that starts the signed bytes; it changes whenever what is signed changes."""
_PREFIX = "sha256="
_MAX_DELIVERY_ID = 200
_DELIVERY_ID = re.compile(r"[\x21-\x7e]+")  # visible ASCII: what a header carries, never a newline


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


def signature_base(timestamp: int, delivery_id: str, body: bytes) -> bytes:
    r"""The signed bytes: ``v2:{timestamp}.{delivery_id}\n`` then the body, exactly as sent.

    Raises:
        ValueError: the delivery id is not 1-200 visible ASCII characters.
    """
    _check_delivery_id(delivery_id)
    return f"{SIGNATURE_SCHEME}:{timestamp}.{delivery_id}\n".encode() + body


def sign(secret: str, timestamp: int, delivery_id: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent as ``delivery_id`` at ``timestamp`` (unix s).

    Raises:
        ValueError: as ``signature_base``.
    """
    mac = hmac.new(secret.encode(), signature_base(timestamp, delivery_id, body), hashlib.sha256)
    return _PREFIX + mac.hexdigest()


def signed_headers(secret: str, body: bytes, *, delivery_id: str, timestamp: int) -> dict[str, str]:
    """The three headers a signed request carries."""
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, delivery_id, body),
        DELIVERY_HEADER: delivery_id,
    }


def _check_delivery_id(delivery_id: str) -> None:
    if len(delivery_id) > _MAX_DELIVERY_ID or _DELIVERY_ID.fullmatch(delivery_id) is None:
        raise ValueError(f"a delivery id is 1-{_MAX_DELIVERY_ID} visible ASCII characters")


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = {k.lower(): v for k, v in headers.items()}
    value = lowered.get(name.lower(), "").strip()
    if not value:
        raise SignatureError("missing_header", f"{name}: header is required")
    return value


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: float, tolerance_s: int) -> str:
    """Check a signed request; return its (signed) delivery id.

    Args:
        secret: The hook's signing secret.
        headers: The request headers (any case).
        body: The raw body, exactly as received.
        now: The current unix time.
        tolerance_s: How far the timestamp may be from ``now``, either way.

    Raises:
        SignatureError: a header is missing or malformed, the timestamp is outside the
            tolerance, or the signature does not match the timestamp, delivery id and body.
    """
    raw_time = _header(headers, TIMESTAMP_HEADER)
    given = _header(headers, SIGNATURE_HEADER)
    delivery = _header(headers, DELIVERY_HEADER)
    try:
        _check_delivery_id(delivery)
    except ValueError as exc:
        raise SignatureError("missing_header", f"{DELIVERY_HEADER}: {exc}") from None
    try:
        timestamp = int(raw_time)
    except ValueError:
        raise SignatureError("missing_header", f"{TIMESTAMP_HEADER}: must be unix seconds") from None
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError(
            "stale_timestamp", f"{TIMESTAMP_HEADER}: more than {tolerance_s} s from the server's clock"
        )
    if not hmac.compare_digest(given.encode(), sign(secret, timestamp, delivery, body).encode()):
        raise SignatureError(
            "bad_signature",
            f"{SIGNATURE_HEADER}: does not match ({SIGNATURE_SCHEME} signs the timestamp, "
            "the delivery id and the body)",
        )
    return delivery
