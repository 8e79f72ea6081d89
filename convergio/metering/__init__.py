"""The usage ledger: what each tenant's agents used and what it cost. Billing data, never logs.

- :class:`UsageRecord`: one billed quantity, with a deterministic ``id`` of (tenant, run,
  node, attempt, unit), so retries, redeliveries and crash-resume never bill twice.
- :class:`PriceTable` and :func:`records_for`: prices are data (``prices.json``, EUR,
  versioned); costs are Decimal, quantized to 1e-8 EUR.
- :class:`Ledger`: the store interface; :class:`SqliteLedger` (embedded default) and
  :class:`CosmosLedger` (Azure Cosmos DB, partitioned by tenant).
- :func:`rollup`: totals per tenant / run / agent / model / day / unit, summed by a
  numba-compiled kernel; :func:`rollup_reference` is the plain-Python oracle.

Importing this package loads neither numpy, numba nor any Azure SDK.
"""

from ._canonical import canonical_time
from ._clock import now_iso
from ._cosmos import CosmosLedger
from ._ledger import Ledger
from ._meter import Metered, meter_call, meter_kept, meter_kept_async, root_run
from ._prices import (
    DEFAULT_PRICES,
    MAX_UNIT_PRICE,
    USAGE_UNITS,
    PriceTable,
    cost_of,
    records_for,
    unit_prices,
)
from ._record import KEY_MODES, UNITS, KeyMode, Unit, UsageRecord, usage_id
from ._rollup import (
    GROUP_BY,
    GroupBy,
    RollupRow,
    UsageColumns,
    rollup,
    rollup_reference,
    unpriced_tokens,
)
from ._sqlite import SqliteLedger

__all__ = [
    "DEFAULT_PRICES",
    "GROUP_BY",
    "KEY_MODES",
    "MAX_UNIT_PRICE",
    "UNITS",
    "USAGE_UNITS",
    "CosmosLedger",
    "GroupBy",
    "KeyMode",
    "Ledger",
    "Metered",
    "PriceTable",
    "RollupRow",
    "SqliteLedger",
    "Unit",
    "UsageColumns",
    "UsageRecord",
    "canonical_time",
    "cost_of",
    "meter_call",
    "meter_kept",
    "meter_kept_async",
    "now_iso",
    "records_for",
    "rollup",
    "rollup_reference",
    "root_run",
    "unit_prices",
    "unpriced_tokens",
    "usage_id",
]
