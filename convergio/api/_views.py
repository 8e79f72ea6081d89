"""Durable orchestration status → the API's run views.

A run's custom status is compact (ADR 0014): a summary and the newest changes. The whole node
table is the run's output once it completed; before that (and for a failed or cancelled run)
it is folded from the graph (the input), the progress records in the history, and the status'
tail. ``_status_reads`` asks the durable client for exactly what the fold needs.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from azure.durable_functions.models import DurableOrchestrationStatus

from convergio.graph import TERMINAL, fold, records_of
from convergio.metering import UsageRecord
from convergio.tenants import RunRecord

from . import _models as m
from ._times import ended_at

__all__ = [
    "RUN_AGENTS",
    "Costs",
    "NodeViews",
    "RunAgents",
    "agents_of",
    "billed_costs",
    "complete_table",
    "graph_agents",
    "run_outcome",
    "run_state",
    "run_summary",
    "run_view",
    "status_history",
    "status_input",
    "summaries_with_costs",
]


def status_input(status: DurableOrchestrationStatus) -> dict[str, Any]:
    """The run's request from a status read with its input, as Azure's extension answers it.

    ``start_new`` serialises the input, so the status shows it as that JSON text (a string), not
    the object: decode it here. (The embedded host answers the same way.)
    """
    value = status.input_
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def status_history(status: DurableOrchestrationStatus) -> list[Any] | None:
    """The history events of a status read with its history.

    The extension answers them as ``historyEvents``, which the SDK's status model keeps as an
    extra attribute: its ``history`` stays None.
    """
    events = getattr(status, "historyEvents", None)
    return events if isinstance(events, list) else status.history


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


def run_state(status: DurableOrchestrationStatus) -> m.RunStatus:
    """The API's status of a run from its orchestration's runtime status."""
    runtime = status.runtime_status
    return _STATUS.get(getattr(runtime, "value", str(runtime)), "Pending")


_status = run_state


def _time(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value else None)


@dataclass(frozen=True)
class Costs:
    """What the ledger billed a run: per node (sub-graph usage counts for its node), and the
    tokens no price covered (billed 0, shown apart: unpriced is not free)."""

    per_node: dict[str, Decimal]
    unpriced: dict[str, int]

    def of(self, node: str) -> dict[str, Any]:
        """A node view's cost fields."""
        return {
            "cost_eur": str(self.per_node.get(node, Decimal(0))),
            "unpriced_tokens": self.unpriced.get(node, 0),
        }

    def totals(self) -> dict[str, Any]:
        """The run view's cost fields."""
        return {
            "cost_eur": str(sum(self.per_node.values(), Decimal(0))),
            "unpriced_tokens": sum(self.unpriced.values()),
        }


class NodeViews:
    """A run's validated node views, each with the table entry it was validated from.

    Validating a 500-node table was most of a running run's view rebuild, and between two polls
    few nodes change: a rebuild validates only the entries that differ from the last (an equal
    entry validates to an equal model; the models are never changed in place, only copied).
    """

    def __init__(self) -> None:
        self._known: dict[str, tuple[Mapping[str, Any], m.NodeView]] = {}

    def views(self, nodes: Mapping[str, Mapping[str, Any]]) -> dict[str, m.NodeView]:
        """``nodes`` as models; this table replaces the last one (a node gone is forgotten)."""
        known, fresh = self._known, {}
        for node_id, entry in nodes.items():
            kept = known.get(node_id)
            if kept is None or kept[0] != entry:
                kept = (entry, m.NodeView.model_validate(entry))
            fresh[node_id] = kept
        self._known = fresh
        return {node_id: view for node_id, (_, view) in fresh.items()}


def billed_costs(records: Sequence[UsageRecord]) -> Costs:
    """The run's :class:`Costs` from its usage records."""
    per_node: dict[str, Decimal] = {}
    unpriced: dict[str, int] = {}
    for record in records:
        node = record.node_id.split("/", 1)[0]
        per_node[node] = per_node.get(node, Decimal(0)) + record.cost
        if record.unpriced and record.unit in _TOKENS:
            unpriced[node] = unpriced.get(node, 0) + int(record.quantity)
    return Costs(per_node, unpriced)


_TOKENS = frozenset({"input_tokens", "output_tokens"})


def complete_table(status: DurableOrchestrationStatus) -> bool:
    """Is this a completed run whose output holds the whole node table?"""
    return _status(status) == "Completed" and isinstance(status.output, dict) and "nodes" in status.output


def run_view(
    run_id: str,
    status: DurableOrchestrationStatus,
    *,
    agents: Sequence[str] | None = None,
    records: Sequence[Mapping[str, Any]] | None = None,
    costs: Costs | None = None,
    known: NodeViews | None = None,
) -> m.RunView:
    """Everything a client sees about one run; nodes still going when it was cancelled show cancelled.

    With a status from ``load_status`` every node is there; with a plain one, a run not yet
    completed shows only the nodes its status' tail carries (enough to follow changes).
    ``agents`` (the graph's, in spec order) and ``records`` (its progress records) stand in for
    the status' input and history when the caller kept them from an earlier read. ``costs``
    adds what the ledger billed while building, without copying each node's model;
    ``known`` (the run's last node views) re-validates only the nodes that changed.
    """
    state = _status(status)
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    output = status.output if isinstance(status.output, dict) and state == "Completed" else {}
    if output.get("nodes"):
        nodes, routes, replans = output["nodes"], output.get("routes") or {}, output.get("replans") or []
    else:
        if agents is None:
            agents = graph_agents(status)
        found = records_of(status_history(status)) if records is None else records
        table = fold(agents, found, _tail(custom))
        nodes, routes = table["nodes"], table["routes"]
        replans = [table["replans"][k] for k in sorted(table["replans"], key=int)]
    if state == "Terminated":
        nodes = {
            k: v | {"status": "cancelled"} if v["status"] not in TERMINAL else v for k, v in nodes.items()
        }
    totals: dict[str, Any] = {}
    if costs is not None:
        nodes, totals = {k: v | costs.of(k) for k, v in nodes.items()}, costs.totals()
    return m.RunView(
        id=run_id,
        graph=str(custom.get("graph", "")),
        status=state,
        created_at=_time(status.created_time),
        last_updated_at=_time(status.last_updated_time),
        nodes=nodes if known is None else known.views(nodes),
        output=output.get("output"),
        outputs=output.get("outputs") or {},
        usage=_usage(output, custom),
        error=_error(state, custom, status),
        routes=routes,
        replans=replans,
        **totals,
    )


def run_outcome(run_id: str, status: DurableOrchestrationStatus) -> dict[str, Any]:
    """What ``run_view`` says of the run as a whole (id, status, error, usage), without its nodes.

    The run stream's ``run`` event: building the whole view (a model per node) to read these
    four was most of the cost of a wide run's last read.
    """
    state = _status(status)
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    output = status.output if isinstance(status.output, dict) and state == "Completed" else {}
    usage = _usage(output, custom).model_dump()
    return {"id": run_id, "status": state, "error": _error(state, custom, status), "usage": usage}


def _usage(output: Mapping[str, Any], custom: Mapping[str, Any]) -> m.Usage:
    return m.Usage.model_validate(output.get("usage") or custom.get("usage") or {})


def _error(state: m.RunStatus, custom: Mapping[str, Any], status: DurableOrchestrationStatus) -> str | None:
    """The run's error: only a failed or cancelled run has one."""
    if state not in ("Failed", "Terminated"):
        return None
    error = custom.get("error")
    if state == "Failed" and not error:
        error = str(status.output or "the run failed")
    return error if error is None else str(error)


def graph_agents(status: DurableOrchestrationStatus) -> list[str]:
    """The agents of the graph in a status read with its input, in spec order."""
    return agents_of(status_input(status).get("graph"))


def agents_of(graph: Any) -> list[str]:
    """The agents of a graph document (a run input's ``graph``), in spec order."""
    agents = graph.get("agents") if isinstance(graph, dict) else None
    return [a["id"] for a in agents or [] if isinstance(a, dict) and "id" in a]


class RunAgents:
    """The graph's agents of the runs this process started, by run id: a bounded LRU, thread-safe.

    A run's input never changes, and the API never gives a run id twice (fresh ids; a repeated
    ``Idempotency-Key`` starts nothing). Watching or viewing a run needs its agents, which the
    durable status has only in its input: for a 500-agent graph, about 190 KB encoded by the
    backend and decoded twice. The process that started the run knows them; any other (another
    instance on Azure, or after a restart) reads the input as before.
    """

    def __init__(self, max_agents: int = 65_536) -> None:
        # Bounded by agents, not runs: 4096 runs of 500 agents would hold about 140 MB.
        self._max = max_agents
        self._held = 0
        self._items: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, run_id: str, agents: Sequence[str]) -> None:
        kept = tuple(agents)
        if len(kept) > self._max:
            return
        with self._lock:
            self._held += len(kept) - len(self._items.pop(run_id, ()))
            self._items[run_id] = kept
            while self._held > self._max:
                self._held -= len(self._items.popitem(last=False)[1])

    def get(self, run_id: str) -> list[str] | None:
        with self._lock:
            agents = self._items.get(run_id)
            if agents is not None:
                self._items.move_to_end(run_id)
        return None if agents is None else list(agents)

    def forget(self, run_id: str) -> None:
        with self._lock:
            self._held -= len(self._items.pop(run_id, ()))


RUN_AGENTS = RunAgents()


def _tail(custom: Mapping[str, Any]) -> dict[str, Any]:
    """The status' items; a status from before ADR 0014 (a full table, replans as a list) reads too."""
    replans = custom.get("replans")
    if isinstance(replans, list):
        replans = {str(i): r for i, r in enumerate(replans)}
    return {
        "nodes": custom.get("nodes") or {},
        "routes": custom.get("routes") or {},
        "replans": replans or {},
    }


def run_summary(record: RunRecord, status: DurableOrchestrationStatus) -> m.RunSummary:
    view = run_view(record.run_id, status)
    created, updated = record.created_at or view.created_at, view.last_updated_at
    return m.RunSummary(
        id=record.run_id,
        graph=record.graph_name,
        status=view.status,
        created_at=created,
        last_updated_at=ended_at(updated, created) if updated and created else updated,
        usage=view.usage,
    )


def summaries_with_costs(
    summaries: Sequence[m.RunSummary], costs: Mapping[str, Decimal]
) -> list[m.RunSummary]:
    """Add each run's billed total (from one ledger query for the whole page) to its summary."""
    return [s.model_copy(update={"cost_eur": format(costs.get(s.id, Decimal(0)), "f")}) for s in summaries]
