"""``GET /api/v1/runs/{id}/graph``: the shape of the graph a run executes, inline graphs included.

The console draws a run's DAG from this. A run started from an inline graph has no name in the
library, so ``GET /graphs/{name}`` cannot give its edges; the run's own input always can. It is
read once per page, apart from the status polls, so the polled view stays small (issue 22).
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import NotFound
from convergio.tenants import Permission

from ._http import answer, json_response, off_loop, run_for
from ._service import service
from ._views import status_input

__all__: list[str] = []


def graph_of(request: dict[str, Any]) -> dict[str, Any] | None:
    """The graph spec in a run's request (``status_input`` of its status)."""
    graph = request.get("graph")
    return graph if isinstance(graph, dict) else None


@answer
async def get_run_graph(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    run_id = (await off_loop(run_for, req, svc, Permission.READ_OWN_RUNS)).run_id
    status = await client.get_status(run_id, show_input=True)
    graph = graph_of(status_input(status)) if status.runtime_status is not None else None
    if graph is None:
        raise NotFound(f"run {run_id!r} has no graph to show (it never started, or was purged)")
    return json_response(graph, headers={"Cache-Control": "private, max-age=3600"})
