"""The A2A side of one request: a tenant's named graphs and runs as ``GraphAgents``, and the app.

Imported on the first A2A request only (the SDK is slow to import and most cold starts never
speak A2A); ``_a2a`` holds the route. The task id is the run id; the A2A context id rides in the
orchestration input (``a2a.context_id``), so nothing is kept in this process between requests.
"""

from __future__ import annotations

import contextvars
import functools
import uuid
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from a2a.utils.errors import TaskNotCancelableError

from convergio.errors import Conflict, InvalidRequest
from convergio.graph import parse_graph
from convergio.protocols import TaskState
from convergio.protocols.a2a import AgentInfo, GraphAgents, RunSnapshot, build_a2a_app

from . import _models as m
from ._lifecycle import cancel_graph_run
from ._runs import start_graph_run
from ._service import Service
from ._views import load_status, run_view

__all__ = ["PREFIX", "TenantAgents", "handle"]

PREFIX = "/api/a2a"
_VERSION = "1.0.0"
_current: contextvars.ContextVar[GraphAgents] = contextvars.ContextVar("a2a_agents")
_STATES: dict[str, TaskState] = {
    "Pending": "submitted",
    "Running": "working",
    "Completed": "completed",
    "Failed": "failed",
    "Terminated": "canceled",
}


class TenantAgents:
    """The named graphs and the runs of one tenant, for one request (``GraphAgents``)."""

    def __init__(
        self,
        svc: Service,
        client: df.DurableOrchestrationClient,
        tenant_id: str,
        idempotency_key: str | None = None,
    ) -> None:
        self._svc, self._client, self._tenant = svc, client, tenant_id
        self._key = idempotency_key  # the HTTP request's Idempotency-Key: SendMessage starts one run

    def describe(self, graph: str) -> AgentInfo | None:
        raw = self._svc.library().get(graph)
        if raw is None:
            return None
        spec = parse_graph(raw, self._svc.catalog(self._tenant))
        examples = tuple(e for a in spec.agents for e in a.examples)
        return AgentInfo(spec.name, spec.description, spec.input_schema, examples)

    async def start(self, graph: str, run_input: Any, *, context_id: str) -> RunSnapshot:
        same = {"graph": graph, "input": run_input, "context_id": context_id}
        context_id = context_id or uuid.uuid4().hex
        request = m.RunRequest(graph_ref=graph, input=run_input)
        extra = {"a2a": {"context_id": context_id}}
        try:
            run_id = await start_graph_run(
                self._svc,
                self._client,
                self._tenant,
                request,
                extra=extra,
                idempotency_key=self._key,
                same_request=same,
            )
        except InvalidRequest as exc:  # the input against the graph's input_schema, mostly
            raise ValueError(exc.message) from None
        return RunSnapshot(run_id, "submitted", context_id=context_id)

    async def status(self, graph: str, run_id: str) -> RunSnapshot | None:
        if self._svc.store.owner_of(run_id) != self._tenant:
            return None
        status = await load_status(self._client, run_id, show_input=True)
        request = status.input_ if isinstance(status.input_, dict) else {}
        if status.runtime_status is None or request.get("graph", {}).get("name") != graph:
            return None
        view = run_view(run_id, status)
        context_id = str((request.get("a2a") or {}).get("context_id") or run_id)
        state = _STATES[view.status]
        waiting = tuple(n for n, v in view.nodes.items() if v.status == "awaiting_input")
        if state == "working" and waiting:
            state = "input_required"
        error = view.error or ("the run failed" if state == "failed" else None)
        return RunSnapshot(run_id, state, context_id, view.output, error, waiting)

    async def cancel(self, graph: str, run_id: str) -> RunSnapshot | None:
        run = await self.status(graph, run_id)
        if run is None:
            return None
        try:
            await cancel_graph_run(self._svc, self._client, run_id, "cancelled through A2A")
        except Conflict as exc:
            raise TaskNotCancelableError(exc.message) from None
        return RunSnapshot(run_id, "canceled", run.context_id, error="cancelled through A2A")


@functools.cache
def _bridge() -> Any:
    app = build_a2a_app(_current.get, prefix=PREFIX, version=_VERSION)
    return func.AsgiMiddleware(app)  # type: ignore[no-untyped-call]  # azure-functions has no hints here


async def handle(req: func.HttpRequest, agents: TenantAgents) -> func.HttpResponse:
    """Answer one A2A request for the tenant ``agents`` serves (card or JSON-RPC)."""
    token = _current.set(agents)
    try:
        response: func.HttpResponse = await _bridge().handle_async(req)
    finally:
        _current.reset(token)
    return response
