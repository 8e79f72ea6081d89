"""Durable orchestration status → the API's run views."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from azure.durable_functions.models import DurableOrchestrationStatus

from convergio.graph import TERMINAL
from convergio.metering import UsageRecord
from convergio.tenants import RunRecord

from . import _models as m

__all__ = ["run_summary", "run_view", "summaries_with_costs", "with_costs"]

_STATUS: dict[str, m.RunStatus] = {
    "Pending": "Pending",
    "Running": "Running",
    "ContinuedAsNew": "Running",
    "Suspended": "Running",
    "Completed": "Completed",
    "Failed": "Failed",
    "Terminated": "Terminated",
    "Canceled": "Terminated",
}


def _status(status: DurableOrchestrationStatus) -> m.RunStatus:
    runtime = status.runtime_status
    return _STATUS.get(getattr(runtime, "value", str(runtime)), "Pending")


def _time(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value else None)


def with_costs(view: m.RunView, records: Sequence[UsageRecord]) -> m.RunView:
    """Add what the ledger billed: per node (sub-graph usage counts for its node) and in total."""
    per_node: dict[str, Decimal] = {}
    for record in records:
        node = record.node_id.split("/", 1)[0]
        per_node[node] = per_node.get(node, Decimal(0)) + record.cost
    nodes = {
        k: v.model_copy(update={"cost_eur": str(per_node.get(k, Decimal(0)))}) for k, v in view.nodes.items()
    }
    return view.model_copy(update={"nodes": nodes, "cost_eur": str(sum(per_node.values(), Decimal(0)))})


def run_view(run_id: str, status: DurableOrchestrationStatus) -> m.RunView:
    """Everything a client sees about one run; nodes still going when it was cancelled show cancelled."""
    state = _status(status)
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    output = status.output if isinstance(status.output, dict) and state == "Completed" else {}
    nodes = output.get("nodes") or custom.get("nodes") or {}
    if state == "Terminated":
        nodes = {
            k: v | {"status": "cancelled"} if v["status"] not in TERMINAL else v for k, v in nodes.items()
        }
    error = custom.get("error")
    if state == "Failed" and not error:
        error = str(status.output or "the run failed")
    return m.RunView(
        id=run_id,
        graph=str(custom.get("graph", "")),
        status=state,
        created_at=_time(status.created_time),
        last_updated_at=_time(status.last_updated_time),
        nodes=nodes,
        output=output.get("output"),
        outputs=output.get("outputs") or {},
        usage=m.Usage.model_validate(output.get("usage") or custom.get("usage") or {}),
        error=error if state in ("Failed", "Terminated") else None,
        routes=output.get("routes") or custom.get("routes") or {},
        replans=output.get("replans") or custom.get("replans") or [],
    )


def run_summary(record: RunRecord, status: DurableOrchestrationStatus) -> m.RunSummary:
    view = run_view(record.run_id, status)
    return m.RunSummary(
        id=record.run_id,
        graph=record.graph_name,
        status=view.status,
        created_at=view.created_at or record.created_at,
        last_updated_at=view.last_updated_at,
        usage=view.usage,
    )


def summaries_with_costs(
    summaries: Sequence[m.RunSummary], costs: Mapping[str, Decimal]
) -> list[m.RunSummary]:
    """Add each run's billed total (from one ledger query for the whole page) to its summary."""
    return [s.model_copy(update={"cost_eur": format(costs.get(s.id, Decimal(0)), "f")}) for s in summaries]
