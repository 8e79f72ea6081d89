"""From one agent call's outcome to ledger records: the bridge the ``run_agent`` activity uses.

Sub-graph nodes run as child orchestrations whose run id is ``<root>/<node>``; their usage is
billed to the root run, under the node path (``<node>/<inner node>``), so a run's cost is one
query away.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ._ledger import Ledger
from ._prices import USAGE_UNITS, PriceTable, records_for
from ._record import KeyMode

__all__ = ["meter_call", "root_run"]


def root_run(run_id: str, node_id: str) -> tuple[str, str]:
    """``("R/sub", "x")`` → ``("R", "sub/x")``: the run billed and the node path in it."""
    root, _, path = run_id.partition("/")
    return root, f"{path}/{node_id}" if path else node_id


def meter_call(
    ledger: Ledger,
    prices: PriceTable,
    *,
    tenant_id: str,
    run_id: str,
    node_id: str,
    step: int,
    provider: str,
    model: str,
    usage: Mapping[str, Any],
    key_mode: KeyMode = "byok",
    at: datetime | None = None,
) -> Decimal:
    """Record one call's usage, idempotent on (tenant, run, node, step, unit); returns its cost (EUR)."""
    run, node = root_run(run_id, node_id)
    quantities = {k: v for k, v in usage.items() if k in USAGE_UNITS and v}
    if not quantities:
        return Decimal(0)
    records = records_for(
        tenant_id,
        run,
        node,
        step,
        provider,
        model or "unknown",
        key_mode,
        quantities,
        prices,
        at or datetime.now(UTC),
        estimated=usage.get("estimated") is True,
    )
    ledger.record(records)
    return sum((r.cost for r in records), Decimal(0))
