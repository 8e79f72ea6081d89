"""``GET /api/v1/runs/{id}/outputs``: what the finished agents of a run wrote, while it runs too.

The polled run view carries outputs only once a run has completed (its output document has
them). A teacher must see the draft before approving it, and a failed run's finished work before
retrying it, so this reads them from the run's history, where each ``run_agent`` result names its
node. It is asked for on demand (a card, a selected agent), never by the poll loop.
"""

from __future__ import annotations

import json
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import InvalidRequest, NotFound
from convergio.tenants import Permission

from ._http import answer, json_response, off_loop, run_for
from ._views import status_history, status_input

__all__ = ["history_outputs"]

_MAX_NODES = 50


def _decoded(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def history_outputs(history: list[Any] | None, wanted: set[str] | None = None) -> dict[str, Any]:
    """node id -> the output of its last completed ``run_agent`` call, from a run's history events."""
    outputs: dict[str, Any] = {}
    for event in history or []:
        result = _decoded(event.get("Result")) if isinstance(event, dict) else None
        if not isinstance(result, dict) or result.get("status") != "completed":
            continue
        node = result.get("node_id")
        if isinstance(node, str) and (wanted is None or node in wanted):
            outputs[node] = result.get("output")
    return outputs


@answer
async def get_run_outputs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    from ._service import service

    svc = service()
    run_id = (await off_loop(run_for, req, svc, Permission.READ_OWN_RUNS)).run_id
    raw = req.params.get("nodes")
    wanted = None if raw is None else {n.strip() for n in raw.split(",") if n.strip()}
    if wanted is not None and not 1 <= len(wanted) <= _MAX_NODES:
        raise InvalidRequest(f"nodes: name 1 to {_MAX_NODES} agents, separated by commas")
    status = await client.get_status(run_id, show_history=True, show_history_output=True, show_input=True)
    if status.runtime_status is None:
        raise NotFound(f"run {run_id!r} has no state (it never started, or was purged)")
    outputs = reused_outputs(status_input(status), wanted) | history_outputs(status_history(status), wanted)
    return json_response({"id": run_id, "outputs": outputs})


def reused_outputs(request: dict[str, Any], wanted: set[str] | None) -> dict[str, Any]:
    """The outputs a retry kept from the run it retries (they never ran here, so no history has them)."""
    reuse = request.get("reuse")
    if not isinstance(reuse, dict):
        return {}
    return {node: value for node, value in reuse.items() if wanted is None or node in wanted}
