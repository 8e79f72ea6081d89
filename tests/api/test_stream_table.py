"""The run stream's node table: a node never goes back to an older state, and a run ends whole.

The status' tail carries only the newest items (ADR 0014); older ones are sealed into progress
records in the history. The stream used to fold each tail alone over the graph's agents, so a
node whose item had left the tail showed ``waiting`` again after it had run (a 500-wide fan-out
sent that for about a hundred nodes per run). These drive ``run_events`` and ``NodeTable`` with
scripted statuses, and with the real progress journal.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from convergio.api import _stream, _stream_wake
from convergio.api._stream import run_events
from convergio.api._stream_nodes import NodeTable
from convergio.graph import RECORD_PROGRESS, fold
from convergio.graph._progress import ProgressJournal


@dataclass
class Client:
    """A durable client whose run goes through ``statuses``; ``history``: its progress records."""

    statuses: list[SimpleNamespace]
    history: list[dict[str, Any]] = field(default_factory=list)
    reads: list[dict[str, Any]] = field(default_factory=list)

    async def get_status(self, run_id: str, **asked: Any) -> Any:
        self.reads.append(asked)
        status = self.statuses[min(len(self.reads) - 1, len(self.statuses) - 1)]
        if asked.get("show_history"):
            events = [
                {"EventType": "TaskCompleted", "FunctionName": RECORD_PROGRESS, "Result": r}
                for r in self.history
            ]
            return SimpleNamespace(**vars(status), historyEvents=events)
        return status


class Channel:
    def watch(self, run_id: str, seconds: float) -> None:
        pass

    def read(self, run_id: str, after: int) -> list[Any]:
        return []


def _status(runtime: str, nodes: dict[str, Any], *, output: Any = None, **custom: Any) -> SimpleNamespace:
    custom_status = {"nodes": nodes, **custom}
    return SimpleNamespace(
        runtime_status=runtime,
        custom_status=custom_status,
        output=output,
        created_time=None,
        last_updated_time=None,
        history=None,
    )


def _node_events(
    client: Client,
    agents: list[str],
    monkeypatch: pytest.MonkeyPatch,
    graph_agents: Any = None,
    run_age: float = 0.0,
) -> list[dict[str, Any]]:
    clock = [0.0]

    async def pause(seconds: float) -> None:  # a scripted clock: each read's changes are shown
        clock[0] += seconds

    monkeypatch.setattr(_stream, "graph_agents", graph_agents or (lambda status: agents))
    monkeypatch.setattr(_stream, "host_ends", lambda: None)  # no host in the test tells it of the end
    monkeypatch.setattr(_stream_wake, "asyncio", SimpleNamespace(sleep=pause, Event=asyncio.Event))
    monkeypatch.setattr(
        _stream, "time", SimpleNamespace(monotonic=lambda: clock[0], thread_time=lambda: clock[0])
    )

    async def read() -> str:
        stream = run_events(client, Channel(), "r1", after=0, seconds=900.0, run_age=run_age)  # type: ignore[arg-type]
        return "".join([message async for message in stream])

    events = []
    for message in asyncio.run(read()).split("\n\n"):
        lines = dict(line.split(": ", 1) for line in message.splitlines() if not line.startswith(":"))
        if lines.get("event") in ("node", "run"):
            events.append({"event": lines["event"], **json.loads(lines["data"])})
    return events


def _shown(events: list[dict[str, Any]], node: str) -> list[str]:
    return [e["status"] for e in events if e["event"] == "node" and e["node"] == node]


def test_a_node_whose_item_left_the_tail_keeps_what_it_showed(monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client(
        [
            _status("Running", {"a": {"status": "running", "attempts": 1, "rev": 1}}),
            _status("Running", {"b": {"status": "running", "attempts": 1, "rev": 2}}, records=1),  # a sealed
            _status(
                "Completed",
                {},
                output={"nodes": {"a": {"status": "completed", "attempts": 1}, "b": {"status": "completed"}}},
            ),
        ]
    )
    events = _node_events(client, ["a", "b"], monkeypatch)
    assert _shown(events, "a") == ["running", "completed"]  # never ``waiting`` again
    assert _shown(events, "b") == ["waiting", "running", "completed"]
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "tool_calls": 0}
    assert events[-1] == {"event": "run", "id": "r1", "status": "Completed", "error": None, "usage": usage}


def test_a_change_sealed_between_two_reads_is_shown_before_the_run_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Between two reads of a wide run, changes can be sealed into a record and leave the tail:
    the stream folds the records sealed since it last did (at most every ``RECORDS_EVERY_S``),
    so the live table is that far behind at most, not until the run ends."""
    monkeypatch.setattr(_stream, "RECORDS_EVERY_S", 0.0)
    sealed = {"seq": 1, "nodes": {"a": {"status": "completed", "attempts": 1, "rev": 3}}}
    later = _status("Running", {"c": {"status": "running", "attempts": 1, "rev": 5}}, records=1, confirmed=1)
    client = Client(
        [
            _status("Running", {"a": {"status": "running", "attempts": 1, "rev": 1}}),
            later,
            later,  # the history read
            _status(
                "Completed",
                {},
                output={"nodes": {n: {"status": "completed", "attempts": 1} for n in ("a", "c")}},
            ),
        ],
        history=[sealed],
    )
    shown = _node_events(client, ["c", "a"], monkeypatch)  # at the end, c's events come first
    events = [(e.get("node"), e.get("status")) for e in shown]
    assert events.index(("a", "completed")) < events.index(("c", "completed"))  # not the end's
    assert events.count(("a", "completed")) == 1
    assert client.reads[2] == {"show_history": True, "show_history_output": True}  # one history read


def test_a_stream_that_joins_a_run_with_records_folds_them_at_its_first_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A console reloaded in the middle of a wide run shows every node as it is at once, not the
    graph's agents ``waiting`` until the next fold (or, before ADR 0066, the run's end). A
    stream watching a run from its start waits until the run is ``RECORDS_EVERY_S`` old."""
    sealed = {"seq": 1, "nodes": {"a": {"status": "completed", "attempts": 1, "rev": 3}}}
    joined = _status("Running", {"c": {"status": "running", "attempts": 1, "rev": 5}}, records=1, confirmed=1)
    done = {"nodes": {n: {"status": "completed", "attempts": 1} for n in ("a", "c")}}
    client = Client([joined, joined, _status("Completed", {}, output=done)], history=[sealed])
    shown = _node_events(client, ["c", "a"], monkeypatch, run_age=_stream.RECORDS_EVERY_S)
    events = [(e.get("node"), e.get("status")) for e in shown]
    assert events[:2] == [("c", "running"), ("a", "completed")]  # the first read's, a never waiting
    assert client.reads[1] == {"show_history": True, "show_history_output": True}


def test_a_short_run_s_stream_reads_no_history_before_its_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """A short run's stream never pays a history read for its records before the end."""
    statuses = [
        _status("Running", {"a": {"status": "running", "attempts": 1, "rev": 2 * i + 1}}, records=i)
        for i in range(5)
    ]
    done = {"nodes": {"a": {"status": "completed", "attempts": 1}}}
    client = Client([*statuses, _status("Completed", {}, output=done)])
    _node_events(client, ["a"], monkeypatch)  # the scripted clock moves less than RECORDS_EVERY_S
    assert not any(asked.get("show_history") for asked in client.reads)


def test_a_failed_run_with_records_ends_with_every_node_as_its_history_has_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nodes that changed and were sealed between two reads are not lost at the end."""
    record = {
        "seq": 1,
        "nodes": {"a": {"status": "completed", "attempts": 1, "rev": 2}},
        "routes": {},
        "replans": {},
    }
    client = Client(
        [
            _status("Running", {"a": {"status": "running", "attempts": 1, "rev": 1}}),
            _status(
                "Failed", {"b": {"status": "failed", "error": "boom", "rev": 3}}, records=1, error="boom"
            ),
        ],
        history=[record],
    )
    events = _node_events(client, ["a", "b", "c"], monkeypatch)
    assert _shown(events, "a") == ["running", "completed"]
    assert _shown(events, "b") == ["waiting", "failed"]
    assert _shown(events, "c") == ["waiting"]
    assert events[-1]["status"] == "Failed" and events[-1]["error"] == "boom"
    assert client.reads[-1] == {"show_history": True, "show_history_output": True}  # once, at the end


def test_a_cancelled_run_shows_its_unfinished_nodes_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client(
        [
            _status("Running", {"a": {"status": "running", "attempts": 1, "rev": 1}}),
            _status("Terminated", {"b": {"status": "completed", "attempts": 1, "rev": 2}}),
        ]
    )
    events = _node_events(client, ["a", "b", "c"], monkeypatch)
    assert _shown(events, "a") == ["running", "cancelled"]  # not in the last tail, still cancelled
    assert _shown(events, "b") == ["waiting", "completed"]
    assert _shown(events, "c") == ["waiting", "cancelled"]
    assert events[-1]["status"] == "Terminated"


def test_node_events_are_the_run_views_nodes() -> None:
    """A node event carries what the run view shows of the node (its cost aside)."""
    from convergio.api._models import NodeView

    entry = {"status": "completed", "attempts": 2, "calls": 1, "usage": {"total_tokens": 7}, "rev": 4}
    table = NodeTable(["a"])
    table.fold({"a": entry})
    (message,) = table.events()
    data = json.loads(message.split("data: ", 1)[1])
    assert data == {"node": "a", **NodeView.model_validate(entry).model_dump(exclude={"cost_eur"})}
    assert table.events() == []  # nothing changed since


@pytest.mark.parametrize("seed", range(40))
def test_the_table_follows_the_journal_forward_and_ends_equal_to_the_whole_fold(seed: int) -> None:
    """The real journal, random changes, reads at random moments, records confirmed late."""
    rng = random.Random(seed)
    agents = [f"n{i}" for i in range(rng.choice([5, 40, 300]))]
    journal = ProgressJournal({a: {"status": "waiting"} for a in agents})
    order = {"waiting": 0, "running": 1, "retrying": 2, "completed": 3, "failed": 3}
    state = dict.fromkeys(agents, "waiting")
    table, records, unconfirmed = NodeTable(agents), [], []
    shown: dict[str, list[tuple[int, str]]] = {}  # node -> (attempts, status) sent, in order

    def read() -> None:
        table.fold(journal.tail()["nodes"])
        for message in table.events():
            data = json.loads(message.split("data: ", 1)[1])
            shown.setdefault(data["node"], []).append((data["attempts"], order[data["status"]]))

    attempts = dict.fromkeys(agents, 0)
    while any(s not in ("completed", "failed") for s in state.values()):
        batch = []
        for node in rng.sample(agents, k=min(len(agents), rng.randint(1, 8))):
            now = state[node]
            if now in ("completed", "failed"):
                continue
            nxt = {"waiting": "running", "running": rng.choice(["completed", "retrying", "failed"])}.get(
                now, "running"
            )
            attempts[node] += nxt == "running"
            state[node] = nxt
            batch.append(
                (("nodes", node), {"status": nxt, "attempts": attempts[node], "calls": attempts[node]})
            )
        journal.note(batch)
        for record in journal.take_records():
            records.append(record)
            unconfirmed.append(record["seq"])
        while unconfirmed and rng.random() < 0.5:
            journal.confirm(unconfirmed.pop(0))
        if rng.random() < 0.3:
            read()
    read()
    table.replace(fold(agents, records, journal.tail())["nodes"])
    read()
    for node, sent in shown.items():
        assert sent == sorted(sent), (node, sent)  # never an older state after a newer one
    assert {n: order[s] for n, s in state.items()} == {n: sent[-1][1] for n, sent in shown.items()}
    assert attempts == {n: sent[-1][0] for n, sent in shown.items()}


def test_a_run_started_here_is_watched_without_reading_its_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process that started a run knows its agents: no status read carries the graph."""
    from convergio.api._views import RUN_AGENTS

    def no_input(status: Any) -> list[str]:
        raise AssertionError("the input was read")

    client = Client(
        [
            _status("Running", {"a": {"status": "running", "attempts": 1, "rev": 1}}),
            _status(
                "Completed",
                {},
                output={"nodes": {"a": {"status": "completed"}, "b": {"status": "completed"}}},
            ),
        ]
    )
    RUN_AGENTS.put("r1", ["a", "b"])
    try:
        events = _node_events(client, [], monkeypatch, graph_agents=no_input)
    finally:
        RUN_AGENTS.forget("r1")
    assert _shown(events, "a") == ["running", "completed"]
    assert _shown(events, "b") == ["waiting", "completed"]


def test_run_agents_are_kept_for_the_newest_runs_only() -> None:
    from convergio.api._views import RunAgents

    kept = RunAgents(max_agents=3)
    kept.put("r1", ["a"])
    kept.put("r2", ["b", "b2"])
    assert kept.get("r1") == ["a"]  # r1 is now the newest
    kept.put("r3", ["c"])  # four agents held: the oldest run goes
    assert (kept.get("r1"), kept.get("r2"), kept.get("r3")) == (["a"], None, ["c"])
    kept.put("r3", ["c", "c2"])  # replaced, not added: three held
    assert (kept.get("r1"), kept.get("r3")) == (["a"], ["c", "c2"])
    kept.forget("r1")
    assert kept.get("r1") is None
    kept.put("r4", ["d", "d2"])  # r3 (2) + r4 (2) > 3: r3 goes
    assert (kept.get("r3"), kept.get("r4")) == (None, ["d", "d2"])
    kept.put("big", ["x"] * 4)  # more than the bound alone: not kept, nothing evicted
    assert (kept.get("big"), kept.get("r4")) == (None, ["d", "d2"])


@pytest.mark.parametrize(
    "entry",
    [
        {"status": "waiting"},
        {"status": "running", "attempts": 1, "started_at": "2026-12-06T07:00:00+00:00", "rev": 3},
        {"status": "completed", "attempts": 2, "calls": 3, "usage": {"total_tokens": 7, "prompt_tokens": 2}},
        {"status": "failed", "error": "boom", "finished_at": None, "reused": True, "unpriced_tokens": 4},
        {"status": "completed", "usage": {"total_tokens": 1, "extra": "x"}, "cost_eur": "0.5", "other": 1},
        {"status": "running", "attempts": "2"},  # not the view's type: the model coerces
        {"status": "running", "attempts": True},
        {"status": "running", "attempts": 1.0, "usage": {"total_tokens": 2.0}},
        {"status": "running", "usage": {}},
    ],
)
def test_a_node_payload_is_what_the_model_makes_of_the_entry(entry: dict[str, Any]) -> None:
    from convergio.api._models import NodeView
    from convergio.api._stream_nodes import node_payload

    modelled = NodeView.model_validate(entry).model_dump(exclude={"cost_eur"})
    assert json.dumps(node_payload(entry)) == json.dumps(modelled)  # the same keys, values and order

    from convergio.api._stream_nodes import _WAITING, node_message
    from convergio.streams import sse

    for node_id in ("a", "n-7", 'q"uo\\te', "é", ""):  # byte for byte the message of the merged dict
        assert node_message(node_id, entry) == sse("node", {"node": node_id, **modelled})
        assert node_message(node_id, _WAITING) == sse("node", {"node": node_id, **node_payload(_WAITING)})


def test_sse_is_one_line_of_compact_json_as_json_dumps_writes_it() -> None:
    from convergio.streams import sse

    rng = random.Random(7)
    values: list[Any] = [{}, [], None, "x\ny", 1.5, {"a": [1, {"b": "é\u2028"}], "c": None, "d": True}]
    values += [
        {str(rng.random()): rng.choice([1, "s,: t", [0.1], {"k": "v"}]) for _ in range(5)} for _ in range(50)
    ]
    for value in values:
        for event_id, retry in ((None, None), (7, None), (None, 1000), (3, 5)):
            head = "event: node\n" + (f"id: {event_id}\n" if event_id is not None else "")
            head += f"retry: {retry}\n" if retry is not None else ""
            expected = head + "data: " + json.dumps(value, separators=(",", ":")) + "\n\n"
            assert sse("node", value, event_id=event_id, retry_ms=retry) == expected


@pytest.mark.parametrize("entry", [{"attempts": 1}, {"status": None}, {"status": "x", "usage": None}])
def test_an_entry_the_model_refuses_is_refused(entry: dict[str, Any]) -> None:
    from pydantic import ValidationError

    from convergio.api._stream_nodes import node_payload

    with pytest.raises(ValidationError):
        node_payload(entry)
