"""MCP, both ways: tenants' MCP servers as tools for agents, and Convergio's graphs as MCP tools.

    McpToolServer      one remote server as a ``ToolServer`` (the official ``mcp`` client)
    McpServerRegistry  tenants' server records (tenant store) with their last tool listing
    McpToolSource      the records as a ``ToolSource``: ``mcp.<server>.<tool>`` in ``tools:``
    graphs_app         the MCP endpoint (streamable HTTP, stateless, JSON) acting for a tenant

``McpToolServer`` and ``graphs_app`` load the ``mcp`` SDK, which takes most of a second to
import: they are loaded on first use, so a cold start that never speaks MCP never pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._graphs import GET_RUN, MAX_WAIT_S, RUN_PREFIX, RUN_WAIT_S, GraphEntry, GraphRuns
from ._registry import (
    McpServerRecord,
    McpServerRegistry,
    check_server_name,
    headers_secret_name,
    split_tool_name,
)
from ._source import McpToolSource

if TYPE_CHECKING:
    from ._client import McpToolServer
    from ._server import graphs_app

__all__ = [
    "GET_RUN",
    "MAX_WAIT_S",
    "RUN_PREFIX",
    "RUN_WAIT_S",
    "GraphEntry",
    "GraphRuns",
    "McpServerRecord",
    "McpServerRegistry",
    "McpToolServer",
    "McpToolSource",
    "check_server_name",
    "graphs_app",
    "headers_secret_name",
    "split_tool_name",
]

_LAZY = {"McpToolServer": "._client", "graphs_app": "._server"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
