"""The A2A side of one request: a tenant's named graphs and runs as ``GraphAgents``, and the app.

Imported on the first A2A request only (the SDK is slow to import and most cold starts never
speak A2A); ``_a2a`` holds the route. The task id is the run id; the A2A context id rides in the
orchestration input (``a2a.context_id``), so nothing is kept in this process between requests.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import uuid
from datetime import UTC, datetime
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
from ._status_reads import load_status
from ._views import run_view, status_input

__all__ = ["LIST_WINDOW", "PREFIX", "TenantAgents", "handle"]

PREFIX = "/api/a2a"
LIST_WINDOW = 1000
"""``ListTasks`` looks at the tenant's this many most recently started runs (a bounded answer)."""
_INDEX_PAGE = 200
_READS_AT_ONCE = 8
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
        *,
        subject: str = "",
        who: str = "",
    ) -> None:
        self._svc, self._client, self._tenant = svc, client, tenant_id
        self._key = idempotency_key  # the HTTP request's Idempotency-Key: SendMessage starts one run
        # The caller, as the HTTP API records it: who started a run, who cancelled one.
        self._subject, self._who = subject, who

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
                started_by=self._subject,
            )
        except InvalidRequest as exc:  # the input against the graph's input_schema, mostly
            raise ValueError(exc.message) from None
        return RunSnapshot(run_id, "submitted", context_id=context_id)

    async def status(self, graph: str, run_id: str) -> RunSnapshot | None:
        if await asyncio.to_thread(self._svc.store.owner_of, run_id) != self._tenant:
            return None
        return await self._snapshot(graph, run_id)

    async def runs_of(self, graph: str) -> list[RunSnapshot]:
        """The tenant's runs of ``graph`` among its ``LIST_WINDOW`` most recently started (the run
        index is read without the durable backend; the matching runs' states are read a few at
        a time). Older runs stay reachable through ``GET /api/v1/runs``."""
        run_ids: list[str] = []
        for offset in range(0, LIST_WINDOW, _INDEX_PAGE):
            page = await asyncio.to_thread(
                self._svc.store.list_runs, self._tenant, limit=_INDEX_PAGE, offset=offset
            )
            run_ids += [record.run_id for record in page if record.graph_name == graph]
            if len(page) < _INDEX_PAGE:
                break
        gate = asyncio.Semaphore(_READS_AT_ONCE)

        async def read(run_id: str) -> RunSnapshot | None:
            async with gate:
                return await self._snapshot(graph, run_id)

        snapshots = await asyncio.gather(*(read(run_id) for run_id in run_ids))
        return [snapshot for snapshot in snapshots if snapshot is not None]

    async def _snapshot(self, graph: str, run_id: str) -> RunSnapshot | None:
        status = await load_status(self._client, run_id, show_input=True)
        request = status_input(status)
        if status.runtime_status is None or request.get("graph", {}).get("name") != graph:
            return None
        view = run_view(run_id, status)
        context_id = str((request.get("a2a") or {}).get("context_id") or run_id)
        state = _STATES[view.status]
        waiting = tuple(n for n, v in view.nodes.items() if v.status == "awaiting_input")
        if state == "working" and waiting:
            state = "input_required"
        error = view.error or ("the run failed" if state == "failed" else None)
        return RunSnapshot(
            run_id,
            state,
            context_id,
            view.output,
            error,
            waiting,
            updated_at=_utc(status.last_updated_time),
            created_at=_utc(status.created_time),
        )

    async def cancel(self, graph: str, run_id: str) -> RunSnapshot | None:
        run = await self.status(graph, run_id)
        if run is None:
            return None
        try:
            await cancel_graph_run(self._svc, self._client, run_id, "cancelled through A2A", by=self._who)
        except Conflict as exc:
            raise TaskNotCancelableError(exc.message) from None
        return RunSnapshot(run_id, "canceled", run.context_id, error="cancelled through A2A")


def _utc(moment: datetime | None) -> datetime | None:
    """Durable's status times, as aware UTC (the parser leaves them naive when no zone is given)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


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
