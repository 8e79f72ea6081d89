"""HMAC signing and verification of webhook bodies."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from convergio.webhooks import SignatureError, new_secret, sign, signed_headers, verify

NOW = 1_800_000_000


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(b"s3cret", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert sign("s3cret", 1700000000, b'{"a":1}') == f"sha256={expected}"


def test_a_signed_request_verifies_and_names_its_delivery() -> None:
    secret = new_secret()
    headers = signed_headers(secret, b"{}", delivery_id="d-1", timestamp=NOW)
    lowered = {k.lower(): v for k, v in headers.items()}
    assert verify(secret, lowered, b"{}", now=NOW + 299, tolerance_s=300) == "d-1"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"body": b'{"a":2}'}, "bad_signature"),
        ({"secret": "whsec_other"}, "bad_signature"),
        ({"now": NOW + 301}, "stale_timestamp"),
        ({"now": NOW - 301}, "stale_timestamp"),
    ],
)
def test_a_changed_body_other_secret_or_old_timestamp_is_refused(
    change: dict[str, object], code: str
) -> None:
    secret = "whsec_right"
    headers = signed_headers(secret, b'{"a":1}', delivery_id="d", timestamp=NOW)
    args = {"secret": secret, "body": b'{"a":1}', "now": NOW} | change
    with pytest.raises(SignatureError) as raised:
        verify(str(args["secret"]), headers, args["body"], now=args["now"], tolerance_s=300)  # type: ignore[arg-type]
    assert raised.value.code == code
    assert secret not in str(raised.value)


@pytest.mark.parametrize(
    "missing", ["X-Convergio-Timestamp", "X-Convergio-Signature", "X-Convergio-Delivery"]
)
def test_each_missing_header_is_named(missing: str) -> None:
    headers = signed_headers("s", b"", delivery_id="d", timestamp=NOW)
    del headers[missing]
    with pytest.raises(SignatureError, match=missing):
        verify("s", headers, b"", now=NOW, tolerance_s=300)


def test_secrets_are_long_and_fresh() -> None:
    first, second = new_secret(), new_secret()
    assert first != second and len(first) > 40
