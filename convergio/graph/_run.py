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

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from convergio.budget import Grant, RunLedger

from ._a2a import poll_delay
from ._inputs import a2a_input, agent_input, subgraph_input
from ._names import AGENT_GRAPH, RECORD_RUN, RECORD_TASK, RUN_AGENT, TERMINAL
from ._node import ZERO, Node, event_value, first_line, iso, left
from ._progress import ERROR_CHARS, ProgressJournal
from ._replan import REPLAN_STATUSES, RevisionRejected, parse_revision, planner_task, revise
from ._route import ROUTE_REQUEST, route_input
from ._rules import off_dag
from ._spec import GraphSpec

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
        self.spec = GraphSpec.model_validate(request["graph"])
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
        """The compact custom status (ADR 0014): a summary and the newest changes, under 16 KB.

        The orchestrator sets it after every completion, so it costs O(nodes changed): only
        nodes whose shown fields were set are looked at. Changes the status cannot hold go
        into progress records (``take_records``).
        """
        changes: list[tuple[tuple[str, str], dict[str, Any]]] = [
            (("nodes", n), self.nodes[n].compact()) for n in sorted(self._changed)
        ]
        changes += [(("routes", r), self.routes[r]) for r in sorted(self._routes_changed)]
        changes += [
            (("replans", str(i)), self.replans[i]) for i in range(self._replans_noted, len(self.replans))
        ]
        self._changed.clear()
        self._routes_changed.clear()
        self._replans_noted = len(self.replans)
        self.progress.note(changes)
        tail = self.progress.tail()
        return {
            "graph": self.spec.name,
            "rev": self.progress.rev,
            "records": self.progress.sealed,
            "confirmed": self.progress.confirmed,
            "counts": dict(self.progress.counts),
            "awaiting_input": self.progress.awaiting(),
            "usage": self.usage(),
            "error": self.error[:ERROR_CHARS] if self.error else None,
            **tail,
        }

    def waits(self) -> list[str]:
        """The event of each node awaiting input now, in node order: O(nodes that can wait)."""
        return [name for node, name in self._waiters if node.status == "awaiting_input"]

    def take_records(self) -> list[tuple[str, dict[str, Any]]]:
        """Progress records to write into the history, each with its token for ``complete``."""
        return [(f"{RECORD_TASK}{r['seq']}", r) for r in self.progress.take_records()]

    def status(self) -> dict[str, Any]:
        """The whole node table with the run's usage, routes and re-plans: O(nodes), for the output."""
        return {
            "graph": self.spec.name,
            "nodes": {node_id: node.entry() for node_id, node in self.nodes.items()},
            "usage": self.usage(),
            "error": self.error,
            "routes": self.routes,
            "replans": self.replans,
        }

    def usage(self) -> dict[str, int]:
        return dict(self._usage)

    def result(self) -> dict[str, Any]:
        """The run's output document, once ``finished``."""
        planner = self.spec.planner.agent if self.spec.planner else None
        outputs = {n: v.output for n, v in self.nodes.items() if v.status == "completed" and n != planner}
        return {
            "status": "failed" if self.error else "completed",
            "error": self.error,
            "output": outputs.get(self.spec.output or ""),
            "outputs": outputs,
            "nodes": self.status()["nodes"],
            "usage": self.usage(),
            "routes": self.routes,
            "replans": self.replans,
        }

    def summary(self, now: datetime) -> dict[str, Any]:
        """What the run-end activity records (telemetry): no outputs, no prompts."""
        return {
            "run_id": self.run_id,
            "tenant": self.tenant,
            "graph": self.spec.name,
            "started_at": self.started_at,
            "finished_at": iso(now),
            "status": "failed" if self.error else "completed",
            "usage": self.usage(),
            "routes": {n: r["chosen"] for n, r in self.routes.items()},
            "replans": [{k: r[k] for k in ("node", "action")} for r in self.replans],
        }

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
            if node_id not in self._pruned and deps and all(d in self._pruned for d in deps):
                self._pruned[node_id] = "routed away: no dependency of it was chosen"
            if node_id in self._pruned:
                self._finish(node_id, "skipped", now, error=self._pruned[node_id])
            elif any(_blocks(self.nodes[d]) for d in deps if d not in self._pruned):
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
                self._routed(node_id, value)
            if status == "delegated" and "worker" not in call:
                return self._delegate(node_id, value.get("calls") or [], now)
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
            return self._planned(call["replan"], status, output, error, now)
        if "worker" not in call:
            return self._finish(node_id, status, now, output=output, error=error)
        ok = status == "completed"
        call["output"] = output if ok else None
        call["error"] = None if ok else f"{status}: {error or status}"
        boss_id = self._workers[node_id]
        round_ = self.nodes[boss_id].rounds[-1]
        worker = self.nodes[node_id]
        if not any(c["worker"] == node_id and "output" not in c for c in round_):
            worker.status, worker.finished_at = ("completed" if ok else "failed"), iso(now)
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
            worker.started_at = worker.started_at or iso(now)
        for call in round_:
            self._attempt(call["worker"], call, now)

    # -- routers and re-planning (ADR 0006) --------------------------------------------

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

    def _routed(self, router_id: str, decision: dict[str, Any]) -> None:
        route = self.nodes[router_id].spec.route
        assert route is not None
        chosen = [c for c in decision.get("chosen") or [] if c in route.candidates]
        scores = decision.get("scores") or {}
        self._routes_changed.add(router_id)
        self.routes[router_id] = {
            "chosen": chosen,
            "scores": scores,
            "fallback": bool(decision.get("fallback")),
        }
        for candidate in route.candidates:
            if candidate not in chosen:
                self._pruned[candidate] = f"not chosen by router {router_id!r}"

    def _may_replan(self, node_id: str) -> bool:
        planner = self.spec.planner
        return (
            planner is not None
            and not self.finished
            and self.nodes[node_id].status in REPLAN_STATUSES
            and self.nodes[node_id].spec.on_failure != "continue"
            and node_id not in off_dag(self.spec)
            and len(self.replans) + len(self._replan_queue) < planner.max_replans
        )

    def _ask_planner(self, failed: str, now: datetime) -> None:
        """Hold the failed node's end (its dependents wait) and ask the planner, one failure at a time."""
        self._replan_queue.append(failed)
        if len(self._replan_queue) == 1:
            self._call_planner(now)

    def _call_planner(self, now: datetime) -> None:
        assert self.spec.planner is not None
        failed = self.nodes[self._replan_queue[0]]
        planner = self.nodes[self.spec.planner.agent]
        statuses = {n: node.status for n, node in self.nodes.items()}
        task = planner_task(self.spec, failed.spec.id, failed.status, failed.error or "", statuses)
        planner.status, planner.calls = "running", planner.calls + 1
        planner.started_at = planner.started_at or iso(now)
        if limit := planner.spec.budget.max_seconds:
            error = f"over max_seconds ({limit:g} s)"
            failed_id = failed.spec.id
            self._timer(
                planner.spec.id,
                now + timedelta(seconds=limit),
                lambda ok, value, at: self._planned(failed_id, "timed_out", None, error, at),
            )
        self._attempt(planner.spec.id, {"attempt": 0, "replan": failed.spec.id, "task": task}, now)

    def _planned(self, failed: str, status: str, answer: Any, error: Any, now: datetime) -> None:
        """The planner answered (or gave up): apply the revision, or let the failure stand."""
        assert self.spec.planner is not None
        planner = self.nodes[self.spec.planner.agent]
        self._drop_all(planner.spec.id)
        planner.status, planner.finished_at = status, iso(now)
        planner.error = None if status == "completed" else str(error or status)[:2000]
        node = self.nodes[failed]
        record: dict[str, Any] = {"node": failed, "status": node.status, "error": node.error, "at": iso(now)}
        self._replan_queue.pop(0)
        try:
            if status != "completed":
                raise RevisionRejected(f"the planner ended {status}: {planner.error}")
            revision = parse_revision(answer)
            spec = revise(self.spec, revision, failed, {n: v.status for n, v in self.nodes.items()})
        except RevisionRejected as exc:
            self.replans.append(record | {"action": "rejected", "reason": str(exc)[:2000]})
            self._settle(failed, now)
        else:
            changes = {"changed": [a.id for a in revision.agents], "removed": list(revision.remove)}
            self.replans.append(record | {"action": revision.action, "reason": revision.reason} | changes)
            if spec is None:
                reason = f"the planner stopped the run: {revision.reason}"
                self._fail(f"agent {failed!r} ended {node.status}: {node.error}; {reason}", now)
            else:
                self._revised(spec, failed if revision.action == "replace" else None, revision.remove)
        if self._replan_queue and not self.finished:
            self._call_planner(now)

    def _revised(self, spec: GraphSpec, replaced: str | None, removed: list[str]) -> None:
        """Run the revised graph from here: started nodes keep their state, the replaced one waits again."""
        self.spec = spec
        for agent in spec.agents:
            node = self.nodes.get(agent.id)
            if node is None:
                self.nodes[agent.id] = Node(agent, self._changed)
                self._changed.add(agent.id)  # new to readers: its row joins the journal
            elif agent.id == replaced:  # attempts and usage carry on: the ledger's keys stay unique
                node.spec, node.status, node.output, node.error = agent, "waiting", None, None
                node.started_at = node.finished_at = None
                node.rounds, node.event = [], None
            else:
                node.spec = agent
        for node_id in removed:
            self.nodes[node_id].status, self.nodes[node_id].error = "skipped", "removed by a re-plan"
        self._plan_graph()

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
        if self._may_replan(node_id):
            return self._ask_planner(node_id, now)
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
