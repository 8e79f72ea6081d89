"""The discrete-event simulator the run state machine's tests drive (virtual time, no host).

The simulator plays the durable runtime: it starts what the run asks for, fires
timers and completions in time order, and feeds them back. Agents are fake
functions of their input, so each test states exactly what every call does.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from convergio.graph import Catalog, parse_graph
from convergio.graph._run import GraphRun

T0 = datetime(2026, 1, 1, 12, 0, 0)
CATALOG = Catalog(providers=frozenset({"offline"}), tools=frozenset({"calculator"}))
Behaviour = Callable[[dict[str, Any]], tuple[float, bool, Any]]


def answer(
    call: dict[str, Any], seconds: float = 0.1, tokens: int = 10, **extra: Any
) -> tuple[float, bool, Any]:
    """A completed agent call whose output names the node and its inputs."""
    deps = ",".join(f"{k}={v}" for k, v in sorted(call["outputs"].items()))
    usage = {"prompt_tokens": tokens // 2, "completion_tokens": tokens - tokens // 2, "total_tokens": tokens}
    return (
        seconds,
        True,
        {"status": "completed", "output": f"{call['node_id']}({deps})", "usage": usage, **extra},
    )


class Sim:
    def __init__(
        self, graph: dict[str, Any], behaviour: Behaviour, run_input: Any = None, **request: Any
    ) -> None:
        spec = parse_graph(graph, CATALOG)
        self.behaviour = behaviour
        self.now = T0
        self.queue: list[tuple[datetime, int, str, bool, Any]] = []
        self.seq = 0
        self.calls: list[dict[str, Any]] = []
        self.started: dict[str, list[datetime]] = {}
        self.waiting_events: dict[str, str] = {}
        self.dropped: set[str] = set()
        self.history: list[tuple[str, bool, Any, datetime]] = []  # completions fed, in order (a replay)
        self.request: dict[str, Any] = {}
        payload = {"graph": spec.model_dump(mode="json"), "input": run_input, "run_id": "r1", **request}
        self.request = payload
        self.run = GraphRun(payload, self.now)
        self._pump()

    def _push(self, at: datetime, token: str, ok: bool, value: Any) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (at, self.seq, token, ok, value))

    def _pump(self) -> None:
        self.dropped.update(self.run.take_dropped())
        for command in self.run.take_commands():
            if command.kind == "timer":
                assert command.fire_at is not None
                self._push(command.fire_at, command.token, True, None)
            elif command.kind == "event":
                self.waiting_events[command.name] = command.token
            else:
                call = command.input
                self.calls.append({"kind": command.kind, **call})
                node = call.get("node_id") or call["run_id"].split("/")[-1]
                self.started.setdefault(node, []).append(self.now)
                seconds, ok, value = self.behaviour({"kind": command.kind, **call})
                self._push(self.now + timedelta(seconds=seconds), command.token, ok, value)

    def raise_event(self, name: str, payload: Any, after: float) -> None:
        token = self.waiting_events.pop(name)
        self._push(self.now + timedelta(seconds=after), token, True, payload)

    def step(self) -> bool:
        if self.run.finished or not self.queue:
            return False
        at, _, token, ok, value = heapq.heappop(self.queue)
        self.now = at
        self.history.append((token, ok, value, at))
        self.run.complete(token, ok=ok, value=value, now=at)
        self._pump()
        return True

    def finish(self) -> dict[str, Any]:
        while self.step():
            pass
        assert self.run.finished, "run did not finish"
        return self.run.result()


def agents(*specs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"prompt": "do {{ input }}", **s} for s in specs]
