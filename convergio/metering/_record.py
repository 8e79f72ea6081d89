"""One billed quantity: the usage record and its deterministic id (its canonical texts: ``_canonical``).

A record's ``id`` depends only on (tenant, run, node, attempt, unit). An activity that
is retried by the Durable runtime, delivered twice, or resumed after a crash rebuilds
the same records with the same ids, so every ledger can store them idempotently and
nothing is billed twice. A new *attempt* (the graph's own retry of a failed agent)
made a new provider call, so it gets new ids and is billed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal, get_args

from ._canonical import canonical_time, decimal_text, non_negative_decimal

__all__ = [
    "COST_QUANTUM",
    "KEY_MODES",
    "UNITS",
    "KeyMode",
    "Unit",
    "UsageRecord",
    "check_source",
    "usage_id",
    "usage_ids",
]

KeyMode = Literal["byok", "managed"]
Unit = Literal["input_tokens", "output_tokens", "tool_calls", "audio_seconds"]
KEY_MODES: Final[tuple[KeyMode, ...]] = get_args(KeyMode)
UNITS: Final[tuple[Unit, ...]] = get_args(Unit)

COST_QUANTUM: Final = Decimal("1e-8")
"""Costs are EUR with 8 decimal places (a hundredth of a micro-euro)."""

QUANTITY_PLACES: Final = 6
"""A quantity has at most 6 decimal places (audio seconds to the microsecond)."""

MAX_QUANTITY: Final = 10**12
"""Quantities are below this (a trillion units in one record is an error, not usage)."""

MAX_COST: Final = Decimal(10**9)
"""Costs are below this many EUR (so a record's cost in nano-EUR fits in int64)."""

_ID_PREFIX: Final = "usage/v1"
_SEPARATOR: Final = "|"


def _escape(part: str) -> str:
    return part.replace("\\", "\\\\").replace(_SEPARATOR, "\\" + _SEPARATOR)


_UNIT_BYTES: Final[dict[str, bytes]] = {unit: _escape(unit).encode("utf-8") for unit in UNITS}
"""Each unit as the last part of an id's text (escaped, encoded): hashed for every record."""


def usage_id(tenant_id: str, run_id: str, node_id: str, attempt: int, unit: str) -> str:
    """The deterministic id of a usage record.

    The parts are escaped (``\\`` and ``|`` get a backslash) and joined with ``|``,
    after a format version (``usage/v1``), so no two different tuples share a joined
    string; the id is the SHA-256 hex digest of that string.

    Args:
        tenant_id: The tenant billed.
        run_id: The run (orchestration instance id).
        node_id: The graph node (agent) id.
        attempt: The node's attempt number.
        unit: The billed unit.

    Returns:
        64 lowercase hex characters.
    """
    return usage_ids(tenant_id, run_id, node_id, attempt)(unit)


def usage_ids(tenant_id: str, run_id: str, node_id: str, attempt: int) -> Callable[[str], str]:
    """:func:`usage_id` of each unit of one (tenant, run, node, attempt): the shared part is
    escaped and hashed once (a call's records differ only in their unit)."""
    parts = (_ID_PREFIX, tenant_id, run_id, node_id, str(attempt), "")
    joined = _SEPARATOR.join(parts)
    if "\\" in joined or joined.count(_SEPARATOR) != len(parts) - 1:  # some part needs escaping
        joined = _SEPARATOR.join(_escape(part) for part in parts)
    head = hashlib.sha256(joined.encode("utf-8"))

    def of(unit: str) -> str:
        digest = head.copy()
        digest.update(_UNIT_BYTES.get(unit) or _escape(unit).encode("utf-8"))
        return digest.hexdigest()

    return of


def _quantity(value: Any) -> Decimal | int:
    if type(value) is int and 0 <= value < MAX_QUANTITY:  # token counts: nothing to convert
        return value
    number = non_negative_decimal(value, "quantity")
    if number >= MAX_QUANTITY:
        raise ValueError(f"quantity must be < {MAX_QUANTITY}, got {value!r}")
    if isinstance(value, int):
        return value
    if number == number.to_integral_value():
        return int(number)
    if number != number.quantize(Decimal(1).scaleb(-QUANTITY_PLACES)):
        raise ValueError(f"quantity has more than {QUANTITY_PLACES} decimal places: {value!r}")
    return number.normalize()


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One billed quantity of one unit, for one attempt of one agent in one run.

    Validated and normalised on construction: ``quantity`` becomes an int when it is
    integral, ``unit_price`` and ``cost`` become Decimals, ``at`` becomes canonical UTC
    (see :func:`canonical_time`), and ``id`` is derived (see :func:`usage_id`).

    Attributes:
        tenant_id: The tenant billed (the Cosmos partition key).
        run_id: The run (orchestration instance id).
        node_id: The graph node (agent) id.
        attempt: The node's attempt number (>= 0).
        provider: The provider name (``openai``, ``azure-openai``, ``anthropic``, ``offline`` ...).
        model: The model (or deployment) name.
        key_mode: ``byok`` (the tenant's key) or ``managed`` (the platform's key).
        unit: ``input_tokens``, ``output_tokens``, ``tool_calls`` or ``audio_seconds``.
        quantity: How many units (an int, or a Decimal with at most 6 places).
        unit_price: EUR per unit, as priced when the record was made.
        cost: EUR, a Decimal with at most 8 decimal places.
        at: When the usage happened, ISO 8601 UTC.
        unpriced: True when the price table had no price for this model and unit (cost 0).
        estimated: True when the tokens were counted locally because the provider reported
            none (e.g. a stream without usage), so the quantity is ours, not the provider's.
        id: The deterministic key of (tenant, run, node, attempt, unit).
    """

    tenant_id: str
    run_id: str
    node_id: str
    attempt: int
    provider: str
    model: str
    key_mode: KeyMode
    unit: Unit
    quantity: Decimal | int
    unit_price: Decimal
    cost: Decimal
    at: str
    unpriced: bool = False
    estimated: bool = False
    id: str = field(init=False)

    def __post_init__(self) -> None:
        check_source(
            self.tenant_id, self.run_id, self.node_id, self.attempt, self.provider, self.model, self.key_mode
        )
        if self.unit not in UNITS:
            raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {self.unit!r}")
        if not isinstance(self.unpriced, bool):
            raise ValueError("unpriced must be a bool")
        if not isinstance(self.estimated, bool):
            raise ValueError("estimated must be a bool")
        cost = non_negative_decimal(self.cost, "cost")
        if cost >= MAX_COST:
            raise ValueError(f"cost must be < {MAX_COST} EUR, got {self.cost!r}")
        if cost != cost.quantize(COST_QUANTUM):
            raise ValueError(f"cost has more than 8 decimal places: {self.cost!r}")
        set_field = object.__setattr__
        set_field(self, "quantity", _quantity(self.quantity))
        set_field(self, "unit_price", non_negative_decimal(self.unit_price, "unit_price"))
        set_field(self, "cost", cost.quantize(COST_QUANTUM))
        set_field(self, "at", canonical_time(self.at))
        set_field(self, "id", usage_id(self.tenant_id, self.run_id, self.node_id, self.attempt, self.unit))

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON-safe dict (numbers as exact decimal strings).

        Returns:
            A dict with every field, ``id`` included; this is also the Cosmos document.
        """
        return {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "run_id": self.run_id,
            "node_id": self.node_id,
            "attempt": self.attempt,
            "provider": self.provider,
            "model": self.model,
            "key_mode": self.key_mode,
            "unit": self.unit,
            "quantity": decimal_text(self.quantity),
            "unit_price": decimal_text(self.unit_price),
            "cost": decimal_text(self.cost),
            "at": self.at,
            "unpriced": self.unpriced,
            "estimated": self.estimated,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UsageRecord:
        """Rebuild a record from :meth:`to_json` output (extra keys such as Cosmos's ``_etag`` are ignored).

        Args:
            data: The dict.

        Returns:
            The record.

        Raises:
            ValueError: If a field is missing or invalid, or ``id`` does not match the fields.
        """
        try:
            record = cls(
                tenant_id=data["tenant_id"],
                run_id=data["run_id"],
                node_id=data["node_id"],
                attempt=data["attempt"],
                provider=data["provider"],
                model=data["model"],
                key_mode=data["key_mode"],
                unit=data["unit"],
                quantity=non_negative_decimal(data["quantity"], "quantity"),
                unit_price=non_negative_decimal(data["unit_price"], "unit_price"),
                cost=non_negative_decimal(data["cost"], "cost"),
                at=data["at"],
                unpriced=data.get("unpriced", False),
                estimated=data.get("estimated", False),
            )
        except KeyError as missing:
            raise ValueError(f"usage record is missing {missing.args[0]!r}") from None
        if "id" in data and data["id"] != record.id:
            raise ValueError(f"usage record id {data['id']!r} does not match its fields")
        return record

    @classmethod
    def from_stored(
        cls,
        record_id: str,
        fields: tuple[str, str, str, int, str, str, str, str, str, str, str, str, bool, bool],
    ) -> UsageRecord:
        """Rebuild a record this process's own ledger stored, as ``_row`` wrote it.

        The fields were validated and normalised when the record was made, and the ledger keeps
        them as exact text (``decimal_text``, canonical ``at``), so they are not checked again:
        that check was 16 us a record, and ``record_run`` and the run views read every record of
        a run (issue 22). The id still is: a row whose fields do not hash to its id is refused.
        ``fields`` are (tenant, run, node, attempt, provider, model, key_mode, unit, quantity,
        unit_price, cost, at, unpriced, estimated).

        Raises:
            ValueError: ``record_id`` does not match the fields.
        """
        tenant_id, run_id, node_id, attempt, unit = (*fields[:4], fields[7])
        if usage_id(tenant_id, run_id, node_id, attempt, unit) != record_id:
            raise ValueError(f"usage row {record_id!r} does not match its fields")
        quantity_text, price_text, cost_text, at, unpriced, estimated = fields[8:]
        quantity = Decimal(quantity_text)
        exact = int(quantity) if quantity == quantity.to_integral_value() else quantity
        return cls._assemble(
            *fields[:8], exact, Decimal(price_text), Decimal(cost_text), at, unpriced, estimated, record_id
        )

    @classmethod
    def _assemble(cls, *values: Any) -> UsageRecord:
        """A record of these field values (in field order, ``id`` last), taken as they are:
        for fields this module validated already (:func:`records_for`, :meth:`from_stored`)."""
        record = object.__new__(cls)
        for setter, value in zip(_SETTERS, values, strict=True):
            setter(record, value)
        return record

    @classmethod
    def made(
        cls,
        source: tuple[str, str, str, int, str, str, KeyMode, str],
        unit: Unit,
        quantity: Decimal | int,
        unit_price: Decimal,
        cost: Decimal,
        record_id: str,
        *,
        unpriced: bool,
        estimated: bool,
    ) -> UsageRecord:
        """A record from parts checked once for all the records of a call (the price table's
        prices, ``cost_of``'s cost, ``check_source``'s fields and canonical ``at``; ``source``
        is (tenant, run, node, attempt, provider, model, key_mode, at)): only what differs per
        record is checked here, as the constructor would."""
        if cost >= MAX_COST:
            raise ValueError(f"cost must be < {MAX_COST} EUR, got {cost!r}")
        return cls._assemble(
            *source[:7],
            unit,
            _quantity(quantity),
            unit_price,
            cost,
            source[7],
            unpriced,
            estimated,
            record_id,
        )


_SETTERS: Final = tuple(
    getattr(UsageRecord, name).__set__
    for name in (
        "tenant_id",
        "run_id",
        "node_id",
        "attempt",
        "provider",
        "model",
        "key_mode",
        "unit",
        "quantity",
        "unit_price",
        "cost",
        "at",
        "unpriced",
        "estimated",
        "id",
    )
)
"""The slots' own setters, in :meth:`UsageRecord._assemble`'s order (a frozen record has no other)."""


def check_source(
    tenant_id: str, run_id: str, node_id: str, attempt: int, provider: str, model: str, key_mode: str
) -> None:
    """Check the fields a call's records share (non-empty names, an attempt >= 0, a key mode).

    Raises:
        ValueError: naming the bad field.
    """
    for name, value in (
        ("tenant_id", tenant_id),
        ("run_id", run_id),
        ("node_id", node_id),
        ("provider", provider),
        ("model", model),
    ):
        _text(value, name)
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
        raise ValueError(f"attempt must be an int >= 0, got {attempt!r}")
    if key_mode not in KEY_MODES:
        raise ValueError(f"key_mode must be one of {', '.join(KEY_MODES)}, got {key_mode!r}")
