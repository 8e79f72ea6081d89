"""Convergio's named graphs as MCP tools, served over streamable HTTP one request at a time.

Tools: ``run.<graph>`` per named graph (its ``input_schema`` is the tool's input schema, so a
client's model fills the input in properly), which starts a run and waits briefly for it, and
``get_run`` (``run_id``, ``wait_seconds``) to follow a run to its result.

Functions HTTP is request/response, so the server is stateless and answers JSON, never SSE:
every POST is a whole exchange, and a fresh session manager serves it (no task group outlives
the request, whichever worker or event loop the next one lands on). What the tools do is
delegated to a ``GraphRuns`` for the authenticated tenant, passed in a context variable, so
this module knows the protocol and nothing of orchestrations or stores.

Spec: MCP 2026-07-28 and the handshake-era revisions the ``mcp`` SDK 2.3 still serves.
``serverInfo`` carries the package version; bad params are -32602 naming the member (the SDK
says only "Invalid request parameters"); the envelope is checked before the SDK sees it
(``convergio.protocols._jsonrpc``, called by the API route).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
import time
from typing import Any

import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from convergio import __version__

from ._graphs import GET_RUN, MAX_WAIT_S, RUN_PREFIX, RUN_WAIT_S, GraphEntry, GraphRuns

__all__ = ["graphs_app"]

MAX_BODY_BYTES = 1 << 20
_FINAL = frozenset({"Completed", "Failed", "Terminated"})
_POLL_S = 0.2
_log = logging.getLogger("convergio.protocols.mcp")


_RUNS: contextvars.ContextVar[GraphRuns | None] = contextvars.ContextVar("convergio_mcp_runs", default=None)

_GET_RUN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "run_id": {"type": "string", "minLength": 1, "maxLength": 128, "description": "from run.<graph>"},
        "wait_seconds": {
            "type": "number",
            "minimum": 0,
            "maximum": MAX_WAIT_S,
            "description": "wait up to this long for the run to finish (default 0: answer now)",
        },
    },
    "required": ["run_id"],
    "additionalProperties": False,
}


def graphs_app(runs: GraphRuns) -> ASGIApp:
    """The MCP endpoint as an ASGI app, acting for one tenant (one app per request)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        token = _RUNS.set(runs)
        try:
            manager = StreamableHTTPSessionManager(
                app=_server(), stateless=True, json_response=True, max_request_body_size=MAX_BODY_BYTES
            )
            async with manager.run():
                await manager.handle_request(scope, receive, send)
        finally:
            _RUNS.reset(token)

    return app


@functools.cache
def _server() -> Server[Any]:
    server: Server[Any] = Server(
        "convergio",
        version=__version__,  # serverInfo.version: the SDK sends "" unless told
        instructions=(
            "Each run.<graph> tool starts a run of a Convergio graph of AI agents and waits "
            f"up to {RUN_WAIT_S:g} s for it; follow a run still going with get_run."
        ),
        on_list_tools=_list_tools,
        on_call_tool=_call_tool,
    )
    server.middleware.append(_named_params)
    return server


async def _named_params(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Bad params as -32602 naming the member (the SDK answers "Invalid request parameters" and
    nothing else, so a client cannot tell which member it got wrong). Only the member's path and
    pydantic's one-line reason go out, never the value sent."""
    try:
        return await call_next(ctx)
    except ValidationError as exc:
        raise MCPError(types.INVALID_PARAMS, f"Invalid params: {_first_problem(exc)}") from None


def _first_problem(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    if not errors:
        return "the params do not match the method"
    first = errors[0]
    path = ".".join(str(part) for part in first.get("loc", ()) if part != "params")
    reason = str(first.get("msg", "invalid")).splitlines()[0][:200]
    return f"{path}: {reason}" if path else reason


def _runs() -> GraphRuns:
    runs = _RUNS.get()
    if runs is None:  # only reachable if the app is mounted without graphs_app
        raise MCPError(types.INTERNAL_ERROR, "no tenant for this request")
    return runs


async def _list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    tools = [_graph_tool(entry) for entry in _runs().graphs()]
    tools.append(
        types.Tool(
            name=GET_RUN,
            description="A run's status, per-agent progress, usage and, once it completed, its output.",
            input_schema=_GET_RUN_SCHEMA,
        )
    )
    return types.ListToolsResult(tools=tools)


def _graph_tool(entry: GraphEntry) -> types.Tool:
    described = entry.description or f"the graph {entry.name}"
    return types.Tool(
        name=f"{RUN_PREFIX}{entry.name}",
        description=f"Run {described}. Answers the run's id and status, and its output if it "
        f"finished within {RUN_WAIT_S:g} s.",
        input_schema=_tool_schema(entry.input_schema),
    )


def _wrapped(schema: dict[str, Any] | None) -> bool:
    """A graph whose input is not an object takes it as the tool's ``input`` argument."""
    return schema is not None and schema.get("type", "object") != "object"


def _tool_schema(schema: dict[str, Any] | None) -> dict[str, Any]:
    if schema is None:
        return {"type": "object"}
    if _wrapped(schema):
        return {"type": "object", "properties": {"input": schema}, "required": ["input"]}
    return schema


async def _call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
    runs, name, arguments = _runs(), params.name, dict(params.arguments or {})
    try:
        if name == GET_RUN:
            run_id, wait = _get_run_arguments(arguments)
            return _view(await _wait(runs, run_id, wait))
        entry = next((g for g in runs.graphs() if f"{RUN_PREFIX}{g.name}" == name), None)
        if entry is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {name}")
        run_input = arguments.get("input") if _wrapped(entry.input_schema) else arguments
        run_id = await runs.start(entry.name, run_input)
        return _view(await _wait(runs, run_id, RUN_WAIT_S))
    except MCPError:
        raise
    except (LookupError, ValueError) as exc:
        return _error(str(exc))
    except Exception:
        _log.error("MCP tool %s failed", name, exc_info=True)
        return _error("internal error")


def _get_run_arguments(arguments: dict[str, Any]) -> tuple[str, float]:
    unknown = sorted(set(arguments) - {"run_id", "wait_seconds"})
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown argument")
    run_id = arguments.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise ValueError("run_id: required, a string")
    wait = arguments.get("wait_seconds", 0)
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= MAX_WAIT_S:
        raise ValueError(f"wait_seconds: a number from 0 to {MAX_WAIT_S:g}")
    return run_id, float(wait)


async def _wait(runs: GraphRuns, run_id: str, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    view = await runs.read(run_id)
    while view.get("status") not in _FINAL and time.monotonic() < deadline:
        await asyncio.sleep(min(_POLL_S, max(deadline - time.monotonic(), 0.0)))
        view = await runs.read(run_id)
    return view


def _view(view: dict[str, Any]) -> types.CallToolResult:
    text = json.dumps(view, ensure_ascii=False, separators=(",", ":"))
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], structured_content=view)


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)
