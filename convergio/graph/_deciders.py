"""Nodes whose answer decides what else runs: a router's choice, a supervisor's delegation (ADR 0006).

A router's decision prunes the candidates it did not choose (they end ``skipped`` when
their turn comes). A supervisor's ``delegated`` answer starts one call per worker; when
the round's last call ends, the supervisor is asked again with the round's results.
Worker calls belong to their supervisor, so its end or deadline drops them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ._node import iso

if TYPE_CHECKING:
    from ._run import GraphRun

__all__ = ["delegate", "routed", "worker_ended"]


def routed(run: GraphRun, router_id: str, decision: dict[str, Any]) -> None:
    """Record the router's choice (only its own candidates count) and prune the others."""
    route = run.nodes[router_id].spec.route
    assert route is not None
    chosen = [c for c in decision.get("chosen") or [] if c in route.candidates]
    scores = decision.get("scores") or {}
    run._routes_changed.add(router_id)
    run.routes[router_id] = {
        "chosen": chosen,
        "scores": scores,
        "fallback": bool(decision.get("fallback")),
    }
    for candidate in route.candidates:
        if candidate not in chosen:
            run._pruned[candidate] = f"not chosen by router {router_id!r}"


def delegate(run: GraphRun, boss_id: str, calls: list[dict[str, Any]], now: datetime) -> None:
    """Start a round: one call per delegated task, each worker shown running."""
    boss = run.nodes[boss_id]
    if not calls:
        return run._finish(boss_id, "failed", now, error="the supervisor delegated nothing")
    round_ = [{"id": c["id"], "worker": c["worker"], "task": c["task"], "attempt": 0} for c in calls]
    boss.rounds.append(round_)
    for call in round_:
        worker = run.nodes[call["worker"]]
        worker.status = "running"
        worker.calls += 1
        worker.started_at = worker.started_at or iso(now)
    for call in round_:
        run._attempt(call["worker"], call, now)


def worker_ended(
    run: GraphRun, node_id: str, call: dict[str, Any], status: str, output: Any, error: Any, now: datetime
) -> None:
    """One worker call ended: the worker shows its last call's end; a full round asks the supervisor."""
    ok = status == "completed"
    call["output"] = output if ok else None
    call["error"] = None if ok else f"{status}: {error or status}"
    boss_id = run._workers[node_id]
    round_ = run.nodes[boss_id].rounds[-1]
    worker = run.nodes[node_id]
    if not any(c["worker"] == node_id and "output" not in c for c in round_):
        worker.status, worker.finished_at = ("completed" if ok else "failed"), iso(now)
        worker.output, worker.error = (output, None) if ok else (worker.output, call["error"])
    if all("output" in c for c in round_):
        run._attempt(boss_id, {"attempt": 0}, now)
