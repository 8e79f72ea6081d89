"""The run state machine: one graph run as pure data, driven by completions.

The orchestrator is a thin loop around this class: it starts the durable tasks
the run asks for (``take_commands``), forgets the ones it no longer waits for
(``take_dropped``), and feeds each completion back (``complete``). Everything
here is a function of the input and the completions, with time taken only from
the orchestration clock passed in, so replay rebuilds the same state.

Scheduling is ready-set, not level by level: a node starts the moment its last
dependency ends. Each node's life is: waiting → (awaiting_input) → running ⇄
retrying → one terminal status; its ``on_failure`` then decides what happens to
the rest of the run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from convergio.budget import Grant, RunLedger

from ._spec import AgentSpec, GraphSpec

__all__ = ["AGENT_GRAPH", "RECORD_RUN", "RUN_AGENT", "Command", "GraphRun", "TERMINAL"]

RUN_AGENT = "run_agent"
AGENT_GRAPH = "agent_graph"
RECORD_RUN = "record_run"
TERMINAL = frozenset(
    {"completed", "failed", "timed_out", "budget_exceeded", "tool_limit", "rejected", "skipped", "cancelled"}
)
_ROUND_KEYS = ("id", "worker", "task", "output", "error")
_ZERO = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "tool_calls": 0}


@dataclass(frozen=True, slots=True)
class Command:
    """A durable task the orchestrator must start: activity, sub-graph, timer or event wait."""

    token: str
    kind: Literal["activity", "subgraph", "timer", "event"]
    name: str = ""
    input: Any = None
    fire_at: datetime | None = None


Handler = Callable[[bool, Any, datetime], None]


@dataclass(slots=True)
class _Node:
    spec: AgentSpec
    status: str = "waiting"
    attempts: int = 0
    calls: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    usage: dict[str, int] = field(default_factory=lambda: dict(_ZERO))
    error: str | None = None
    output: Any = None
    event: Any = None
    rounds: list[list[dict[str, Any]]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)


class GraphRun:
    """One run of a validated graph; see the module docstring for the protocol."""

    def __init__(self, request: Mapping[str, Any], now: datetime) -> None:
        self.spec = GraphSpec.model_validate(request["graph"])
        self.input = request.get("input")
        self.run_id: str = request.get("run_id", "")
        self.tenant: str = request.get("tenant", "")
        budget = request.get("budget") or self.spec.budget.model_dump()
        self.ledger = RunLedger(
            max_tokens=budget.get("max_tokens"), max_tool_calls=budget.get("max_tool_calls")
        )
        self.nodes = {a.id: _Node(a) for a in self.spec.agents}
        self._workers = {w: a.id for a in self.spec.agents for w in a.workers}
        self._dependents: dict[str, list[str]] = {a.id: [] for a in self.spec.agents}
        for a in self.spec.agents:
            for dep in a.depends_on:
                self._dependents[dep].append(a.id)
        dag = [a for a in self.spec.agents if a.id not in self._workers]
        self._blocked = {a.id: len(a.depends_on) for a in dag}
        self._ready = [a.id for a in dag if not a.depends_on]
        self._unstarted = self._open = len(dag)
        self._handlers: dict[str, tuple[str, Handler]] = {}
        self._commands: list[Command] = []
        self._dropped: list[str] = []
        self._seq = 0
        self.finished = False
        self.error: str | None = None
        self.started_at = _iso(now)
        if budget.get("max_seconds"):
            self._timer("", now + timedelta(seconds=budget["max_seconds"]), self._run_deadline)
        self._schedule(now)

    # -- the protocol -------------------------------------------------------------

    def take_commands(self) -> list[Command]:
        commands, self._commands = self._commands, []
        return commands

    def take_dropped(self) -> list[str]:
        """Tokens the run no longer waits for (timers among them should be cancelled)."""
        dropped, self._dropped = self._dropped, []
        return dropped

    def complete(self, token: str, *, ok: bool, value: Any, now: datetime) -> None:
        """Feed one completion: ``value`` is the result, or the error message when not ``ok``."""
        entry = self._handlers.pop(token, None)
        if entry is None:
            return
        owner, handler = entry
        if owner:
            self.nodes[owner].tokens.discard(token)
        handler(ok, value, now)
        if not self.finished:
            self._schedule(now)

    def status(self) -> dict[str, Any]:
        """The custom status: per-node progress and the run's usage so far."""
        nodes = {}
        for node_id, node in self.nodes.items():
            entry: dict[str, Any] = {
                "status": node.status,
                "attempts": node.attempts,
                "started_at": node.started_at,
                "finished_at": node.finished_at,
                "usage": node.usage,
            }
            if node.error:
                entry["error"] = node.error
            if node.calls:
                entry["calls"] = node.calls
            nodes[node_id] = entry
        return {"graph": self.spec.name, "nodes": nodes, "usage": self.usage(), "error": self.error}

    def usage(self) -> dict[str, int]:
        total = dict(_ZERO)
        for node in self.nodes.values():
            for key in total:
                total[key] += node.usage[key]
        return total

    def result(self) -> dict[str, Any]:
        """The run's output document, once ``finished``."""
        outputs = {n: node.output for n, node in self.nodes.items() if node.status == "completed"}
        return {
            "status": "failed" if self.error else "completed",
            "error": self.error,
            "output": outputs.get(self.spec.output or ""),
            "outputs": outputs,
            "nodes": self.status()["nodes"],
            "usage": self.usage(),
        }

    def summary(self, now: datetime) -> dict[str, Any]:
        """What the run-end activity records (telemetry): no outputs, no prompts."""
        return {
            "run_id": self.run_id,
            "tenant": self.tenant,
            "graph": self.spec.name,
            "started_at": self.started_at,
            "finished_at": _iso(now),
            "status": "failed" if self.error else "completed",
            "usage": self.usage(),
        }

    # -- scheduling -----------------------------------------------------------------

    def _schedule(self, now: datetime) -> None:
        """Start every node whose dependencies have all ended (ready-set, in spec order)."""
        while self._ready and not self.finished:
            node_id = self._ready.pop(0)
            self._unstarted -= 1
            if any(_blocks(self.nodes[d]) for d in self.nodes[node_id].spec.depends_on):
                self._finish(node_id, "skipped", now, error="a dependency did not complete")
            else:
                self._start(node_id, now)
        if not self.finished and self._open == 0:
            out = self.nodes[self.spec.output or ""]
            if out.status != "completed":
                self._fail(f"output agent {out.spec.id!r} ended {out.status}", now)
            self.finished = True

    def _start(self, node_id: str, now: datetime) -> None:
        node = self.nodes[node_id]
        wait = node.spec.await_event
        if wait is None:
            return self._run(node_id, now)
        node.status = "awaiting_input"
        event = self._token()
        self._handlers[event] = (node_id, lambda ok, value, at: self._on_event(node_id, value, at))
        node.tokens.add(event)
        self._commands.append(Command(event, "event", name=wait.name))
        error = f"no {wait.name!r} event within {wait.timeout_seconds:g} s"
        self._timer(
            node_id, now + timedelta(seconds=wait.timeout_seconds), self._ender(node_id, "timed_out", error)
        )

    def _on_event(self, node_id: str, payload: Any, now: datetime) -> None:
        node = self.nodes[node_id]
        self._drop_all(node_id)
        node.event = payload
        if isinstance(payload, dict) and payload.get("approved") is False:
            reason = str(payload.get("comment") or "no reason given")[:500]
            return self._finish(node_id, "rejected", now, error=f"rejected: {reason}")
        self._run(node_id, now)

    def _run(self, node_id: str, now: datetime) -> None:
        node = self.nodes[node_id]
        node.status = "running"
        node.started_at = _iso(now)
        if limit := node.spec.budget.max_seconds:
            error = f"over max_seconds ({limit:g} s)"
            self._timer(node_id, now + timedelta(seconds=limit), self._ender(node_id, "timed_out", error))
        self._attempt(node_id, {"attempt": 0}, now)

    # -- one call, with attempts ---------------------------------------------------

    def _attempt(self, node_id: str, call: dict[str, Any], now: datetime) -> None:
        """Start the next attempt of a call: a node's own, or a supervisor's call to a worker.

        A worker call belongs to its supervisor (``scope``): the supervisor's deadline
        or failure drops it.
        """
        node = self.nodes[node_id]
        scope = self._workers[node_id] if "worker" in call else node_id
        node.attempts += 1
        call["attempt"] += 1
        key = self._token()
        grant = self._grant(node, key, call)
        if grant is None:
            message = "node budget exhausted" if node.spec.budget.max_tokens else "run budget exhausted"
            return self._call_ended(node_id, call, "budget_exceeded", None, message, now)
        if node.spec.kind == "graph":
            command = Command(key, "subgraph", AGENT_GRAPH, self._subgraph_input(node, grant))
        else:
            command = Command(key, "activity", RUN_AGENT, self._agent_input(node, call, grant))
        self._handlers[key] = (scope, self._on_call(node_id, key, call))
        self.nodes[scope].tokens.add(key)
        self._commands.append(command)

    def _on_call(self, node_id: str, key: str, call: dict[str, Any]) -> Handler:
        def done(ok: bool, value: Any, now: datetime) -> None:
            node = self.nodes[node_id]
            if not ok:
                self.ledger.settle(key, tokens=0, tool_calls=0)
                retry = node.spec.retry
                if call["attempt"] >= retry.attempts:
                    return self._call_ended(node_id, call, "failed", None, _first_line(value), now)
                if "worker" not in call:
                    node.status = "retrying"
                if retry.backoff_ms == 0:
                    return self._attempt(node_id, call, now)
                scope = self._workers.get(node_id, node_id) if "worker" in call else node_id
                fire_at = now + timedelta(milliseconds=retry.backoff_ms)
                return self._timer(scope, fire_at, lambda ok_, value_, at: self._attempt(node_id, call, at))
            usage = {**_ZERO, **(value.get("usage") or {})}
            self.ledger.settle(key, tokens=usage["total_tokens"], tool_calls=usage["tool_calls"])
            for name in _ZERO:
                node.usage[name] += usage[name]
            status = value.get("status", "failed")
            if status == "delegated" and "worker" not in call:
                return self._delegate(node_id, value.get("calls") or [], now)
            node.status = "running" if node.status == "retrying" else node.status
            self._call_ended(node_id, call, status, value.get("output"), value.get("error"), now)

        return done

    def _call_ended(
        self, node_id: str, call: dict[str, Any], status: str, output: Any, error: Any, now: datetime
    ) -> None:
        if "worker" not in call:
            return self._finish(node_id, status, now, output=output, error=error)
        ok = status == "completed"
        call["output"] = output if ok else None
        call["error"] = None if ok else f"{status}: {error or status}"
        boss_id = self._workers[node_id]
        round_ = self.nodes[boss_id].rounds[-1]
        worker = self.nodes[node_id]
        if not any(c["worker"] == node_id and "output" not in c for c in round_):
            worker.status, worker.finished_at = ("completed" if ok else "failed"), _iso(now)
            worker.output, worker.error = (output, None) if ok else (worker.output, call["error"])
        if all("output" in c for c in round_):
            self._attempt(boss_id, {"attempt": 0}, now)

    # -- supervisor-worker ----------------------------------------------------------

    def _delegate(self, boss_id: str, calls: list[dict[str, Any]], now: datetime) -> None:
        boss = self.nodes[boss_id]
        if not calls:
            return self._finish(boss_id, "failed", now, error="the supervisor delegated nothing")
        round_ = [{"id": c["id"], "worker": c["worker"], "task": c["task"], "attempt": 0} for c in calls]
        boss.rounds.append(round_)
        for call in round_:
            worker = self.nodes[call["worker"]]
            worker.status = "running"
            worker.calls += 1
            worker.started_at = worker.started_at or _iso(now)
        for call in round_:
            self._attempt(call["worker"], call, now)

    # -- endings ----------------------------------------------------------------------

    def _finish(
        self, node_id: str, status: str, now: datetime, *, output: Any = None, error: Any = None
    ) -> None:
        node = self.nodes[node_id]
        if node.status in TERMINAL:
            return
        self._drop_all(node_id)
        node.status, node.output = status, output
        self._ended(node_id)
        node.error = None if status == "completed" else str(error or status)[:2000]
        node.finished_at = _iso(now)
        for worker in node.spec.workers:
            if self.nodes[worker].status not in TERMINAL and self.nodes[worker].calls:
                self.nodes[worker].status = "cancelled"
        if status == "completed":
            return
        policy = node.spec.on_failure
        if policy == "fail_run" and status != "skipped":
            self._fail(f"agent {node_id!r} ended {status}: {node.error}", now)

    def _ended(self, node_id: str) -> None:
        if node_id in self._workers:
            return
        self._open -= 1
        for child in self._dependents[node_id]:
            self._blocked[child] -= 1
            if self._blocked[child] == 0:
                self._ready.append(child)

    def _fail(self, message: str, now: datetime) -> None:
        if self.error is None:
            self.error = message
        self.finished = True
        for node_id, node in self.nodes.items():
            if node.status not in TERMINAL:
                self._drop_all(node_id)
                was_started = node.status not in ("waiting",)
                node.status = "cancelled" if was_started else "skipped"
                node.finished_at = _iso(now) if was_started else None

    def _run_deadline(self, ok: bool, value: Any, now: datetime) -> None:
        self._fail(f"the run went over its max_seconds ({self.spec.budget.max_seconds:g} s)", now)

    # -- helpers ----------------------------------------------------------------------

    def _token(self) -> str:
        self._seq += 1
        return f"t{self._seq}"

    def _timer(self, owner: str, fire_at: datetime, handler: Handler) -> None:
        token = self._token()
        self._handlers[token] = (owner, handler)
        if owner:
            self.nodes[owner].tokens.add(token)
        self._commands.append(Command(token, "timer", fire_at=fire_at))

    def _ender(self, node_id: str, status: str, error: str) -> Handler:
        return lambda ok, value, now: self._finish(node_id, status, now, error=error)

    def _drop_all(self, node_id: str) -> None:
        node = self.nodes[node_id]
        for token in sorted(node.tokens):
            self._handlers.pop(token, None)
            self.ledger.abandon(token)
            self._dropped.append(token)
        node.tokens.clear()
        for worker in node.spec.workers:
            self._drop_all(worker)

    def _grant(self, node: _Node, key: str, call: dict[str, Any]) -> Grant | None:
        limits = node.spec.budget
        tokens = _left(limits.max_tokens, node.usage["total_tokens"])
        if tokens == 0:
            return None
        tools = _left(limits.max_tool_calls, node.usage["tool_calls"])
        share = self._unstarted + 1
        if "worker" in call:  # the round's other calls start right after this one
            share += sum(1 for c in self.nodes[self._workers[node.spec.id]].rounds[-1] if c["attempt"] == 0)
        return self.ledger.grant(key, tokens=tokens, tool_calls=tools, share=share)

    def _agent_input(self, node: _Node, call: dict[str, Any], grant: Grant) -> dict[str, Any]:
        spec = node.spec
        workers = [self.nodes[w].spec for w in spec.workers]
        return {
            "run_id": self.run_id,
            "tenant": self.tenant,
            "node_id": spec.id,
            "graph": self.spec.name,
            "attempt": call["attempt"],
            "step": node.attempts,
            "agent": spec.model_dump(mode="json", exclude_none=True),
            "input": self.input,
            "outputs": {d: self.nodes[d].output for d in spec.depends_on},
            "event": node.event,
            "task": call.get("task"),
            "workers": [{"name": w.id, "description": w.description} for w in workers],
            "rounds": [[{k: c.get(k) for k in _ROUND_KEYS} for c in r] for r in node.rounds],
            "final": len(node.rounds) >= spec.max_rounds,
            "limits": {
                "max_tokens": grant.tokens,
                "max_tool_calls": grant.tool_calls,
                "max_seconds": spec.budget.max_seconds,
            },
        }

    def _subgraph_input(self, node: _Node, grant: Grant) -> dict[str, Any]:
        spec = node.spec
        context = {d: self.nodes[d].output for d in spec.depends_on}
        run_input = dict(self.input) if isinstance(self.input, dict) else {"input": self.input}
        if context:
            run_input["context"] = context
        assert spec.graph is not None  # validation inlines every sub-graph
        budget = spec.graph.budget.model_dump()
        budget["max_tokens"] = _min(budget.get("max_tokens"), grant.tokens)
        budget["max_tool_calls"] = _min(budget.get("max_tool_calls"), grant.tool_calls)
        return {
            "graph": spec.graph.model_dump(mode="json", exclude_none=True),
            "input": run_input,
            "run_id": f"{self.run_id}/{spec.id}",
            "tenant": self.tenant,
            "budget": budget,
            "as_child": True,
        }


def _left(limit: int | None, used: int) -> int | None:
    return None if limit is None else max(0, limit - used)


def _blocks(dep: _Node) -> bool:
    """Does this ended dependency stop its dependents? (a skip always propagates)"""
    return dep.status == "skipped" or (dep.status != "completed" and dep.spec.on_failure != "continue")


def _min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _first_line(value: Any) -> str:
    return (str(value).strip().splitlines() or ["failed"])[0][:500]


def _iso(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
