"""A connection's own prices (issue 19.6): validated like prices.json's entries, used instead of
the table for that connection's calls; unpriced tokens are counted apart, never as free."""

from __future__ import annotations

from decimal import Decimal

import pytest

from convergio.metering import MAX_UNIT_PRICE, PriceTable, records_for, unit_prices, unpriced_tokens

PRICES = PriceTable.load()
OWN = {"input_tokens": "0.000001", "output_tokens": "0.000004"}
AT = "2026-12-01T10:00:00Z"


def test_a_connection_price_entry_is_eur_per_unit_and_needs_both_token_prices() -> None:
    assert unit_prices(OWN) == {
        "tool_calls": Decimal(0),
        "input_tokens": Decimal("0.000001"),
        "output_tokens": Decimal("0.000004"),
    }
    assert unit_prices({**OWN, "audio_seconds": "0.0001"})["audio_seconds"] == Decimal("0.0001")


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        ({"input_tokens": "0.000001"}, "output_tokens required"),
        ({**OWN, "images": "1"}, "prices.images: unknown unit"),
        ({**OWN, "input_tokens": "-0.1"}, "prices.input_tokens must be a finite number >= 0"),
        ({**OWN, "output_tokens": 0.1}, "prices.output_tokens must be a decimal string"),
        ({**OWN, "output_tokens": "NaN"}, "finite"),
        ({**OWN, "output_tokens": "0.02"}, f"at most {MAX_UNIT_PRICE} EUR per unit"),
    ],
)
def test_bad_connection_prices_are_refused_naming_the_field(prices: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        unit_prices(prices)


def test_connection_prices_replace_the_table_for_that_provider_only() -> None:
    assert not PRICES.prices_tokens("openai-compatible", "llama3")
    own = PRICES.with_connection("openai-compatible", OWN)
    assert own.prices_tokens("openai-compatible", "llama3") and own.prices_tokens("openai-compatible", "any")
    assert own.price("openai-compatible", "llama3", "output_tokens") == Decimal("0.000004")
    assert own.price("openai", "gpt-4o", "output_tokens") == PRICES.price("openai", "gpt-4o", "output_tokens")
    assert not PRICES.prices_tokens("openai-compatible", "llama3")  # the shared table is unchanged
    dearer = PRICES.with_connection("openai", OWN)  # a listed model: the connection's prices win
    assert dearer.price("openai", "gpt-4o", "input_tokens") == Decimal("0.000001")
    assert PRICES.with_connection("openai", None) is PRICES


def test_the_offline_provider_stays_priced_at_zero() -> None:
    assert PRICES.prices_tokens("offline", "anything")
    records = records_for("t", "r", "a", 0, "offline", "sim", "byok", {"prompt_tokens": 5}, PRICES, AT)
    assert records[0].cost == 0 and not records[0].unpriced


def test_records_use_connection_prices_and_unpriced_ones_are_counted_apart() -> None:
    usage = {"prompt_tokens": 1000, "completion_tokens": 500, "tool_calls": 1}
    own = PRICES.with_connection("openai-compatible", OWN)
    priced = records_for("t", "r", "a", 0, "openai-compatible", "llama3", "byok", usage, own, AT)
    assert sum(r.cost for r in priced) == Decimal("0.003") and not any(r.unpriced for r in priced)
    free = records_for("t", "r", "b", 0, "openai-compatible", "llama3", "byok", usage, PRICES, AT)
    assert all(r.unpriced and r.cost == 0 for r in free)
    assert unpriced_tokens(priced + free, ["agent"]) == {("b",): 1500}
    assert unpriced_tokens(priced + free, []) == {(): 1500}
