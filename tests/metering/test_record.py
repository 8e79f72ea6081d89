"""Usage records: deterministic ids, validation, canonical time, JSON round trip."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from convergio.metering import UsageRecord, canonical_time, usage_id
from tests.metering._samples import record

PARTS = ("tenant-a", "run-1", "planner", 1, "input_tokens")


def test_same_inputs_give_the_same_id() -> None:
    assert usage_id(*PARTS) == usage_id(*PARTS)
    assert record().id == record().id == usage_id(*PARTS)
    assert len(record().id) == 64 and int(record().id, 16) >= 0


@pytest.mark.parametrize("index", range(5))
def test_any_part_different_gives_a_different_id(index: int) -> None:
    changed = list(PARTS)
    changed[index] = 2 if index == 3 else f"{PARTS[index]}x"
    assert usage_id(*changed) != usage_id(*PARTS)  # type: ignore[arg-type]


def test_the_id_ignores_what_is_not_part_of_the_key() -> None:
    first = record()
    again = record(at="2026-11-25T00:00:00Z", quantity=7, cost=Decimal("0.00000097"), model="gpt-4o")
    assert again.id == first.id


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (("a|b", "c"), ("a", "b|c")),
        (("a\\", "|b"), ("a\\|", "b")),
        (("a\\|", "b"), ("a", "\\|b")),
        (("a", ""), ("a|", "")),
    ],
)
def test_separators_inside_parts_are_not_ambiguous(left: tuple[str, str], right: tuple[str, str]) -> None:
    assert usage_id(left[0], left[1], "n", 0, "tool_calls") != usage_id(
        right[0], right[1], "n", 0, "tool_calls"
    )


def test_ids_are_injective_over_tricky_strings() -> None:
    rng = random.Random(7)
    alphabet = ["a", "|", "\\", "1"]
    tuples = set()
    for _ in range(3000):
        parts = tuple("".join(rng.choices(alphabet, k=rng.randint(0, 4))) for _ in range(3))
        tuples.add((*parts, rng.randint(0, 11)))
    ids = {usage_id(t, r, n, a, "input_tokens") for t, r, n, a in tuples}
    assert len(ids) == len(tuples)


def test_attempts_with_separator_looking_numbers_stay_apart() -> None:
    assert usage_id("t", "r", "n|1", 2, "tool_calls") != usage_id("t", "r", "n", 12, "tool_calls")
    assert usage_id("t", "r", "n", 1, "input_tokens") != usage_id("t", "r", "n", 11, "input_tokens")


def test_json_round_trip_is_exact() -> None:
    original = record(
        unit="audio_seconds",
        quantity=Decimal("12.345"),
        unit_price=Decimal("0.000092"),
        cost=Decimal("0.00113574"),
        unpriced=True,
    )
    data = original.to_json()
    assert data["quantity"] == "12.345" and data["unit_price"] == "0.000092" and data["cost"] == "0.00113574"
    assert data["id"] == original.id and data["unpriced"] is True
    assert UsageRecord.from_json(data) == original
    small = record(unit_price=Decimal("1.5E-7"), cost=Decimal("1.5E-4")).to_json()
    assert small["unit_price"] == "0.00000015" and small["cost"] == "0.00015000"


def test_from_json_ignores_cosmos_system_properties_and_checks_the_id() -> None:
    data = {**record().to_json(), "_rid": "x", "_etag": '"1"', "_ts": 1}
    assert UsageRecord.from_json(data) == record()
    with pytest.raises(ValueError, match="does not match"):
        UsageRecord.from_json({**data, "id": "0" * 64})
    del data["cost"]
    with pytest.raises(ValueError, match="missing 'cost'"):
        UsageRecord.from_json(data)


def test_quantities_are_normalised() -> None:
    assert record(quantity=Decimal("12")).quantity == 12
    assert isinstance(record(quantity=Decimal("12.000")).quantity, int)
    assert str(record(quantity=Decimal("1.50")).quantity) == "1.5"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"unit": "images"}, "unit must be one of"),
        ({"key_mode": "shared"}, "key_mode must be one of"),
        ({"quantity": -1}, ">= 0"),
        ({"quantity": 1.5}, "must be a Decimal"),
        ({"quantity": True}, "must be a Decimal"),
        ({"quantity": Decimal("0.0000001")}, "more than 6 decimal places"),
        ({"quantity": 10**12}, "quantity must be <"),
        ({"quantity": Decimal("NaN")}, "finite"),
        ({"cost": Decimal("0.000000001")}, "more than 8 decimal places"),
        ({"cost": Decimal(10**9)}, "cost must be <"),
        ({"unit_price": Decimal(-1)}, ">= 0"),
        ({"attempt": -1}, "attempt must be an int >= 0"),
        ({"attempt": True}, "attempt must be an int >= 0"),
        ({"tenant_id": ""}, "tenant_id must be a non-empty string"),
        ({"at": "2026-11-24T10:00:00"}, "must carry a UTC offset"),
        ({"at": "yesterday"}, "not an ISO 8601 time"),
        ({"unpriced": 1}, "unpriced must be a bool"),
    ],
)
def test_invalid_records_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        record(**overrides)


def test_times_are_canonical_utc_and_order_as_strings() -> None:
    assert canonical_time("2026-11-24T10:00:00Z") == "2026-11-24T10:00:00.000000Z"
    assert canonical_time("2026-11-24T11:30:00.5+01:30") == "2026-11-24T10:00:00.500000Z"
    assert canonical_time(datetime(2026, 11, 24, 10, tzinfo=UTC)) == "2026-11-24T10:00:00.000000Z"
    assert canonical_time("2026-11-01", allow_date=True) == "2026-11-01T00:00:00.000000Z"
    with pytest.raises(ValueError, match="UTC offset"):
        canonical_time("2026-11-01")
    with pytest.raises(ValueError, match="UTC offset"):
        canonical_time(datetime(2026, 11, 24))  # naive: refused
    base = datetime(2026, 11, 24, tzinfo=UTC)
    zones = [timezone(timedelta(hours=h)) for h in (-8, 0, 5)]
    moments = [
        base + timedelta(seconds=s, microseconds=m) for s, m in itertools.product((0, 59, 3601), (0, 1))
    ]
    texts = [canonical_time(m.astimezone(z)) for m, z in zip(moments, itertools.cycle(zones))]
    assert sorted(texts) == [canonical_time(m) for m in sorted(moments)]


def test_ids_are_the_sha256_of_the_escaped_parts_as_documented() -> None:
    """Pinned: an id never changes with the code that computes it (the ledger dedupes by it)."""
    import hashlib

    def documented(*parts: str) -> str:
        escaped = [p.replace("\\", "\\\\").replace("|", "\\|") for p in ("usage/v1", *parts)]
        return hashlib.sha256("|".join(escaped).encode("utf-8")).hexdigest()

    cases = [
        ("tenant-a", "run-1", "planner", "1", "input_tokens"),
        ("t|x", "r\\", "n|\\|", "0", "output_tokens"),
        ("école", "run/sub", "a", "12", "tool_calls"),
        ("t", "r", "n", "3", "a|new\\unit"),
    ]
    rng = random.Random(7)

    def part() -> str:
        return "".join(rng.choices("ab|\\é", k=rng.randrange(4))) or "x"

    for _ in range(500):
        unit = rng.choice(["input_tokens", "tool_calls", "x|y"])
        cases.append((part(), part(), part(), str(rng.randrange(3)), unit))
    for tenant, run, node, attempt, unit in cases:
        assert usage_id(tenant, run, node, int(attempt), unit) == documented(tenant, run, node, attempt, unit)
    # as the ledgers of earlier versions stored them
    assert usage_id(*PARTS) == "c5d3086c32418558c4585151f7b4bad02ddf0a7865bce9f99df8c128c13d69de"
    assert usage_id("t|x", "r\\", "n|\\|", 0, "output_tokens") == (
        "f436ee79a07dce0aac5847b7fd3fcab76dcec2c98f2e50f725bae58c143b39f9"
    )


def test_now_text_is_canonical_now() -> None:
    from convergio.metering._clock import now_text

    before = datetime.now(UTC)
    text = now_text()
    after = datetime.now(UTC)
    assert canonical_time(text) == text
    assert before <= datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC) <= after
