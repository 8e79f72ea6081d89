"""HMAC signing and verification of webhook bodies."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from convergio.webhooks import SignatureError, new_secret, sign, signed_headers, verify

NOW = 1_800_000_000


def test_the_signature_is_hmac_sha256_over_the_scheme_timestamp_delivery_id_and_body() -> None:
    expected = hmac.new(b"s3cret", b'v2:1700000000.evt.cb-1\n{"a":1}', hashlib.sha256).hexdigest()
    assert sign("s3cret", 1700000000, "evt.cb-1", b'{"a":1}') == f"sha256={expected}"


def test_a_captured_request_replayed_under_a_new_delivery_id_is_refused() -> None:
    """v1 signed only timestamp and body: a fresh X-Convergio-Delivery got past the dedupe."""
    secret = "whsec_right"
    captured = signed_headers(secret, b'{"a":1}', delivery_id="d-1", timestamp=NOW)
    for other in ("d-2", "d-1.", "D-1"):
        replayed = captured | {"X-Convergio-Delivery": other}
        with pytest.raises(SignatureError) as raised:
            verify(secret, replayed, b'{"a":1}', now=NOW, tolerance_s=300)
        assert raised.value.code == "bad_signature", other
    v1 = "sha256=" + hmac.new(secret.encode(), f"{NOW}.".encode() + b'{"a":1}', hashlib.sha256).hexdigest()
    with pytest.raises(SignatureError, match="v2 signs"):
        verify(secret, captured | {"X-Convergio-Signature": v1}, b'{"a":1}', now=NOW, tolerance_s=300)


@pytest.mark.parametrize("delivery", ["d\n1", "d 1", "x" * 201, "é"])
def test_a_delivery_id_outside_visible_ascii_is_refused(delivery: str) -> None:
    with pytest.raises(ValueError, match="visible ASCII"):
        sign("s", NOW, delivery, b"")
    headers = {"X-Convergio-Timestamp": str(NOW), "X-Convergio-Signature": "sha256=00"}
    with pytest.raises(SignatureError, match="X-Convergio-Delivery") as raised:
        verify("s", headers | {"X-Convergio-Delivery": delivery}, b"", now=NOW, tolerance_s=300)
    assert raised.value.code == "missing_header"


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
