"""What a run shows of itself: the custom status, the node table, the output and the run-end summary.

Read-outs of the state machine, kept apart from the transitions that change it. Only
``custom_status`` writes anything: it hands the changes noted since the last call to
the progress journal, so each change is shown once.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ._node import iso
from ._progress import ERROR_CHARS

if TYPE_CHECKING:
    from ._run import GraphRun

__all__ = ["custom_status", "node_table", "run_result", "run_summary"]


def custom_status(run: GraphRun) -> dict[str, Any]:
    """The compact custom status (ADR 0014): a summary and the newest changes, under 16 KB.

    The orchestrator sets it after every completion, so it costs O(nodes changed): only
    nodes whose shown fields were set are looked at. Changes the status cannot hold go
    into progress records (``GraphRun.take_records``).
    """
    changes: list[tuple[tuple[str, str], dict[str, Any]]] = [
        (("nodes", n), run.nodes[n].compact()) for n in sorted(run._changed)
    ]
    if run._routes_changed:  # rare: most statuses skip these comprehensions
        changes += [(("routes", r), run.routes[r]) for r in sorted(run._routes_changed)]
        run._routes_changed.clear()
    if run._replans_noted < len(run.replans):
        changes += [
            (("replans", str(i)), run.replans[i]) for i in range(run._replans_noted, len(run.replans))
        ]
        run._replans_noted = len(run.replans)
    run._changed.clear()
    run.progress.note(changes)
    tail = run.progress.tail()
    return {
        "graph": run.spec.name,
        "rev": run.progress.rev,
        "records": run.progress.sealed,
        "confirmed": run.progress.confirmed,
        "counts": dict(run.progress.counts),
        "awaiting_input": run.progress.awaiting(),
        "usage": run.usage(),
        "error": run.error[:ERROR_CHARS] if run.error else None,
        **tail,
    }


def node_table(run: GraphRun) -> dict[str, Any]:
    """The whole node table with the run's usage, routes and re-plans: O(nodes), for the output."""
    return {
        "graph": run.spec.name,
        "nodes": {node_id: node.entry() for node_id, node in run.nodes.items()},
        "usage": run.usage(),
        "error": run.error,
        "routes": run.routes,
        "replans": run.replans,
    }


def run_result(run: GraphRun) -> dict[str, Any]:
    """The run's output document, once ``finished``: the planner's answers are not outputs."""
    planner = run.spec.planner.agent if run.spec.planner else None
    outputs = {n: v.output for n, v in run.nodes.items() if v.status == "completed" and n != planner}
    return {
        "status": "failed" if run.error else "completed",
        "error": run.error,
        "output": outputs.get(run.spec.output or ""),
        "outputs": outputs,
        "nodes": run.status()["nodes"],
        "usage": run.usage(),
        "routes": run.routes,
        "replans": run.replans,
    }


def run_summary(run: GraphRun, now: datetime) -> dict[str, Any]:
    """What the run-end activity records (telemetry): no outputs, no prompts."""
    return {
        "run_id": run.run_id,
        "tenant": run.tenant,
        "graph": run.spec.name,
        "started_at": run.started_at,
        "finished_at": iso(now),
        "status": "failed" if run.error else "completed",
        "usage": run.usage(),
        "routes": {n: r["chosen"] for n, r in run.routes.items()},
        "replans": [{k: r[k] for k in ("node", "action")} for r in run.replans],
    }
