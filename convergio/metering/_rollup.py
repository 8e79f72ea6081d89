"""Roll-ups of usage records: totals per tenant / run / agent / model / day / unit.

:func:`rollup` encodes the records into columns (:class:`UsageColumns`: one int64 code
per distinct key value, quantities as scaled integers, costs as integer nano-EUR) and
sums them with the numba kernel in ``convergio.kernels``; every sum is an exact integer,
so the result equals :func:`rollup_reference`, the plain-Python Decimal implementation
kept as the tests' oracle and the benchmark's baseline. numpy and numba are imported
on the first roll-up, never by importing this package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from ._canonical import decimal_text
from ._record import COST_QUANTUM, QUANTITY_PLACES, UNITS, Unit, UsageRecord

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "GROUP_BY",
    "GroupBy",
    "RollupRow",
    "UsageColumns",
    "rollup",
    "rollup_reference",
    "unpriced_tokens",
]

GroupBy = Literal["tenant", "run", "agent", "model", "day", "unit"]
GROUP_BY: Final[tuple[GroupBy, ...]] = get_args(GroupBy)

_KEY_OF: Final[Mapping[GroupBy, Callable[[UsageRecord], str]]] = {
    "tenant": lambda record: record.tenant_id,
    "run": lambda record: record.run_id,
    "agent": lambda record: record.node_id,
    "model": lambda record: f"{record.provider}:{record.model}",
    "day": lambda record: record.at[:10],
    "unit": lambda record: record.unit,
}
_UNIT_CODE: Final = {unit: code for code, unit in enumerate(UNITS)}
_NANO: Final = 9
_INT64_MAX: Final = (1 << 63) - 1


@dataclass(frozen=True)
class RollupRow:
    """The totals of one group.

    Attributes:
        keys: The group's key values, in ``group_by`` order (``model`` is ``provider:model``,
            ``day`` is the UTC date ``YYYY-MM-DD``).
        quantity: Summed quantity per unit (units whose total is 0 are left out).
        cost: Summed cost in EUR (exact: costs are quantized to 1e-8).
        count: How many records.
    """

    keys: tuple[str, ...]
    quantity: Mapping[Unit, int | Decimal] = field(hash=False)
    cost: Decimal
    count: int

    def to_json(self, group_by: Sequence[GroupBy]) -> dict[str, Any]:
        """The row as a JSON-safe dict: one member per key, then quantity, cost and count.

        Args:
            group_by: The grouping the row came from (names its keys).

        Returns:
            ``{"<key>": value, ..., "quantity": {...}, "cost": "0.00001234", "count": n}``.
        """
        body: dict[str, Any] = dict(zip(group_by, self.keys, strict=True))
        body["quantity"] = {
            unit: value if isinstance(value, int) else decimal_text(value)
            for unit, value in self.quantity.items()
        }
        body["cost"] = decimal_text(self.cost)
        body["count"] = self.count
        return body


def _group_by(group_by: Sequence[str]) -> tuple[GroupBy, ...]:
    fields: list[GroupBy] = []
    for name in group_by:
        if name not in GROUP_BY:
            raise ValueError(f"group_by: unknown key {name!r} (one of {', '.join(GROUP_BY)})")
        if name in fields:
            raise ValueError(f"group_by: {name!r} given twice")
        fields.append(name)
    return tuple(fields)


def _normal(value: Decimal | int) -> Decimal | int:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value.normalize()
    return value


def _row(
    keys: tuple[str, ...], quantity: Mapping[Unit, Decimal | int], cost: Decimal, count: int
) -> RollupRow:
    amounts = {unit: _normal(quantity[unit]) for unit in UNITS if quantity.get(unit, 0) != 0}
    return RollupRow(keys, amounts, cost.quantize(COST_QUANTUM), count)


def rollup_reference(records: Sequence[UsageRecord], group_by: Sequence[GroupBy]) -> list[RollupRow]:
    """Roll up in plain Python with Decimal arithmetic: the oracle for :func:`rollup`.

    Args:
        records: The records.
        group_by: Keys to group by, in order (empty: one grand total).

    Returns:
        One row per group, sorted by keys.

    Raises:
        ValueError: On an unknown or repeated key.
    """
    getters = [_KEY_OF[name] for name in _group_by(group_by)]
    totals: dict[tuple[str, ...], tuple[dict[Unit, Decimal | int], list[Any]]] = {}
    for record in records:
        key = tuple(getter(record) for getter in getters)
        if key not in totals:
            totals[key] = ({}, [Decimal(0), 0])
        quantity, rest = totals[key]
        quantity[record.unit] = quantity.get(record.unit, 0) + record.quantity
        rest[0] += record.cost
        rest[1] += 1
    return [_row(key, quantity, cost, count) for key, (quantity, (cost, count)) in sorted(totals.items())]


def unpriced_tokens(
    records: Iterable[UsageRecord], group_by: Sequence[GroupBy]
) -> dict[tuple[str, ...], int]:
    """The tokens no price covered (records flagged ``unpriced``, billed 0), per group of
    ``group_by`` keys: usage that must be shown as unpriced, never as free."""
    getters = [_KEY_OF[name] for name in _group_by(group_by)]
    totals: dict[tuple[str, ...], int] = {}
    for record in records:
        if record.unpriced and record.unit in ("input_tokens", "output_tokens"):
            key = tuple(getter(record) for getter in getters)
            totals[key] = totals.get(key, 0) + int(record.quantity)
    return totals


class UsageColumns:
    """Usage records as columns, ready for the roll-up kernel.

    Every grouping key is encoded as int64 codes into the sorted list of its distinct
    values (so code order is value order), quantities as integers scaled by
    ``10**quantity_places`` (0 when all are integral, else 6), and costs as integer
    nano-EUR. Build once, roll up many times.

    Args:
        codes: Per grouping key, the code of each row.
        labels: Per grouping key, its distinct values (re-coded here in sorted order if they are not).
        units: The unit code of each row.
        quantity: Scaled quantity of each row.
        quantity_places: The decimal scale of ``quantity``.
        cost: Cost of each row, in nano-EUR.

    Raises:
        ValueError: If a grouping key is missing.

    Attributes:
        codes: Per grouping key, the code of each row.
        labels: Per grouping key, the sorted distinct values (``labels[key][code]``).
        units: The unit code of each row (an index into ``UNITS``).
        quantity: Scaled quantity of each row.
        quantity_places: The decimal scale of ``quantity``.
        cost: Cost of each row, in nano-EUR.
    """

    def __init__(
        self,
        codes: Mapping[GroupBy, npt.NDArray[np.int64]],
        labels: Mapping[GroupBy, Sequence[str]],
        units: npt.NDArray[np.int64],
        quantity: npt.NDArray[np.int64],
        quantity_places: int,
        cost: npt.NDArray[np.int64],
    ) -> None:
        if set(codes) != set(GROUP_BY) or set(labels) != set(GROUP_BY):
            raise ValueError(f"codes and labels need every key of {', '.join(GROUP_BY)}")
        import numpy as np

        self.codes: dict[GroupBy, npt.NDArray[np.int64]] = {}
        self.labels: dict[GroupBy, list[str]] = {}
        for name in GROUP_BY:
            values = list(labels[name])
            order = sorted(range(len(values)), key=values.__getitem__)
            self.labels[name] = [values[code] for code in order]
            if order == list(range(len(values))):
                self.codes[name] = codes[name]
            else:
                rank = np.empty(len(values), np.int64)
                rank[order] = np.arange(len(values), dtype=np.int64)
                self.codes[name] = rank[codes[name]]
        self.units, self.quantity, self.quantity_places, self.cost = units, quantity, quantity_places, cost

    def __len__(self) -> int:
        return int(self.units.shape[0])

    @classmethod
    def from_records(cls, records: Sequence[UsageRecord]) -> UsageColumns:
        """Encode records.

        Args:
            records: The records.

        Returns:
            The columns.
        """
        import numpy as np

        n = len(records)
        codes: dict[GroupBy, npt.NDArray[np.int64]] = {}
        labels: dict[GroupBy, list[str]] = {}
        for name, getter in _KEY_OF.items():
            index: dict[str, int] = {}
            values = (index.setdefault(value, len(index)) for value in map(getter, records))
            codes[name] = np.fromiter(values, np.int64, count=n)
            labels[name] = list(index)
        units = np.fromiter((_UNIT_CODE[record.unit] for record in records), np.int64, count=n)
        places = 0 if all(isinstance(record.quantity, int) for record in records) else QUANTITY_PLACES
        scaled = (int(Decimal(record.quantity).scaleb(places)) for record in records)
        quantity = np.fromiter(
            (record.quantity for record in records) if places == 0 else scaled, np.int64, n
        )
        cost = np.fromiter((int(record.cost.scaleb(_NANO)) for record in records), np.int64, count=n)
        return cls(codes, labels, units, quantity, places, cost)


def _fits_int64(column: npt.NDArray[np.int64]) -> bool:
    """Whether every partial sum of the column's values is sure to stay within int64."""
    return not len(column) or max(int(column.max()), -int(column.min())) * len(column) <= _INT64_MAX


def rollup(records: Sequence[UsageRecord] | UsageColumns, group_by: Sequence[GroupBy]) -> list[RollupRow]:
    """Roll up usage with the numba kernel: the same rows as :func:`rollup_reference`.

    Args:
        records: The records, or their :class:`UsageColumns` (encode once, roll up many times).
        group_by: Keys to group by, in order (empty: one grand total).

    Returns:
        One row per group, sorted by keys.

    Raises:
        ValueError: On an unknown or repeated key.
    """
    fields = _group_by(group_by)
    columns = records if isinstance(records, UsageColumns) else UsageColumns.from_records(records)
    if not len(columns):
        return []
    import numpy as np

    from convergio.kernels import group_sums, group_sums_python

    code_columns = [columns.codes[name] for name in fields]
    if _fits_int64(columns.quantity) and _fits_int64(columns.cost):
        sums = group_sums(
            code_columns,
            [len(columns.labels[name]) for name in fields],
            columns.units,
            len(UNITS),
            columns.quantity,
            columns.cost,
        )
        group_codes = [column[sums.first_row] for column in code_columns]
        # codes follow the labels' sorted order, so sorting codes sorts the rows by keys
        order = np.lexsort(group_codes[::-1]) if group_codes else np.arange(len(sums.first_row))
        keys: list[list[int]] = [codes[order].tolist() for codes in group_codes]
        quantities: list[list[int]] = sums.quantity[order].tolist()
        costs: list[int] = sums.cost[order].tolist()
        counts: list[int] = sums.count[order].tolist()
    else:  # sums could overflow int64: the same integer sums with Python's unbounded ints
        found = group_sums_python(
            [column.tolist() for column in code_columns],
            columns.units.tolist(),
            len(UNITS),
            columns.quantity.tolist(),
            columns.cost.tolist(),
        )
        ordered = sorted(zip(*found, strict=True))
        keys = [[key[index] for key, *_ in ordered] for index in range(len(fields))]
        quantities = [quantity for _, quantity, _, _ in ordered]
        costs = [cost for _, _, cost, _ in ordered]
        counts = [count for *_, count in ordered]
    names = [
        [columns.labels[name][code] for code in column] for name, column in zip(fields, keys, strict=True)
    ]
    key_names = zip(*names, strict=True) if fields else [()] * len(counts)
    return _rows(key_names, columns.quantity_places, quantities, costs, counts)


def _rows(
    keys: Iterable[tuple[str, ...]],
    places: int,
    quantities: Sequence[Sequence[int]],
    costs: Sequence[int],
    counts: Sequence[int],
) -> list[RollupRow]:
    """Rows from integer sums: quantities scaled by ``10**places``, costs in nano-EUR."""
    row, decimal, units = RollupRow, Decimal, UNITS  # locals: this loop runs once per group
    rows = []
    for key, quantity, cost, count in zip(keys, quantities, costs, counts, strict=True):
        if places:
            amounts = {
                u: _normal(decimal(q).scaleb(-places)) for u, q in zip(units, quantity, strict=True) if q
            }
        else:
            amounts = {u: q for u, q in zip(units, quantity, strict=True) if q}
        # nano-EUR sums of 1e-8 EUR costs are multiples of 10: exact at 8 places
        rows.append(row(key, amounts, decimal(cost // 10).scaleb(-8), count))
    return rows
