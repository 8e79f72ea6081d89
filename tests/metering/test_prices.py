"""Prices as data: the packaged table, the lookup rule, Decimal costs and records_for."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from convergio.metering import DEFAULT_PRICES, KeyMode, PriceTable, UsageRecord, cost_of, records_for


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return PriceTable.load()


def test_the_packaged_table_is_versioned_eur(prices: PriceTable) -> None:
    assert prices.version == "2026-11-01" and prices.currency == "EUR"
    data = json.loads(DEFAULT_PRICES.read_text())
    providers = {key.partition(":")[0] for key in data["models"]}
    assert {"openai", "azure-openai", "anthropic", "offline"} <= providers


def test_exact_model_prices(prices: PriceTable) -> None:
    assert prices.price("openai", "gpt-4o-mini", "input_tokens") == Decimal("0.000000138")
    assert prices.price("anthropic", "claude-sonnet-4-0", "output_tokens") == Decimal("0.0000138")
    assert prices.price("azure-openai", "gpt-4.1", "input_tokens") == Decimal("0.00000184")
    assert (
        prices.is_priced("openai", "gpt-4o", "tool_calls")
        and prices.price("openai", "gpt-4o", "tool_calls") == 0
    )


def test_offline_is_free_through_its_wildcard(prices: PriceTable) -> None:
    for unit in ("input_tokens", "output_tokens", "tool_calls", "audio_seconds"):
        assert prices.price("offline", "anything", unit) == 0
        assert prices.is_priced("offline", "anything", unit)


def test_unknown_models_and_unlisted_units_are_unpriced_at_zero(prices: PriceTable) -> None:
    assert prices.price("openai", "gpt-99", "input_tokens") == 0
    assert not prices.is_priced("openai", "gpt-99", "input_tokens")
    assert not prices.is_priced("openai-compatible", "llama", "output_tokens")
    assert not prices.is_priced("openai", "gpt-4o", "audio_seconds")  # listed model, unlisted unit


def test_an_exact_entry_wins_over_the_wildcard() -> None:
    table = PriceTable(
        {
            "version": "v",
            "currency": "EUR",
            "models": {"p:*": {"input_tokens": "1"}, "p:m": {"input_tokens": "2"}, "p:empty": {}},
        }
    )
    assert table.price("p", "m", "input_tokens") == 2
    assert table.price("p", "other", "input_tokens") == 1
    assert not table.is_priced("p", "empty", "input_tokens")  # an entry, even empty, is not a wildcard miss


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"currency": "EUR", "models": {}}, "prices.version"),
        ({"version": "v", "currency": "USD", "models": {}}, "currency must be 'EUR'"),
        ({"version": "v", "currency": "EUR"}, "prices.models must be an object"),
        ({"version": "v", "currency": "EUR", "models": {"gpt": {}}}, r"prices.models.gpt: the key"),
        (
            {"version": "v", "currency": "EUR", "models": {"a:b": {"images": "1"}}},
            r"a:b.images: unknown unit",
        ),
        ({"version": "v", "currency": "EUR", "models": {"a:b": {"input_tokens": 0.1}}}, "decimal string"),
        ({"version": "v", "currency": "EUR", "models": {"a:b": {"input_tokens": "-1"}}}, ">= 0"),
        ({"version": "v", "currency": "EUR", "models": {"a:b": {"input_tokens": "x"}}}, "not a number"),
    ],
)
def test_bad_tables_name_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PriceTable(data)


def test_load_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps({"version": "2027-01-01", "currency": "EUR", "models": {"x:y": {"tool_calls": "0.01"}}})
    )
    assert PriceTable.load(path).price("x", "y", "tool_calls") == Decimal("0.01")
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not JSON"):
        PriceTable.load(path)


def test_costs_are_decimal_rounded_half_up_to_1e_8() -> None:
    assert cost_of(1000, Decimal("0.000000138")) == Decimal("0.00013800")
    assert cost_of(1, Decimal("0.000000005")) == Decimal("0.00000001")
    assert cost_of(1, Decimal("0.0000000049")) == 0
    assert cost_of(3, Decimal("0.1")) == Decimal("0.3")  # not 0.30000000000000004
    assert cost_of(Decimal("1.5"), Decimal("0.000092")).as_tuple().exponent == -8


def test_records_for_maps_usage_to_priced_records(prices: PriceTable) -> None:
    usage = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500, "tool_calls": 0}

    def at(when: str) -> list[UsageRecord]:
        return records_for(
            "tenant-a", "run-1", "planner", 2, "openai", "gpt-4o-mini", "managed", usage, prices, when
        )

    records = at("2026-11-24T10:00:00Z")
    assert [(r.unit, r.quantity, r.cost) for r in records] == [
        ("input_tokens", 1000, Decimal("0.000138")),
        ("output_tokens", 500, Decimal("0.000276")),
    ]
    assert all(r.key_mode == "managed" and r.attempt == 2 and not r.unpriced for r in records)
    assert len({r.id for r in records}) == 2
    again = at("2026-11-24T10:00:05Z")
    assert [r.id for r in again] == [r.id for r in records]


def test_records_for_flags_unpriced_models_and_takes_datetimes(prices: PriceTable) -> None:
    at = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    records = records_for("t", "r", "n", 0, "openai", "gpt-99", "byok", {"audio_seconds": 61}, prices, at)
    assert len(records) == 1
    assert records[0].unpriced and records[0].cost == 0 and records[0].at == "2026-11-24T09:30:00.000000Z"
    assert records_for("t", "r", "n", 0, "offline", "x", "byok", {}, prices, at) == []


@pytest.mark.parametrize(
    ("usage", "message"),
    [
        ({"cached_tokens": 3}, "unknown keys: cached_tokens"),
        ({"prompt_tokens": -1}, ">= 0"),
        ({"prompt_tokens": 1.5}, "must be an int"),
        ({"tool_calls": True}, "must be an int"),
    ],
)
def test_records_for_refuses_bad_usage(prices: PriceTable, usage: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        records_for("t", "r", "n", 0, "offline", "x", "byok", usage, prices, "2026-11-24T10:00:00Z")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("provider", "model", "usage", "estimated"),
    [
        ("openai", "gpt-4o-mini", {"prompt_tokens": 1234, "completion_tokens": 56, "tool_calls": 2}, False),
        ("openai", "gpt-4o-mini", {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}, True),
        ("openai", "no-such-model", {"prompt_tokens": 5, "audio_seconds": Decimal("1.25")}, False),
        ("offline", "offline-1", {"completion_tokens": 10**6, "audio_seconds": Decimal("2.000000")}, True),
        ("own", "x|y\\z", {"prompt_tokens": 3, "completion_tokens": 4}, False),  # escaped id parts
    ],
)
def test_records_for_makes_what_the_validating_constructor_makes(
    prices: PriceTable, provider: str, model: str, usage: dict[str, int | Decimal], estimated: bool
) -> None:
    """``records_for`` checks the call's shared fields once and builds records without the
    constructor's per-record checks: the records must equal the constructor's, ids included."""
    table = prices.with_connection("own", {"input_tokens": "0.0000023", "output_tokens": "0.0000092"})
    at = datetime(2026, 11, 24, 10, 30, 1, 250, tzinfo=UTC)
    made = records_for(
        "t|1", "r\\2", "n", 3, provider, model, "managed", usage, table, at, estimated=estimated
    )
    expected = []
    for key, unit in (
        ("prompt_tokens", "input_tokens"),
        ("completion_tokens", "output_tokens"),
        ("tool_calls", "tool_calls"),
        ("audio_seconds", "audio_seconds"),
    ):
        if usage.get(key):
            price = table.price(provider, model, unit)  # type: ignore[arg-type]
            expected.append(
                UsageRecord(
                    tenant_id="t|1",
                    run_id="r\\2",
                    node_id="n",
                    attempt=3,
                    provider=provider,
                    model=model,
                    key_mode="managed",
                    unit=unit,  # type: ignore[arg-type]
                    quantity=usage[key],
                    unit_price=price,
                    cost=cost_of(usage[key], price),
                    at=at.isoformat(),
                    unpriced=not table.is_priced(provider, model, unit),  # type: ignore[arg-type]
                    estimated=estimated and unit in ("input_tokens", "output_tokens"),
                )
            )
    assert made == expected
    assert [type(r.quantity) for r in made] == [type(r.quantity) for r in expected]  # 2.000000 -> 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("", "r", "n", 0, "p", "m", "byok"), "tenant_id"),
        (("t", "r", "n", -1, "p", "m", "byok"), "attempt"),
        (("t", "r", "n", True, "p", "m", "byok"), "attempt"),
        (("t", "r", "n", 0, "p", "m", "free"), "key_mode"),
    ],
)
def test_records_for_checks_the_shared_fields_once_as_the_constructor_would(
    prices: PriceTable, fields: tuple[str, str, str, int, str, str, str], message: str
) -> None:
    tenant, run, node, attempt, provider, model, mode = fields
    key_mode: KeyMode = mode  # type: ignore[assignment]  # a bad one too
    at = "2026-11-24T10:00:00Z"
    with pytest.raises(ValueError, match=message):
        records_for(tenant, run, node, attempt, provider, model, key_mode, {"prompt_tokens": 1}, prices, at)
    # Nothing used: nothing to record and nothing checked, as before.
    assert records_for(tenant, run, node, attempt, provider, model, key_mode, {}, prices, at) == []
