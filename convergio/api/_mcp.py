"""``/api/mcp``: Convergio's named graphs as MCP tools, for the tenant whose key comes with the call.

An MCP client (an IDE, a desktop assistant) sends ``x-api-key`` like any API client; the
tenant is settled here, before the protocol is spoken, and the MCP server only ever acts for
it: runs start through the same path as ``POST /api/v1/runs`` and are read as
``GET /api/v1/runs/{id}`` reads them (a foreign run id is unknown). The request is handed to
the SDK's ASGI app through ``func.AsgiMiddleware``, on Azure and on the embedded host alike.

Before that, the transport's own rules (MCP Streamable HTTP, "Security Warning"): a browser's
``Origin`` must be this host's own or one listed in ``CONVERGIO_MCP_ALLOWED_ORIGINS`` (comma
separated), else 403, so a web page cannot drive a local server (DNS rebinding); no ``Origin``
(IDEs, CLIs) is fine. The server offers no server-initiated stream and no sessions, so ``GET``
and ``DELETE`` are 405 with ``Allow: POST``. Bodies must be ``application/json`` (415), at most
1 MiB (413), and one JSON-RPC 2.0 message (MCP 2026-07-28 and the handshake-era revisions alike:
no batches since 2025-06-18): malformed JSON or nesting past ``MAX_DEPTH`` levels is -32700, a
batch or any other non-message -32600, positional params -32602, all HTTP 400.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import azure.durable_functions as df
import azure.functions as func

from convergio.errors import AppError, UnsupportedMediaType
from convergio.protocols._jsonrpc import JsonRpcRefusal, read_message
from convergio.protocols.mcp import GraphEntry
from convergio.tenants import Permission

from . import _models as m
from ._http import answer, check_json_body, json_response, tenant_of
from ._runs import read_run, start_graph_run
from ._service import Service, service

__all__: list[str] = []

ALLOWED_ORIGINS_ENV = "CONVERGIO_MCP_ALLOWED_ORIGINS"


class OriginNotAllowed(AppError, PermissionError):
    code = "origin_not_allowed"
    status_code = 403


def _own_origins(req: func.HttpRequest) -> set[str]:
    url = urlsplit(req.url)
    hosts = {url.netloc, req.headers.get("host", ""), req.headers.get("x-forwarded-host", "")}
    return {f"{scheme}://{host}".lower() for host in hosts if host for scheme in ("http", "https")}


def _check_origin(req: func.HttpRequest) -> None:
    origin = (req.headers.get("origin") or "").strip().rstrip("/").lower()
    if not origin:
        return
    listed = {o.strip().rstrip("/").lower() for o in os.environ.get(ALLOWED_ORIGINS_ENV, "").split(",")}
    if origin not in _own_origins(req) | (listed - {""}):
        raise OriginNotAllowed(
            f"origin {origin[:200]!r} may not use this MCP endpoint",
            details=[
                {"path": "headers.origin", "message": f"not this host's origin nor in {ALLOWED_ORIGINS_ENV}"}
            ],
        )


def _check_body(req: func.HttpRequest) -> func.HttpResponse | None:
    """Transport rules the SDK answers in plain text or not at all, and the JSON-RPC envelope,
    which the SDK's handshake-era transport answered with -32602 and a pydantic dump: here as
    the right JSON-RPC error (``convergio.protocols._jsonrpc``) with a short message."""
    body = check_json_body(req)
    media = (req.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        message = "MCP messages are sent as application/json"
        raise UnsupportedMediaType(message, details=[{"path": "headers.content-type", "message": message}])
    try:
        read_message(
            body,
            responses=True,
            batch_note=" (MCP 2025-06-18 removed JSON-RPC batching; this server takes none in any revision)",
        )
    except JsonRpcRefusal as refusal:
        return json_response(refusal.body(), 400)
    return None


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


@answer
async def mcp_endpoint(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    _check_origin(req)
    if req.method.upper() != "POST":
        message = "this MCP server is stateless and offers no server-initiated stream: POST messages"
        error = {"code": "method_not_allowed", "message": message, "details": []}
        return json_response({"error": error}, 405, headers={"Allow": "POST"})
    svc = service()
    tenant = tenant_of(req, svc, Permission.READ_RUNS)
    rejected = _check_body(req)
    if rejected is not None:
        return rejected
    # Loaded here, not at import: the SDK is slow to import and most cold starts never speak MCP.
    from convergio.protocols.mcp import graphs_app

    app = graphs_app(_TenantRuns(svc, client, tenant.id))
    bridge = func.AsgiMiddleware(app)  # type: ignore[no-untyped-call]  # azure-functions has no hints here
    response: func.HttpResponse = await bridge.handle_async(req)
    return response
