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

The transitions live here; routers' and supervisors' decisions (``_deciders``),
re-planning (``_planner``), task inputs (``_inputs``) and the read-outs (``_report``)
are functions of the run kept in modules of their own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from convergio.budget import Grant, RunLedger

from ._a2a import poll_delay
from ._deciders import delegate, routed, worker_ended
from ._inputs import a2a_input, agent_input, subgraph_input
from ._memo import run_spec
from ._names import AGENT_GRAPH, RECORD_RUN, RECORD_TASK, RUN_AGENT, TERMINAL
from ._node import ZERO, Node, event_value, first_line, iso, left
from ._planner import ask_planner, may_replan, planned
from ._progress import ProgressJournal
from ._report import custom_status, node_table, run_result, run_summary
from ._route import ROUTE_REQUEST, route_input
from ._rules import off_dag
from ._spec import AgentSpec, GraphSpec

__all__ = ["AGENT_GRAPH", "RECORD_RUN", "RECORD_TASK", "RUN_AGENT", "Command", "GraphRun", "TERMINAL"]


@dataclass(frozen=True, slots=True)
class Command:
    """A durable task the orchestrator must start: activity, sub-graph, timer or event wait."""

    token: str
    kind: Literal["activity", "subgraph", "timer", "event"]
    name: str = ""
    input: Any = None
    fire_at: datetime | None = None


Handler = Callable[[bool, Any, datetime], None]


class GraphRun:
    """One run of a validated graph; see the module docstring for the protocol."""

    def __init__(self, request: Mapping[str, Any], now: datetime) -> None:
        self._graph = run_spec(request["graph"])  # validated once per graph in this process
        self.spec: GraphSpec = self._graph.spec
        self.input = request.get("input")
        self.run_id: str = request.get("run_id", "")
        self.tenant: str = request.get("tenant", "")
        # Outputs kept from an earlier run ("retry failed agents"): those agents finish at once.
        reuse = request.get("reuse")
        self._reuse: dict[str, Any] = dict(reuse) if isinstance(reuse, Mapping) else {}
        budget = request.get("budget") or self.spec.budget.model_dump()
        self.ledger = RunLedger(
            max_tokens=budget.get("max_tokens"), max_tool_calls=budget.get("max_tool_calls")
        )
        self._changed: set[str] = set()
        self.nodes = {a.id: Node(a, self._changed) for a in self.spec.agents}
        self._usage = dict(ZERO)
        self.routes: dict[str, dict[str, Any]] = {}
        self.replans: list[dict[str, Any]] = []
        self._routes_changed: set[str] = set()
        self._replans_noted = 0
        baseline = {node_id: node.compact() for node_id, node in self.nodes.items()}
        self.progress = ProgressJournal(baseline, keep_records=not request.get("as_child"))
        self._pruned: dict[str, str] = {}  # node -> why routing left it out
        self._active: set[str] = set()  # graph nodes running now (see _schedule)
        self._replan_queue: list[str] = []  # failed nodes waiting for the planner, the first one asked
        self._plan_graph()
        self._handlers: dict[str, tuple[str, Handler]] = {}
        self._commands: list[Command] = []
        self._dropped: list[str] = []
        self._seq = 0
        self.finished = False
        self.error: str | None = None
        self.started_at = iso(now)
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
        if token.startswith(RECORD_TASK):  # a progress record is in the history now (unless it failed)
            return self.progress.confirm(int(token.removeprefix(RECORD_TASK))) if ok else None
        entry = self._handlers.pop(token, None)
        if entry is None:
            return
        owner, handler = entry
        if owner:
            self.nodes[owner].tokens.discard(token)
        handler(ok, value, now)
        if not self.finished:
            self._schedule(now)

    def custom_status(self) -> dict[str, Any]:
        """The compact custom status (ADR 0014), set after every completion: see ``_report``."""
        return custom_status(self)

    def waits(self) -> list[str]:
        """The event of each node awaiting input now, in node order: O(nodes that can wait)."""
        return [name for node, name in self._waiters if node.status == "awaiting_input"]

    def take_records(self) -> list[tuple[str, dict[str, Any]]]:
        """Progress records to write into the history, each with its token for ``complete``."""
        return [(f"{RECORD_TASK}{r['seq']}", r) for r in self.progress.take_records()]

    def status(self) -> dict[str, Any]:
        """The whole node table with the run's usage, routes and re-plans: O(nodes), for the output."""
        return node_table(self)

    def usage(self) -> dict[str, int]:
        return dict(self._usage)

    def agent_json(self, agent: AgentSpec) -> dict[str, Any]:
        """An agent's spec as its activity's input carries it (shared and read-only: never change it)."""
        return self._graph.agent_json(agent)

    def result(self) -> dict[str, Any]:
        """The run's output document, once ``finished``."""
        return run_result(self)

    def summary(self, now: datetime) -> dict[str, Any]:
        """What the run-end activity records (telemetry): no outputs, no prompts."""
        return run_summary(self, now)

    # -- scheduling -----------------------------------------------------------------

    def _schedule(self, now: datetime) -> None:
        """Start every node whose dependencies have all ended (ready-set, in spec order).

        At most ``max_parallel`` nodes run at once (a node waiting for an event holds no
        slot): the rest stay ready until a running one ends. Besides sparing providers'
        rate limits and the task hub, this keeps the orchestrator's wait on its open tasks
        small, which it rebuilds after every completion.
        """
        while self._ready and not self.finished and len(self._active) < self.spec.max_parallel:
            node_id = self._ready.popleft()
            self._unstarted -= 1
            deps = self.nodes[node_id].spec.depends_on
            # (the guards spare the generators when nothing was routed away or there are no deps)
            if self._pruned and node_id not in self._pruned and deps and all(d in self._pruned for d in deps):
                self._pruned[node_id] = "routed away: no dependency of it was chosen"
            if node_id in self._pruned:
                self._finish(node_id, "skipped", now, error=self._pruned[node_id])
            elif deps and any(_blocks(self.nodes[d]) for d in deps if d not in self._pruned):
                self._finish(node_id, "skipped", now, error="a dependency did not complete")
            elif node_id in self._reuse and self._reusable(node_id):
                self.nodes[node_id].reused = True
                self._finish(node_id, "completed", now, output=self._reuse[node_id])
            else:
                self._start(node_id, now)
        if not self.finished and self._open == 0:
            out = self.nodes[self.spec.output or ""]
            if out.status != "completed":
                self._fail(f"output agent {out.spec.id!r} ended {out.status}", now)
            self.finished = True

    def _plan_graph(self) -> None:
        """(Re)build the schedule from the spec and the nodes' states: at the start, after a revision."""
        spec = self.spec
        self._workers = {w: a.id for a in spec.agents for w in a.workers}
        self._dependents: dict[str, list[str]] = {a.id: [] for a in spec.agents}
        for a in spec.agents:
            for dep in a.depends_on:
                self._dependents[dep].append(a.id)
        outside = off_dag(spec)
        dag = [a.id for a in spec.agents if a.id not in outside]
        ended = {n for n in dag if self.nodes[n].status in TERMINAL and n not in self._replan_queue}
        waiting = [n for n in dag if self.nodes[n].status == "waiting"]
        self._blocked = {n: sum(d not in ended for d in self.nodes[n].spec.depends_on) for n in waiting}
        self._ready = deque(n for n in waiting if self._blocked[n] == 0)
        self._waiters = [(n, n.spec.await_event.name) for n in self.nodes.values() if n.spec.await_event]
        self._unstarted = len(waiting)
        self._open = len(dag) - len(ended)

    def _reusable(self, node_id: str) -> bool:
        """Only a plain agent's output can be kept: routers, planners and supervisors decide."""
        spec = self.nodes[node_id].spec
        planner = self.spec.planner.agent if self.spec.planner else None
        return spec.kind == "agent" and not spec.workers and node_id != planner

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
        payload = event_value(payload)
        node.event = payload
        if isinstance(payload, dict) and payload.get("approved") is False:
            reason = str(payload.get("comment") or "no reason given")[:500]
            by = str(payload.get("by") or "")[:64]
            who = f"rejected by {by}" if by else "rejected"
            return self._finish(node_id, "rejected", now, error=f"{who}: {reason}")
        self._run(node_id, now)

    def _run(self, node_id: str, now: datetime) -> None:
        node = self.nodes[node_id]
        self._active.add(node_id)
        node.status = "running"
        node.started_at = iso(now)
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
        if node.spec.kind == "a2a":  # a remote agent spends no tokens here: no reservation
            self._handlers[key] = (scope, self._on_call(node_id, key, call))
            node.tokens.add(key)
            return self._commands.append(Command(key, "activity", *a2a_input(self, node, call)))
        if node.spec.kind == "router":  # scoring spends no tokens: no reservation
            outputs = {d: self.nodes[d].output for d in node.spec.depends_on}
            agents = {a.id: a for a in self.spec.agents}
            routing = route_input(self.run_id, node.spec, agents, self.input, outputs)
            self._handlers[key] = (scope, self._on_call(node_id, key, call))
            node.tokens.add(key)
            return self._commands.append(Command(key, "activity", ROUTE_REQUEST, routing))
        grant = self._grant(node, key, call)
        if grant is None:
            message = "node budget exhausted" if node.spec.budget.max_tokens else "run budget exhausted"
            return self._call_ended(node_id, call, "budget_exceeded", None, message, now)
        if node.spec.kind == "graph":
            command = Command(key, "subgraph", AGENT_GRAPH, subgraph_input(self, node, grant))
        else:
            command = Command(key, "activity", RUN_AGENT, agent_input(self, node, call, grant))
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
                    return self._call_ended(node_id, call, "failed", None, first_line(value), now)
                if "worker" not in call:
                    node.status = "retrying"
                if retry.backoff_ms == 0:
                    return self._attempt(node_id, call, now)
                scope = self._workers.get(node_id, node_id) if "worker" in call else node_id
                fire_at = now + timedelta(milliseconds=retry.backoff_ms)
                return self._timer(scope, fire_at, lambda ok_, value_, at: self._attempt(node_id, call, at))
            usage = {**ZERO, **(value.get("usage") or {})}
            self.ledger.settle(key, tokens=usage["total_tokens"], tool_calls=usage["tool_calls"])
            node.usage = {name: node.usage[name] + usage[name] for name in ZERO}
            for name in ZERO:
                self._usage[name] += usage[name]
            status = value.get("status", "failed")
            if status == "completed" and node.spec.kind == "router":
                routed(self, node_id, value)
            if status == "delegated" and "worker" not in call:
                return delegate(self, node_id, value.get("calls") or [], now)
            node.status = "running" if node.status == "retrying" else node.status
            if status == "pending" and value.get("task_id"):  # a2a: the remote task goes on
                return self._a2a_wait(node_id, call, str(value["task_id"]), now)
            self._call_ended(node_id, call, status, value.get("output"), value.get("error"), now)

        return done

    # -- remote A2A agents (see _a2a) ---------------------------------------------------

    def _a2a_wait(self, node_id: str, call: dict[str, Any], task_id: str, now: datetime) -> None:
        """Poll the remote task after a durable timer; its id is in the history from now on."""
        call["task_id"], call["polls"] = task_id, call.get("polls", 0) + 1
        fire_at = now + timedelta(seconds=poll_delay(self.nodes[node_id].spec, call["polls"]))
        self._timer(node_id, fire_at, lambda ok, value, at: self._a2a_poll(node_id, call))

    def _a2a_poll(self, node_id: str, call: dict[str, Any]) -> None:
        node, key = self.nodes[node_id], self._token()
        self._handlers[key] = (node_id, self._on_call(node_id, key, call))
        node.tokens.add(key)
        self._commands.append(Command(key, "activity", *a2a_input(self, node, call)))

    def _call_ended(
        self, node_id: str, call: dict[str, Any], status: str, output: Any, error: Any, now: datetime
    ) -> None:
        if "replan" in call:
            return planned(self, call["replan"], status, output, error, now)
        if "worker" not in call:
            return self._finish(node_id, status, now, output=output, error=error)
        worker_ended(self, node_id, call, status, output, error, now)

    # -- endings ----------------------------------------------------------------------

    def _finish(
        self, node_id: str, status: str, now: datetime, *, output: Any = None, error: Any = None
    ) -> None:
        node = self.nodes[node_id]
        if node.status in TERMINAL:
            return
        self._drop_all(node_id)
        self._active.discard(node_id)
        node.status, node.output = status, output
        node.error = None if status == "completed" else str(error or status)[:2000]
        node.finished_at = iso(now)
        for worker in node.spec.workers:
            if self.nodes[worker].status not in TERMINAL and self.nodes[worker].calls:
                self.nodes[worker].status = "cancelled"
        if may_replan(self, node_id):
            return ask_planner(self, node_id, now)
        self._settle(node_id, now)

    def _settle(self, node_id: str, now: datetime) -> None:
        """The node's end counts: dependents may become ready, and its ``on_failure`` applies."""
        node = self.nodes[node_id]
        status = node.status
        self._ended(node_id)
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
                node.finished_at = iso(now) if was_started else None

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

    def _grant(self, node: Node, key: str, call: dict[str, Any]) -> Grant | None:
        limits = node.spec.budget
        tokens = left(limits.max_tokens, node.usage["total_tokens"])
        if tokens == 0:
            return None
        tools = left(limits.max_tool_calls, node.usage["tool_calls"])
        share = self._unstarted + 1
        if "worker" in call:  # the round's other calls start right after this one
            share += sum(1 for c in self.nodes[self._workers[node.spec.id]].rounds[-1] if c["attempt"] == 0)
        return self.ledger.grant(key, tokens=tokens, tool_calls=tools, share=share)


def _blocks(dep: Node) -> bool:
    """Does this ended dependency stop its dependents? (a skip always propagates)"""
    return dep.status == "skipped" or (dep.status != "completed" and dep.spec.on_failure != "continue")
