"""The compact custom status and the progress journal (ADR 0014), driven by the simulator.

After every completion the status must fit Azure's limit, and folding the graph, the records
written so far and the status' tail must give back the whole node table.
"""

from __future__ import annotations

import json
from typing import Any

from convergio.graph import STATUS_LIMIT_UTF16, compact_entry, fold, records_of
from tests.graph._sim import Sim, agents, answer


def wide(n: int, **extra: Any) -> dict[str, Any]:
    nodes = [{"id": f"agent-{i:04d}"} for i in range(n)]
    sink = {"id": "sink", "depends_on": [f"agent-{i:04d}" for i in range(n)]}
    return {"name": "wide", "agents": agents(*nodes, sink), "output": "sink", **extra}


def utf16(value: Any) -> int:
    return len(json.dumps(value).encode("utf-16-le"))


class Reader:
    """Plays the orchestrator and a reader: writes records (confirmed a few steps late), folds them."""

    def __init__(self, sim: Sim, lag: int = 3) -> None:
        self.sim, self.lag = sim, lag
        self.written: list[dict[str, Any]] = []
        self.unconfirmed: list[tuple[int, str]] = []  # (step written, token)
        self.steps = 0
        self.largest = 0

    def look(self) -> dict[str, Any]:
        run = self.sim.run
        status = run.custom_status()
        self.largest = max(self.largest, utf16(status))
        assert utf16(status) < STATUS_LIMIT_UTF16
        for token, record in run.take_records():
            self.written.append(json.loads(json.dumps(record)))  # what the history keeps
            self.unconfirmed.append((self.steps, token))
        while self.unconfirmed and self.unconfirmed[0][0] <= self.steps - self.lag:
            run.complete(self.unconfirmed.pop(0)[1], ok=True, value=None, now=self.sim.now)
        self.steps += 1
        return status

    def check(self, status: dict[str, Any]) -> None:
        run = self.sim.run
        ids = [a["id"] for a in self.sim.request["graph"]["agents"]]
        folded = fold(ids, self.written, status)
        full = run.status()
        assert folded["nodes"] == {n: compact_entry(e) for n, e in full["nodes"].items()}
        assert list(folded["nodes"]) == list(full["nodes"])
        assert folded["routes"] == full["routes"]
        assert [folded["replans"][k] for k in sorted(folded["replans"], key=int)] == full["replans"]


def drive(graph: dict[str, Any], lag: int = 3) -> tuple[Sim, Reader]:
    sim = Sim(graph, answer)
    reader = Reader(sim, lag)
    while True:
        reader.check(reader.look())
        if not sim.step():
            break
    reader.check(reader.look())
    return sim, reader


def test_a_1000_node_run_keeps_its_status_under_16_kb_and_every_node_in_the_fold() -> None:
    sim, reader = drive(wide(999, max_parallel=200))
    assert sim.run.result()["status"] == "completed"
    assert len(sim.run.nodes) == 1000
    assert reader.largest < STATUS_LIMIT_UTF16
    assert reader.written, "a large run writes progress records"
    # The old status (the whole table) would not have fitted by far.
    assert utf16(sim.run.status()) > 8 * STATUS_LIMIT_UTF16


def test_a_small_run_needs_no_record_its_status_is_the_table() -> None:
    sim, reader = drive(wide(4))
    assert reader.written == []
    status = sim.run.custom_status()
    assert status["records"] == 0
    assert status["counts"] == {"completed": 5}
    assert set(status["nodes"]) == set(sim.run.nodes)


def test_the_fold_is_whole_even_when_records_are_confirmed_late() -> None:
    drive(wide(300), lag=40)


def test_summary_counts_and_awaiting_input() -> None:
    graph = {
        "name": "approve",
        "agents": agents(
            {"id": "draft"},
            *({"id": f"ok{i}", "await_event": {"name": f"go{i}", "timeout_seconds": 60}} for i in range(12)),
        ),
        "output": "draft",
    }
    sim = Sim(graph, answer)
    status = sim.run.custom_status()
    assert status["counts"] == {"running": 1, "awaiting_input": 12}
    assert status["awaiting_input"] == sorted(f"ok{i}" for i in range(12))[:8]
    assert status["usage"]["total_tokens"] == 0


def test_an_event_raised_through_the_sdk_arrives_as_json_text_and_is_decoded_once() -> None:
    graph = {
        "name": "approval",
        "agents": agents(
            {"id": "draft"},
            {
                "id": "publish",
                "depends_on": ["draft"],
                "await_event": {"name": "approval", "timeout_seconds": 60},
            },
        ),
    }
    sim = Sim(graph, answer)
    while "approval" not in sim.waiting_events:
        assert sim.step()
    sim.raise_event("approval", json.dumps({"approved": False, "comment": "not yet"}), after=1)
    result = sim.finish()
    assert result["nodes"]["publish"]["status"] == "rejected"
    assert "not yet" in result["nodes"]["publish"]["error"]

    sim = Sim(graph, answer)
    while "approval" not in sim.waiting_events:
        assert sim.step()
    sim.raise_event("approval", json.dumps({"approved": True, "comment": "ok"}), after=1)
    assert sim.finish()["status"] == "completed"
    assert sim.calls[-1]["event"] == {"approved": True, "comment": "ok"}


def test_records_are_read_from_their_completions_and_from_pending_scheduling_events() -> None:
    """The shapes the extension's status API gives (``DurableClient``): a completed echo is a
    ``TaskCompleted`` with the scheduling event's name and its result; an open one stays a
    ``TaskScheduled`` with ``Name`` and, with ``showInput``, its ``Input`` as stored text."""
    done = {"seq": 1, "nodes": {"a": {"status": "completed", "rev": 3}}}
    open_ = {"seq": 2, "nodes": {"b": {"status": "completed", "rev": 5}}}
    history = [
        {"EventType": "ExecutionStarted", "FunctionName": "agent_graph", "Input": "{}"},
        {"EventType": "TaskCompleted", "FunctionName": "record_progress", "Result": done},
        {"EventType": "TaskCompleted", "FunctionName": "run_agent", "Result": {"seq": 9}},
        {"EventType": "TaskScheduled", "Name": "run_agent", "Input": json.dumps({"seq": 8})},
        {"EventType": "TaskScheduled", "Name": "record_progress", "Input": json.dumps(open_)},
        {"EventType": "TaskScheduled", "Name": "record_progress"},  # read without its input
        {"EventType": "TaskScheduled", "Name": "record_progress", "Input": "not json"},
    ]
    assert records_of(history) == [done, open_]
    table = fold(["a", "b", "c"], records_of(history), {"nodes": {}})["nodes"]
    assert table == {"a": {"status": "completed"}, "b": {"status": "completed"}, "c": {"status": "waiting"}}
