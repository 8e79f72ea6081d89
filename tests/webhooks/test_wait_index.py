"""``WaitIndex``: what the graph orchestrator tells the run index about its waits for human input.

Driven with the real run state machine and a recording stand-in for the orchestration context
(the orchestrator's own calls, in order): a call per change of the target, none for a wait that
was answered, one when a wait timed out, none at all for an instance of the older code.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from convergio.graph import Catalog, parse_graph
from convergio.graph._run import GraphRun
from orchestrations.webhooks import EMIT_RUN_EVENT, INDEX_WAITS, WaitIndex

T0 = datetime(2026, 1, 1, 12, 0, 0)
GRAPH = {
    "name": "two-waits",
    "agents": [
        {"id": "a", "prompt": "x", "await_event": {"name": "ok", "timeout_seconds": 10}},
        {
            "id": "c",
            "prompt": "x",
            "await_event": {"name": "late", "timeout_seconds": 5},
            "on_failure": "continue",
        },
        {"id": "out", "prompt": "x", "depends_on": ["a"]},
    ],
    "output": "out",
}


class Context:
    """The orchestration context's parts ``WaitIndex`` uses; records every activity call."""

    def __init__(self, version: str | None) -> None:
        self.version = version
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call_activity(self, name: str, payload: dict[str, Any]) -> object:
        self.calls.append((name, payload))
        return object()


def started(version: str | None = "1.1", **request: Any) -> tuple[GraphRun, Context, WaitIndex | None]:
    spec = parse_graph(GRAPH, Catalog(providers=frozenset({"offline"}), tools=frozenset()))
    payload = {
        "graph": spec.model_dump(mode="json"),
        "input": "x",
        "run_id": "r1",
        "tenant": "acme",
        **request,
    }
    context = Context(version)
    return GraphRun(payload, T0), context, WaitIndex.of(context, payload)


def test_each_change_of_the_waits_is_told_once_with_a_growing_seq() -> None:
    run, context, waits = started()
    assert waits is not None
    commands = run.take_commands()
    events = [c for c in commands if c.kind == "event"]
    timers = {c.token: c.fire_at for c in commands if c.kind == "timer"}
    waits.announce(context, run, commands)
    assert context.calls == [
        (
            EMIT_RUN_EVENT,
            {"type": INDEX_WAITS, "run_id": "r1", "tenant": "acme", "seq": 1, "target": {"ok": 1, "late": 1}},
        )
    ]
    # "ok" is answered: consumed + open stays 1, so nothing is told.
    answered = next(c.token for c in events if c.name == "ok")
    run.complete(answered, ok=True, value={}, now=T0)
    waits.completed(answered)
    assert waits.announce(context, run, run.take_commands()) == {}
    assert len(context.calls) == 1
    # "late" times out: its wait is gone without an event, so the target shrinks.
    late_timer = min(timers, key=lambda t: timers[t])  # type: ignore[arg-type,return-value]
    run.complete(late_timer, ok=True, value=None, now=T0 + timedelta(seconds=5))
    waits.completed(late_timer)
    tasks = waits.announce(context, run, run.take_commands())
    assert list(tasks) == ["index-waits:2"]
    assert context.calls[-1][1]["seq"] == 2 and context.calls[-1][1]["target"] == {"ok": 1}
    assert run.nodes["c"].status == "timed_out"


def test_an_instance_of_the_older_code_and_a_sub_graph_tell_nothing() -> None:
    for version in (None, ""):
        _, _, waits = started(version)
        assert waits is None  # the orchestrator then makes exactly the calls it made before
    _, _, child = started("1.1", as_child=True)
    assert child is None  # a sub-graph's waits are not the root run's index entry
