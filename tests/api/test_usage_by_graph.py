"""Usage by graph (issue 23.8): agents of the same id in different graphs stay apart."""

from __future__ import annotations

from decimal import Decimal

import pytest

from convergio.api._usage_graphs import GRAPH_GROUPS, _parse, by_graph
from convergio.errors import InvalidRequest
from convergio.tenants import RunRecord
from tests.metering._samples import record

RUNS = {
    "run-1": RunRecord("run-1", "tenant-a", "essay", "2026-11-24T09:00:00Z"),
    "run-2": RunRecord("run-2", "tenant-a", "quiz", "2026-11-24T09:30:00Z"),
    "run-3": RunRecord("run-3", "tenant-a", "essay", "2026-11-24T09:45:00Z"),
}

RECORDS = [
    record(run_id="run-1", node_id="writer", attempt=1, quantity=1000, cost=Decimal("0.001")),
    record(
        run_id="run-1", node_id="writer", attempt=1, unit="output_tokens", quantity=500, cost=Decimal("0.002")
    ),
    record(run_id="run-2", node_id="writer", attempt=1, quantity=2000, cost=Decimal("0.004")),
    record(run_id="run-3", node_id="planner", attempt=1, quantity=300, cost=Decimal("0.0005")),
    # a model with no price: billed 0, shown as unpriced tokens
    record(
        run_id="run-2",
        node_id="reviewer",
        attempt=1,
        provider="openai-compatible",
        model="llama",
        quantity=700,
        unit_price=Decimal(0),
        cost=Decimal(0),
        unpriced=True,
    ),
    record(run_id="gone", node_id="writer", attempt=1, quantity=100, cost=Decimal("0.0001")),
]


def test_by_graph_and_agent_keeps_agents_of_different_graphs_apart() -> None:
    rows = by_graph(RECORDS, ("graph", "agent"), RUNS.get)
    keys = {(r["graph"], r["agent"]): r for r in rows}
    assert set(keys) == {
        ("essay", "writer"),
        ("quiz", "writer"),
        ("essay", "planner"),
        ("quiz", "reviewer"),
        (None, "writer"),
    }
    assert keys["essay", "writer"]["cost"] == "0.00300000"
    assert keys["essay", "writer"]["quantity"] == {"input_tokens": 1000, "output_tokens": 500}
    assert keys["quiz", "reviewer"]["unpriced_tokens"] == 700
    assert Decimal(keys["quiz", "reviewer"]["cost"]) == 0
    assert rows[0]["graph"] == "quiz" and rows[0]["agent"] == "writer"  # the highest cost first


def test_by_graph_sums_runs_and_by_run_names_each_runs_graph() -> None:
    graphs = {r["graph"]: r for r in by_graph(RECORDS, ("graph",), RUNS.get)}
    assert Decimal(graphs["essay"]["cost"]) == Decimal("0.0035")
    assert graphs["quiz"]["unpriced_tokens"] == 700
    assert graphs[None]["count"] == 1  # a run the index no longer lists
    runs = {r["run"]: r for r in by_graph(RECORDS, ("graph", "run"), RUNS.get)}
    assert runs["run-3"]["graph"] == "essay" and runs["run-3"]["created_at"] == "2026-11-24T09:45:00Z"
    assert runs["gone"]["graph"] is None and runs["gone"]["created_at"] is None


def test_group_by_is_checked() -> None:
    assert all(_parse(",".join(g)) == g for g in GRAPH_GROUPS)
    with pytest.raises(InvalidRequest):
        _parse("agent")
    assert by_graph([], ("graph",), RUNS.get) == []
