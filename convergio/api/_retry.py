"""``POST /api/v1/runs/{id}/retry``: run a finished run again, whole or from its failures.

``{"mode": "all"}`` starts a new run of the same graph with the same input. ``{"mode": "failed"}``
(the default) keeps the finished work: the new run is seeded with the outputs of the agents that
completed, which finish at once without a call (nor a bill), and everything else runs again. A new
run rather than a rewind: the old run stays as it was, for its history and its bill, and the retry
is an ordinary run with its own id, limits and ledger rows. Routers, planners and supervisors are
always run again, since their decisions shape what follows.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import Conflict, NotFound
from convergio.tenants import Permission

from . import _models as m
from ._http import answer, base_url, caller_of, json_response, off_loop, owned_record, read_body
from ._run_graph import graph_of
from ._run_outputs import history_outputs
from ._runs import read_run, run_created, start_graph_run
from ._service import service
from ._sharing import check_may_start
from ._views import status_history, status_input

__all__: list[str] = []

_FINAL = frozenset({"Completed", "Failed", "Terminated"})


def kept_outputs(view: m.RunView, history: list[Any] | None, graph: dict[str, Any]) -> dict[str, Any]:
    """The completed agents' outputs of a finished run, for the agents of its graph.

    A completed run's view has them; a failed run ends with its error as its output, so they are
    read from its history: each ``run_agent`` result names its node.
    """
    known = {a.get("id") for a in graph.get("agents", []) if isinstance(a, dict)}
    done = {node for node, state in view.nodes.items() if state.status == "completed" and node in known}
    return history_outputs(history, done) | {
        node: view.outputs[node] for node in done if node in view.outputs
    }


@answer
async def retry_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    caller = await off_loop(caller_of, req, svc, Permission.START_RUNS)
    run_id = (await off_loop(owned_record, req, svc, caller)).run_id
    body: m.RetryIn = read_body(req, m.RetryIn) if (req.get_body() or b"").strip() else m.RetryIn()
    status = await client.get_status(run_id, show_input=True)
    if status.runtime_status is None:
        raise NotFound(f"run {run_id!r} has no state left to retry (it never started, or was purged)")
    state = getattr(status.runtime_status, "value", str(status.runtime_status))
    if state not in _FINAL:
        raise Conflict(f"run {run_id!r} is {state}: it can be retried once it has ended")
    run_input = status_input(status)
    graph = graph_of(run_input)
    if graph is None:
        raise NotFound(f"run {run_id!r} has no graph to run again")
    # A student retries only what they may start now: a library graph still shared with them.
    again = m.RunRequest(graph_ref=str(graph.get("name", "")), input=None)
    await off_loop(check_may_start, svc, caller, again)
    reuse = {}
    if body.mode == "failed":
        view = await read_run(svc, client, caller.tenant.id, run_id)
        full = await client.get_status(run_id, show_history=True, show_history_output=True)
        reuse = kept_outputs(view, status_history(full), graph)
    request = m.RunRequest(graph=graph, input=run_input.get("input"))
    extra = {"retry_of": run_id, "reuse": reuse}
    new_id = await start_graph_run(
        svc, client, caller.tenant.id, request, extra=extra, started_by=caller.subject
    )
    created = run_created(req, new_id).model_dump()
    created |= {"retry_of": run_id, "mode": body.mode, "kept": sorted(reuse)}
    return json_response(created, 202, headers={"Location": f"{base_url(req)}/runs/{new_id}"})
