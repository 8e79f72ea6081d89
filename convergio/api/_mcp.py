"""``/api/mcp``: Convergio's named graphs as MCP tools, for the tenant whose key comes with the call.

An MCP client (an IDE, a desktop assistant) sends ``x-api-key`` like any API client; the
tenant is settled here, before the protocol is spoken, and the MCP server only ever acts for
it: runs start through the same path as ``POST /api/v1/runs`` and are read as
``GET /api/v1/runs/{id}`` reads them (a foreign run id is unknown). The request is handed to
the SDK's ASGI app through ``func.AsgiMiddleware``, on Azure and on the embedded host alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from convergio.protocols.mcp import GraphEntry

from . import _models as m
from ._http import answer, blueprint, tenant_of
from ._runs import read_run, start_graph_run
from ._service import Service, service

__all__: list[str] = []


class _TenantRuns:
    """The ``GraphRuns`` the MCP server uses: one tenant's graphs and runs, through the API's code."""

    def __init__(self, svc: Service, client: df.DurableOrchestrationClient, tenant_id: str) -> None:
        self._svc = svc
        self._client = client
        self._tenant_id = tenant_id

    def graphs(self) -> Sequence[GraphEntry]:
        return [
            GraphEntry(name, str(raw.get("description") or ""), raw.get("input_schema"))
            for name, raw in sorted(self._svc.library().items())
        ]

    async def start(self, graph: str, run_input: Any) -> str:
        request = m.RunRequest(graph_ref=graph, input=run_input)
        return await start_graph_run(self._svc, self._client, self._tenant_id, request)

    async def read(self, run_id: str) -> dict[str, Any]:
        view = await read_run(self._svc, self._client, self._tenant_id, run_id)
        return view.model_dump(mode="json")


@blueprint.route(route="mcp", methods=["GET", "POST", "DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
@blueprint.durable_client_input(client_name="client")
@answer
async def mcp_endpoint(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc)
    # Loaded here, not at import: the SDK is slow to import and most cold starts never speak MCP.
    from convergio.protocols.mcp import graphs_app

    app = graphs_app(_TenantRuns(svc, client, tenant.id))
    bridge = func.AsgiMiddleware(app)  # type: ignore[no-untyped-call]  # azure-functions has no hints here
    response: func.HttpResponse = await bridge.handle_async(req)
    return response
