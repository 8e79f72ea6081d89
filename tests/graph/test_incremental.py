"""The run's incremental bookkeeping equals recomputing it from scratch (ADR 0030).

The orchestrator asks for the custom status and the run's waits after every completion, so
those are kept incrementally: a node's compact row is built directly, the progress journal's
tail is kept until something changes and built by section, and the nodes that can wait are
listed once per plan. Each is checked here against the plain recomputation it replaced, on
random inputs, key order included (the status is stored as JSON text).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from convergio.graph import compact_entry
from convergio.graph._node import Node, iso
from convergio.graph._progress import FLUSH_CHARS, SECTIONS, TAIL_CHARS, Key, ProgressJournal
from convergio.graph._spec import AgentSpec
from tests.graph._sim import Sim, answer


@pytest.mark.parametrize("seed", range(5))
def test_a_nodes_compact_row_is_the_filtered_full_row(seed: int) -> None:
    rng = random.Random(seed)
    changed: set[str] = set()
    node = Node(AgentSpec.model_validate({"id": "a", "prompt": "x"}), changed)
    assert node.compact() == {"status": "waiting"} and not changed
    for _ in range(300):
        node.status = rng.choice(["waiting", "running", "completed", "failed"])
        node.attempts = rng.choice([0, 1, 3])
        node.calls = rng.choice([0, 2])
        node.started_at = rng.choice([None, "2026-01-01T12:00:00.000Z"])
        node.finished_at = rng.choice([None, "2026-01-01T12:00:01.000Z"])
        node.usage = {k: rng.choice([0, 0, 5]) for k in ("prompt_tokens", "total_tokens", "tool_calls")}
        node.error = rng.choice([None, "", "boom"])
        node.reused = rng.random() < 0.2
        full = compact_entry(node.entry())
        assert json.dumps(node.compact()) == json.dumps(full)
    assert changed == {"a"}


class FullJournal:
    """The journal as first written (ADR 0014): the tail rebuilt from every group on each call."""

    def __init__(self, baseline: dict[str, dict[str, Any]], *, keep_records: bool = True) -> None:
        self._last: dict[Key, dict[str, Any]] = {("nodes", k): v for k, v in baseline.items()}
        self._keep = keep_records
        self.rev = self.sealed = self._pending_chars = 0
        self._pending: dict[Key, tuple[int, dict[str, Any], int]] = {}
        self._open: dict[int, dict[Key, tuple[int, dict[str, Any], int]]] = {}
        self._ready: list[dict[str, Any]] = []

    def note(self, changes: list[tuple[Key, dict[str, Any]]]) -> None:
        fresh = [(k, v) for k, v in changes if self._last.get(k) != v]
        if not fresh:
            return
        self.rev += 1
        for key, value in fresh:
            self._last[key] = value
            old = self._pending.pop(key, None)
            if old is not None:
                self._pending_chars -= old[2]
            chars = len(json.dumps(value)) + len(key[1]) + 16
            self._pending[key] = (self.rev, value, chars)
            self._pending_chars += chars
        if self._pending_chars > FLUSH_CHARS:
            items, self._pending, self._pending_chars = self._pending, {}, 0
            if self._keep:
                self.sealed += 1
                self._open[self.sealed] = items
                record: dict[str, Any] = {"seq": self.sealed, **{s: {} for s in SECTIONS}}
                for (section, item_id), (rev, value, _) in items.items():
                    record[section][item_id] = value | {"rev": rev}
                self._ready.append(record)

    def take_records(self) -> list[dict[str, Any]]:
        ready, self._ready = self._ready, []
        return ready

    def confirm(self, seq: int) -> None:
        self._open.pop(seq, None)

    def tail(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
        seen: set[Key] = set()
        room = TAIL_CHARS
        for group in [self._pending, *(self._open[s] for s in sorted(self._open, reverse=True))]:
            for key in reversed(group):
                if key in seen:
                    continue
                rev, value, chars = group[key]
                if chars > room:
                    return out
                room -= chars
                seen.add(key)
                out[key[0]][key[1]] = value | {"rev": rev}
        return out


@pytest.mark.parametrize(("seed", "keep"), [(s, s % 3 != 0) for s in range(12)])
def test_the_journals_tail_and_records_equal_the_full_recomputation(seed: int, keep: bool) -> None:
    rng = random.Random(seed)
    ids = [f"agent-{i:03d}" for i in range(rng.choice([5, 40, 200]))]
    baseline = {n: {"status": "waiting"} for n in ids}
    journal, full = ProgressJournal(baseline, keep_records=keep), FullJournal(baseline, keep_records=keep)
    shown: list[tuple[str, dict[str, Any]]] = []  # earlier tails, with their JSON when returned
    unconfirmed: list[int] = []
    for step in range(600):
        changes: list[tuple[Key, dict[str, Any]]] = []
        for _ in range(rng.choice([0, 1, 2, 5])):
            section = rng.choice(["nodes", "nodes", "nodes", "routes", "replans"])
            item = rng.choice(ids) if section != "replans" else str(rng.randrange(4))
            value = {"status": rng.choice(["running", "completed", "failed"]), "n": rng.randrange(3)}
            changes.append(((section, item), value | {"pad": "x" * rng.randrange(300)}))
        journal.note(changes)
        full.note(changes)
        records = journal.take_records()
        assert json.dumps(records) == json.dumps(full.take_records())
        unconfirmed += [r["seq"] for r in records]
        if unconfirmed and rng.random() < 0.3:  # confirmed late and out of order, sometimes twice
            seq = unconfirmed.pop(rng.randrange(len(unconfirmed)))
            journal.confirm(seq)
            full.confirm(seq)
            if rng.random() < 0.1:
                journal.confirm(seq)
        tail = journal.tail()
        assert json.dumps(tail) == json.dumps(full.tail()), step
        assert journal.rev == full.rev and journal.sealed == full.sealed
        shown.append((json.dumps(tail), tail))
    assert all(json.dumps(tail) == text for text, tail in shown), "a tail handed out changed later"


def full_waits(sim: Sim) -> list[str]:
    """The walk ``WaitIndex`` made over every node after every completion."""
    return [
        n.spec.await_event.name
        for n in sim.run.nodes.values()
        if n.spec.await_event is not None and n.status == "awaiting_input"
    ]


@pytest.mark.parametrize("seed", range(8))
def test_the_runs_waits_equal_the_walk_over_every_node(seed: int) -> None:
    rng = random.Random(seed)
    specs: list[dict[str, Any]] = []
    for i in range(30):
        spec: dict[str, Any] = {"id": f"n{i}", "prompt": "do {{ input }}", "on_failure": "continue"}
        if i:
            spec["depends_on"] = [f"n{d}" for d in sorted(rng.sample(range(i), rng.randint(0, min(2, i))))]
        if rng.random() < 0.3:
            spec["await_event"] = {"name": f"e{i}", "timeout_seconds": rng.choice([1, 60])}
        specs.append(spec)
    sim = Sim({"name": "w", "agents": specs, "output": "n29", "max_parallel": 4}, answer)
    seen = 0
    while True:
        assert sim.run.waits() == full_waits(sim)
        seen += len(sim.run.waits())
        for name in list(sim.waiting_events):
            if rng.random() < 0.5:
                sim.raise_event(name, {"approved": rng.random() < 0.8}, after=rng.uniform(0, 2))
        if not sim.step():
            break
    assert seen, "some node waited"


def test_a_revision_that_adds_a_waiting_node_is_among_the_waits() -> None:
    plan = {
        "action": "reroute",
        "reason": "ask a human",
        "agents": [
            {"id": "ask", "prompt": "p {{ input }}", "await_event": {"name": "late", "timeout_seconds": 9}}
        ],
        "output": "ask",
    }

    def act(call: dict[str, Any]) -> tuple[float, bool, Any]:
        if call["node_id"] == "fixer":
            return 0.1, True, {"status": "completed", "output": json.dumps(plan)}
        if call["node_id"] == "broken":
            return 0.1, False, "down"
        return answer(call)

    graph = {
        "name": "g",
        "planner": {"agent": "fixer"},
        "agents": [{"id": "fixer", "instructions": "fix"}, {"id": "broken", "prompt": "x"}],
        "output": "broken",
    }
    sim = Sim(graph, act)
    while "late" not in sim.waiting_events and sim.step():
        assert sim.run.waits() == full_waits(sim)
    assert sim.run.waits() == full_waits(sim) == ["late"]
    status = sim.run.custom_status()
    assert status["nodes"]["ask"]["status"] == "awaiting_input"
    assert status["counts"]["awaiting_input"] == 1


def test_the_runs_timestamps_are_the_strftime_text_they_replaced() -> None:
    """``iso`` formats with ``isoformat``; the text is the old ``strftime`` one, cut (never
    rounded) to the millisecond, for naive UTC and aware clocks alike (years 1000 to 9999)."""
    rng = random.Random(7)
    moments = [datetime(2026, 1, 1), datetime(2026, 1, 1, 0, 0, 0, 999), datetime(9999, 12, 31, 23, 59, 59)]
    for _ in range(3000):
        moment = datetime(1001, 1, 1) + timedelta(microseconds=rng.randrange(8997 * 365 * 86_400 * 10**6))
        moments.append(moment)
        moments.append(moment.replace(tzinfo=timezone(timedelta(minutes=rng.randrange(-720, 720)))))
    for moment in moments:
        utc = moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
        iso.cache_clear()
        assert iso(moment) == utc.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", moment
