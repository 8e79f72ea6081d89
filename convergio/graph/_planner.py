"""The run's side of re-planning (ADR 0006): when to ask the planner, and applying its answer.

``_replan`` says what a valid revision is; this module holds a failed node's end while
the planner is asked (one failure at a time, the rest queued), then applies the
revision to the run or lets the failure stand. The planner's call is an ordinary
attempt of the planner node, so its answer is a completion a replay reads back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ._node import Node, iso
from ._replan import REPLAN_STATUSES, RevisionRejected, parse_revision, planner_task, revise
from ._rules import off_dag
from ._spec import GraphSpec

if TYPE_CHECKING:
    from ._run import GraphRun

__all__ = ["ask_planner", "may_replan", "planned"]


def may_replan(run: GraphRun, node_id: str) -> bool:
    """Can this node's failure go to the planner? (re-plans left, and the failure would stop work)"""
    planner = run.spec.planner
    return (
        planner is not None
        and not run.finished
        and run.nodes[node_id].status in REPLAN_STATUSES
        and run.nodes[node_id].spec.on_failure != "continue"
        and node_id not in off_dag(run.spec)
        and len(run.replans) + len(run._replan_queue) < planner.max_replans
    )


def ask_planner(run: GraphRun, failed: str, now: datetime) -> None:
    """Hold the failed node's end (its dependents wait) and ask the planner, one failure at a time."""
    run._replan_queue.append(failed)
    if len(run._replan_queue) == 1:
        _call_planner(run, now)


def _call_planner(run: GraphRun, now: datetime) -> None:
    assert run.spec.planner is not None
    failed = run.nodes[run._replan_queue[0]]
    planner = run.nodes[run.spec.planner.agent]
    statuses = {n: node.status for n, node in run.nodes.items()}
    task = planner_task(run.spec, failed.spec.id, failed.status, failed.error or "", statuses)
    planner.status, planner.calls = "running", planner.calls + 1
    planner.started_at = planner.started_at or iso(now)
    if limit := planner.spec.budget.max_seconds:
        error = f"over max_seconds ({limit:g} s)"
        failed_id = failed.spec.id
        run._timer(
            planner.spec.id,
            now + timedelta(seconds=limit),
            lambda ok, value, at: planned(run, failed_id, "timed_out", None, error, at),
        )
    run._attempt(planner.spec.id, {"attempt": 0, "replan": failed.spec.id, "task": task}, now)


def planned(run: GraphRun, failed: str, status: str, answer: Any, error: Any, now: datetime) -> None:
    """The planner answered (or gave up): apply the revision, or let the failure stand."""
    assert run.spec.planner is not None
    planner = run.nodes[run.spec.planner.agent]
    run._drop_all(planner.spec.id)
    planner.status, planner.finished_at = status, iso(now)
    planner.error = None if status == "completed" else str(error or status)[:2000]
    node = run.nodes[failed]
    record: dict[str, Any] = {"node": failed, "status": node.status, "error": node.error, "at": iso(now)}
    run._replan_queue.pop(0)
    try:
        if status != "completed":
            raise RevisionRejected(f"the planner ended {status}: {planner.error}")
        revision = parse_revision(answer)
        spec = revise(run.spec, revision, failed, {n: v.status for n, v in run.nodes.items()})
    except RevisionRejected as exc:
        run.replans.append(record | {"action": "rejected", "reason": str(exc)[:2000]})
        run._settle(failed, now)
    else:
        changes = {"changed": [a.id for a in revision.agents], "removed": list(revision.remove)}
        run.replans.append(record | {"action": revision.action, "reason": revision.reason} | changes)
        if spec is None:
            reason = f"the planner stopped the run: {revision.reason}"
            run._fail(f"agent {failed!r} ended {node.status}: {node.error}; {reason}", now)
        else:
            _revised(run, spec, failed if revision.action == "replace" else None, revision.remove)
    if run._replan_queue and not run.finished:
        _call_planner(run, now)


def _revised(run: GraphRun, spec: GraphSpec, replaced: str | None, removed: list[str]) -> None:
    """Run the revised graph from here: started nodes keep their state, the replaced one waits again."""
    run.spec = spec
    for agent in spec.agents:
        node = run.nodes.get(agent.id)
        if node is None:
            run.nodes[agent.id] = Node(agent, run._changed)
            run._changed.add(agent.id)  # new to readers: its row joins the journal
        elif agent.id == replaced:  # attempts and usage carry on: the ledger's keys stay unique
            node.spec, node.status, node.output, node.error = agent, "waiting", None, None
            node.started_at = node.finished_at = None
            node.rounds, node.event = [], None
        else:
            node.spec = agent
    for node_id in removed:
        run.nodes[node_id].status, run.nodes[node_id].error = "skipped", "removed by a re-plan"
    run._plan_graph()
