"""MCP server routes: a tenant's MCP servers, whose tools its agents use as ``mcp.<server>.<tool>``.

``PUT /api/v1/tenants/me/mcp-servers/{name}`` checks the endpoint (the SSRF guard in hosted
mode), lists the server's tools and stores them with the record, so graph validation never
reaches the network; ``POST .../{name}/refresh`` lists them again. Header values may carry keys:
they go to the secret store, and answers show only their names and fingerprints.

A tenant registers streamable HTTP servers only. ``transport: stdio`` ran the request's
``command`` as the host's user, so it is a 422 on every host: stdio servers are the operator's
(``python -m convergio mcp add-stdio``), and show here with ``operator: true``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Literal

import azure.durable_functions as df
import azure.functions as func
from pydantic import ConfigDict, Field, SecretStr

from convergio.errors import AppError, InvalidRequest, NotFound
from convergio.protocols import McpServerRecord
from convergio.protocols.mcp import check_server_name
from convergio.protocols.mcp._source import STDIO_REFUSED
from convergio.secrets import fingerprint
from convergio.tenants import Permission

from ._http import answer, json_response, read_body, tenant_of
from ._models import ApiModel
from ._service import Service, service

__all__: list[str] = []

_ROUTE = "v1/tenants/me/mcp-servers"
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}")
_RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "accept",
        "connection",
        "mcp-protocol-version",
        "mcp-session-id",
    }
)


class McpServerIn(ApiModel):
    """A tenant's MCP server; ``headers`` values are write-only (fingerprinted, never returned)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=2048, description="the streamable HTTP endpoint")
    transport: Literal["http", "stdio"] = Field(
        default="http", description="http; stdio is refused (422): only the operator adds stdio servers"
    )
    command: list[str] | None = Field(
        default=None, max_length=64, description="refused (422): stdio servers are the operator's"
    )
    headers: dict[str, SecretStr] | None = Field(
        default=None, max_length=32, description="sent with every request; omit to keep the stored ones"
    )
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)


class McpToolView(ApiModel):
    name: str = Field(description="what a graph lists in an agent's tools: mcp.<server>.<tool>")
    tool: str
    description: str
    input_schema: dict[str, Any]


class McpServerView(ApiModel):
    name: str
    transport: str
    url: str | None = None
    command: list[str] = Field(default=[])
    headers: dict[str, str] = Field(default={}, description="header name to the value's fingerprint")
    timeout_seconds: float
    operator: bool = Field(default=False, description="added by the operator (stdio), not through the API")
    tools: list[McpToolView]
    refreshed_at: str
    updated_at: str


class McpServerList(ApiModel):
    servers: list[McpServerView]


class StdioRefused(InvalidRequest):
    """A tenant asked for a stdio server: a command on the host, which only the operator may add."""

    code = "stdio_not_allowed"
    status_code = 422


class McpServerUnreachable(AppError):
    """The server could not be listed: nothing was stored or changed."""

    code = "mcp_server_unreachable"
    status_code = 502


def _view(record: McpServerRecord) -> McpServerView:
    return McpServerView(
        name=record.name,
        transport=record.transport,
        url=record.url,
        command=list(record.command),
        headers=record.headers,
        timeout_seconds=record.timeout_s,
        operator=record.operator,
        tools=[
            McpToolView(
                name=f"mcp.{record.name}.{tool.name}",
                tool=tool.name,
                description=tool.description,
                input_schema=tool.input_schema,
            )
            for tool in record.tools
        ],
        refreshed_at=record.refreshed_at,
        updated_at=record.updated_at,
    )


def _name(req: func.HttpRequest) -> str:
    name = str(req.route_params.get("name", ""))
    try:
        return check_server_name(name)
    except ValueError as exc:
        raise InvalidRequest(f"name: {exc}", details=[{"path": "name", "message": str(exc)}]) from None


def _invalid(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {message}", details=[{"path": field, "message": message}])


def _headers(body: McpServerIn) -> dict[str, str] | None:
    if body.headers is None:
        return None
    headers: dict[str, str] = {}
    for name, secret in body.headers.items():
        value = secret.get_secret_value()
        if _HEADER_NAME.fullmatch(name) is None or name.lower() in _RESERVED_HEADERS:
            raise _invalid(f"headers.{name[:64]}", "not a header name this server may set")
        if not value or len(value) > 4096 or any(c in value for c in "\r\n\0"):
            raise _invalid(f"headers.{name}", "the value must be 1-4096 characters on one line")
        headers[name] = value
    return headers


def _refuse_stdio(body: McpServerIn) -> None:
    """Refuse, before anything is stored or started, what would run a command on the host."""
    field = "transport" if body.transport == "stdio" else "command" if body.command is not None else ""
    if field:
        raise StdioRefused(f"{field}: {STDIO_REFUSED}", details=[{"path": field, "message": STDIO_REFUSED}])


def _record(tenant_id: str, name: str, body: McpServerIn, old: McpServerRecord | None) -> McpServerRecord:
    _refuse_stdio(body)
    return McpServerRecord(
        tenant_id=tenant_id,
        name=name,
        url=body.url,
        headers=dict(old.headers) if old is not None and body.headers is None else {},
        timeout_s=body.timeout_seconds,
    )


def _list(svc: Service, record: McpServerRecord, headers: dict[str, str] | None) -> McpServerRecord:
    """The record with its tools (network I/O: run it off the event loop)."""
    try:
        svc.mcp.check(record)
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise _invalid(field, message) from None
    try:
        return svc.mcp.listed(record, headers)
    except (ConnectionError, ValueError) as exc:
        where = "command" if record.transport == "stdio" else "url"
        raise McpServerUnreachable(
            f"the server's tools could not be listed: {exc}", details=[{"path": where, "message": str(exc)}]
        ) from None


@answer
async def put_mcp_server(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    name = _name(req)
    body: McpServerIn = read_body(req, McpServerIn)
    old = svc.mcp.registry.get(tenant.id, name)
    headers = _headers(body)
    record = _record(tenant.id, name, body, old)
    if headers is not None:
        record.headers.update({key: fingerprint(value) for key, value in headers.items()})
    send = headers if headers is not None else (None if record.headers else {})
    listed = await asyncio.to_thread(_list, svc, record, send)
    if headers is not None:
        svc.mcp.put_headers(tenant.id, name, headers)
    saved = svc.mcp.registry.put(listed)
    return json_response(_view(saved), 201 if old is None else 200)


@answer
async def list_mcp_servers(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    return json_response(McpServerList(servers=[_view(r) for r in svc.mcp.registry.list(tenant.id)]))


@answer
async def get_mcp_server(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    svc = service()
    record = svc.mcp.registry.get(tenant_of(req, svc, Permission.ADMIN).id, _name(req))
    if record is None:
        raise NotFound("no such MCP server")
    return json_response(_view(record))


@answer
async def refresh_mcp_server(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    svc = service()
    record = svc.mcp.registry.get(tenant_of(req, svc, Permission.ADMIN).id, _name(req))
    if record is None:
        raise NotFound("no such MCP server")
    listed = await asyncio.to_thread(_list, svc, record, None)
    return json_response(_view(svc.mcp.registry.put(listed)))


@answer
async def delete_mcp_server(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    svc = service()
    tenant = tenant_of(req, svc, Permission.ADMIN)
    name = _name(req)
    if not svc.mcp.registry.delete(tenant.id, name):
        raise NotFound("no such MCP server")
    svc.mcp.put_headers(tenant.id, name, {})
    return json_response({"name": name, "deleted": True})
