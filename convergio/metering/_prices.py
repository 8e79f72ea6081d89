"""Prices are data: a versioned EUR price table, and the usage records it prices.

The table lives in ``prices.json`` next to this module (or any file of the same
shape)::

    {"version": "2026-11-01", "currency": "EUR",
     "models": {"openai:gpt-4o-mini": {"input_tokens": "0.000000138", ...},
                "offline:*": {"input_tokens": "0", ...}}}

Prices are EUR per unit, written as decimal strings so they stay exact.

Lookup rule: the entry ``provider:model``, else ``provider:*``. A model with no entry,
or a unit its entry does not list, is **unpriced**: its price is 0 and the records
made from it carry ``unpriced=True``, so they can be found and re-priced instead of
silently billed at zero. A free unit is listed explicitly as ``"0"``.

A tenant's connection may carry its own entry (:func:`unit_prices`, same units: EUR per unit),
which replaces the table's for that connection's calls (:meth:`PriceTable.with_connection`):
the way to price an ``openai-compatible`` endpoint or a model the table does not list.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Final

from ._canonical import canonical_time, non_negative_decimal
from ._record import (
    COST_QUANTUM,
    UNITS,
    KeyMode,
    Unit,
    UsageRecord,
    check_source,
    usage_ids,
)

__all__ = [
    "DEFAULT_PRICES",
    "MAX_UNIT_PRICE",
    "USAGE_UNITS",
    "PriceTable",
    "cost_of",
    "records_for",
    "unit_prices",
]

DEFAULT_PRICES: Final = Path(__file__).resolve().parent / "prices.json"
"""The price table shipped with the package."""

USAGE_UNITS: Final[Mapping[str, Unit]] = {
    "prompt_tokens": "input_tokens",
    "completion_tokens": "output_tokens",
    "tool_calls": "tool_calls",
    "audio_seconds": "audio_seconds",
}
"""How the keys of a provider's usage dict map to billed units."""

_DERIVED: Final = frozenset({"total_tokens"})
_USAGE_KEYS: Final = frozenset(USAGE_UNITS) | _DERIVED
_TOKEN_UNITS: Final = frozenset({"input_tokens", "output_tokens"})
_ZERO: Final = Decimal(0)

MAX_UNIT_PRICE: Final = Decimal("0.01")
"""The dearest price a connection may set for one unit (EUR; 10,000 EUR per million tokens)."""
_REQUIRED: Final[tuple[Unit, ...]] = ("input_tokens", "output_tokens")


def unit_prices(data: Mapping[str, Any], name: str = "prices") -> dict[Unit, Decimal]:
    """A connection's own price entry, validated: EUR per unit as decimal strings, like
    ``prices.json`` (``{"input_tokens": "0.0000023", "output_tokens": "0.0000092"}``).

    ``input_tokens`` and ``output_tokens`` are required; ``tool_calls`` is free unless given
    (its tokens are billed as tokens); ``audio_seconds`` is optional.

    Raises:
        ValueError: An unknown unit, a missing token price, or a price that is not a decimal
            string in ``[0, MAX_UNIT_PRICE]``; the message names the field.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{name} must be an object of unit prices")
    entry: dict[Unit, Decimal] = {"tool_calls": _ZERO}
    for unit, text in data.items():
        if unit not in UNITS:
            raise ValueError(f"{name}.{unit}: unknown unit (one of {', '.join(UNITS)})")
        price = _price(text, f"{name}.{unit}")
        if price > MAX_UNIT_PRICE:
            raise ValueError(f"{name}.{unit} must be at most {MAX_UNIT_PRICE} EUR per unit")
        entry[unit] = price
    missing = [unit for unit in _REQUIRED if unit not in data]
    if missing:
        raise ValueError(f"{name}: {' and '.join(missing)} required (EUR per token)")
    return entry


class PriceTable:
    """A versioned table of EUR prices per provider, model and unit.

    Args:
        data: The parsed table (the shape of ``prices.json``).

    Raises:
        ValueError: If the table is malformed; the message names the bad field.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        version, currency, models = data.get("version"), data.get("currency"), data.get("models")
        if not isinstance(version, str) or not version:
            raise ValueError("prices.version must be a non-empty string")
        if currency != "EUR":
            raise ValueError(f"prices.currency must be 'EUR', got {currency!r}")
        if not isinstance(models, Mapping):
            raise ValueError("prices.models must be an object")
        table: dict[str, dict[str, Decimal]] = {}
        for key, units in models.items():
            provider, colon, model = str(key).partition(":")
            if not colon or not provider or not model:
                raise ValueError(f"prices.models.{key}: the key must be 'provider:model' or 'provider:*'")
            if not isinstance(units, Mapping):
                raise ValueError(f"prices.models.{key} must be an object")
            table[key] = {}
            for unit, text in units.items():
                if unit not in UNITS:
                    raise ValueError(f"prices.models.{key}.{unit}: unknown unit")
                table[key][unit] = _price(text, f"prices.models.{key}.{unit}")
        self.version: str = version
        self.currency: str = currency
        self._models = table

    @classmethod
    def load(cls, path: Path | None = None) -> PriceTable:
        """Read a price table file.

        Args:
            path: A JSON file; the packaged ``prices.json`` when None.

        Returns:
            The table.

        Raises:
            OSError: If the file cannot be read.
            ValueError: If it is not a valid price table.
        """
        source = DEFAULT_PRICES if path is None else path
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except json.JSONDecodeError as bad:
            raise ValueError(f"{source}: not JSON ({bad.msg}, line {bad.lineno})") from None
        if not isinstance(data, Mapping):
            raise ValueError(f"{source}: a price table is a JSON object")
        return cls(data)

    def with_connection(self, provider: str, prices: Mapping[str, Any] | None) -> PriceTable:
        """This table with a connection's own prices (see :func:`unit_prices`) for every model of
        ``provider``; the table itself when ``prices`` is empty.

        Raises:
            ValueError: If ``prices`` is not a valid price entry.
        """
        if not prices:
            return self
        own = copy.copy(self)
        own._models = {k: v for k, v in self._models.items() if k.partition(":")[0] != provider}
        own._models[f"{provider}:*"] = {unit: price for unit, price in unit_prices(prices).items()}
        return own

    def entry(self, provider: str, model: str) -> Mapping[str, Decimal] | None:
        """The prices of ``provider``'s ``model`` by unit (see the lookup rule above), ``None``
        when it has none; a unit it does not list is unpriced."""
        entry = self._models.get(f"{provider}:{model}")
        return self._models.get(f"{provider}:*") if entry is None else entry

    def is_priced(self, provider: str, model: str, unit: Unit) -> bool:
        """Whether the table has a price for this model and unit (see the lookup rule above).

        Args:
            provider: The provider name.
            model: The model name.
            unit: The billed unit.

        Returns:
            True if priced (possibly at an explicit 0).
        """
        entry = self.entry(provider, model)
        return entry is not None and unit in entry

    def prices_tokens(self, provider: str, model: str) -> bool:
        """Whether a chat call of this model is priced: both its input and output tokens."""
        return all(self.is_priced(provider, model, unit) for unit in _REQUIRED)

    def price(self, provider: str, model: str, unit: Unit) -> Decimal:
        """The EUR price of one unit.

        Args:
            provider: The provider name.
            model: The model name.
            unit: The billed unit.

        Returns:
            The price; ``Decimal(0)`` when unpriced (check :meth:`is_priced`).
        """
        entry = self.entry(provider, model)
        return _ZERO if entry is None else entry.get(unit, _ZERO)


def _price(value: Any, name: str) -> Decimal:
    if not isinstance(value, str):  # exact: a float in prices.json would already be rounded
        raise ValueError(f'{name} must be a decimal string such as "0.00000015"')
    return non_negative_decimal(value, name)


def cost_of(quantity: Decimal | int, unit_price: Decimal) -> Decimal:
    """EUR cost of a quantity, rounded half-up to 1e-8 EUR.

    Args:
        quantity: How many units.
        unit_price: EUR per unit.

    Returns:
        The cost.
    """
    return (unit_price * quantity).quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)


def records_for(
    tenant_id: str,
    run_id: str,
    node_id: str,
    attempt: int,
    provider: str,
    model: str,
    key_mode: KeyMode,
    usage: Mapping[str, int | Decimal],
    prices: PriceTable,
    at: str | datetime,
    *,
    estimated: bool = False,
) -> list[UsageRecord]:
    """The usage records of one provider call (or one attempt's total usage).

    Args:
        tenant_id: The tenant billed.
        run_id: The run id.
        node_id: The graph node (agent) id.
        attempt: The node's attempt number.
        provider: The provider name.
        model: The model name.
        key_mode: ``byok`` or ``managed``.
        usage: ``prompt_tokens``, ``completion_tokens``, ``tool_calls``, ``audio_seconds``
            (``total_tokens`` is accepted and ignored: it is derived).
        prices: The price table.
        at: When the usage happened (ISO 8601 with offset, or an aware datetime).
        estimated: The token counts were made locally, not reported by the provider.

    Returns:
        One record per non-zero quantity, in ``USAGE_UNITS`` order.

    Raises:
        ValueError: On an unknown usage key or an invalid value.
    """
    unknown = sorted(set(usage) - _USAGE_KEYS) if not _USAGE_KEYS.issuperset(usage) else ()
    if unknown:
        raise ValueError(f"usage has unknown keys: {', '.join(unknown)}")
    moment = canonical_time(at)
    entry = prices.entry(provider, model)
    records: list[UsageRecord] = []
    source = (tenant_id, run_id, node_id, attempt, provider, model, key_mode, moment)
    ids: Callable[[str], str] | None = None
    for key, unit in USAGE_UNITS.items():
        quantity = usage.get(key, 0)
        if isinstance(quantity, bool) or not isinstance(quantity, int | Decimal):
            raise ValueError(f"usage.{key} must be an int, got {type(quantity).__name__}")
        if quantity < 0:
            raise ValueError(f"usage.{key} must be >= 0, got {quantity}")
        if quantity == 0:
            continue
        if ids is None:  # the fields the records share, checked once (as each record would)
            check_source(tenant_id, run_id, node_id, attempt, provider, model, key_mode)
            ids = usage_ids(tenant_id, run_id, node_id, attempt)
        unit_price = _ZERO if entry is None else entry.get(unit, _ZERO)
        records.append(
            UsageRecord.made(
                source,
                unit,
                quantity,
                unit_price,
                cost_of(quantity, unit_price),
                ids(unit),
                unpriced=entry is None or unit not in entry,
                estimated=estimated and unit in _TOKEN_UNITS,
            )
        )
    return records
