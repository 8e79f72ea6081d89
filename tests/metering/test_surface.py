"""The public names of the metering and kernels packages are a contract."""

from __future__ import annotations

import convergio.kernels
import convergio.metering


def test_metering_public_names() -> None:
    assert set(convergio.metering.__all__) == {
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
        "unit_prices",
        "unpriced_tokens",
        "records_for",
        "rollup",
        "rollup_reference",
        "root_run",
        "usage_id",
    }


def test_kernels_public_names() -> None:
    assert set(convergio.kernels.__all__) == {
        "GroupSums",
        "RoutingIndex",
        "group_sums",
        "group_sums_python",
        "route_scores_python",
    }
