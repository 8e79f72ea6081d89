"""Tenants' MCP servers as a ``ToolSource``: ``mcp.<server>.<tool>`` in a graph's ``tools:``.

Names come from the tool lists stored when a server was registered or refreshed, so graph
validation never reaches the network. A call reads the server's headers from the secret store
at call time, re-checks the endpoint in hosted mode (a name may have started resolving
somewhere private since it was registered) and is bounded by the smaller of the server's
timeout and what the agent has left. Every failure becomes a ``ToolError`` for the model.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from convergio.graph._schema import schema_problems
from convergio.protocols._types import Endpoint, RemoteToolInfo, ToolServer
from convergio.providers import check_endpoint
from convergio.secrets import Secret, SecretNotFound, SecretStore
from convergio.tenants._store import _now
from convergio.tools import Tool, ToolContext, ToolError

from ._registry import TOOL_PREFIX, McpServerRecord, McpServerRegistry, headers_secret_name, split_tool_name

__all__ = ["STDIO_REFUSED", "McpToolSource"]

STDIO_REFUSED = (
    "stdio servers run commands on the host, so only the operator adds them "
    "(python -m convergio mcp add-stdio), never a tenant's request"
)

_TOOL_NAME = re.compile(r"[A-Za-z0-9._-]{1,128}")
_OPEN_OBJECT: dict[str, Any] = {"type": "object"}
_MIN_TIMEOUT_S = 0.05


class McpToolSource:
    """Every tenant's registered MCP servers' tools, and the calls that reach them.

    Args:
        registry: The server records.
        secrets: Where header values are kept.
        hosted: On Azure: stdio servers are refused and endpoints pass the SSRF guard. Locally,
            a stdio server runs only from a record the operator added (``operator``).
        allowed_hosts: Hosts the operator trusts (``CONVERGIO_PROVIDER_ALLOWED_HOSTS``).
    """

    def __init__(
        self,
        registry: McpServerRegistry,
        secrets: SecretStore,
        *,
        hosted: bool,
        allowed_hosts: Collection[str] = (),
    ) -> None:
        self.registry = registry
        self._secrets = secrets
        self._hosted = hosted
        self._allowed = tuple(allowed_hosts)

    # -- ToolSource -------------------------------------------------------------------------
    def tool_names(self, tenant_id: str) -> frozenset[str]:
        return frozenset(
            f"{TOOL_PREFIX}{record.name}.{tool.name}"
            for record in self.registry.list(tenant_id)
            for tool in record.tools
        )

    def bind(self, name: str, context: ToolContext) -> Tool | None:
        parts = split_tool_name(name)
        if parts is None:
            return None
        record = self.registry.get(context.tenant_id, parts[0])
        info = None if record is None else record.tool(parts[1])
        if record is None or info is None:
            return None
        description = info.description or f"the tool {info.name} of the MCP server {record.name}"

        def call(arguments: dict[str, Any]) -> str:
            return self._call(record, info.name, arguments, context.timeout_s)

        return Tool(name=name, description=description, parameters=info.input_schema, fn=call)

    # -- registration -----------------------------------------------------------------------
    def check(self, record: McpServerRecord) -> None:
        """Refuse what this deployment must not reach.

        Raises:
            ValueError: stdio in hosted mode or not added by the operator, or an endpoint the
                SSRF guard refuses; the message starts with the field's name.
        """
        if record.transport == "stdio":
            if self._hosted:
                raise ValueError("transport: stdio servers run only on a local host, not when hosted")
            if not record.operator:  # a tenant's record: its command would run as the host's user
                raise ValueError(f"transport: {STDIO_REFUSED}")
            if not record.command:
                raise ValueError("command: required for a stdio server")
            return
        if not record.url:
            raise ValueError("url: required for an http server")
        try:
            check_endpoint(record.url, allowed_hosts=self._allowed, local_mode=not self._hosted)
        except ValueError as exc:
            raise ValueError(f"url: {exc}") from None

    def listed(self, record: McpServerRecord, headers: Mapping[str, str] | None = None) -> McpServerRecord:
        """The record with the tools its server offers now.

        Args:
            record: The server (checked with ``check`` first).
            headers: The headers to send; ``None`` reads the stored ones.

        Raises:
            ValueError: as ``check``.
            ConnectionError: the server could not be listed.
        """
        self.check(record)
        sent = self._headers(record) if headers is None else dict(headers)
        listed = _server(_endpoint(record, sent, record.timeout_s), _label(record)).list_tools()
        tools = tuple(_usable(tool) for tool in listed if _TOOL_NAME.fullmatch(tool.name))
        return dataclasses.replace(record, tools=tools, refreshed_at=_now())

    def put_headers(self, tenant_id: str, server: str, headers: Mapping[str, str]) -> None:
        """Store a server's header values (or forget them, when there are none)."""
        name = headers_secret_name(server)
        if headers:
            self._secrets.put(tenant_id, name, Secret(json.dumps(dict(headers), sort_keys=True)))
        else:
            self._secrets.delete(tenant_id, name)

    # -- calls ------------------------------------------------------------------------------
    def _call(
        self, record: McpServerRecord, tool: str, arguments: dict[str, Any], left_s: float | None
    ) -> str:
        timeout = record.timeout_s if left_s is None else min(record.timeout_s, left_s)
        if timeout < _MIN_TIMEOUT_S:
            raise ToolError("no time left for the call")
        try:
            self.check(record)
            server = _server(_endpoint(record, self._headers(record), timeout), _label(record))
            return server.call_tool(tool, arguments)
        except (ConnectionError, ValueError) as exc:
            raise ToolError(str(exc)) from None

    def _headers(self, record: McpServerRecord) -> dict[str, str]:
        if not record.headers:
            return {}
        try:
            secret = self._secrets.get(record.tenant_id, headers_secret_name(record.name))
        except SecretNotFound:
            return {}
        return dict(json.loads(secret.reveal()))


def _server(endpoint: Endpoint, label: str) -> ToolServer:
    # The SDK is slow to import: load it when a server is first reached, not at start-up.
    from ._client import McpToolServer

    return McpToolServer(endpoint, label)


def _endpoint(record: McpServerRecord, headers: dict[str, str], timeout_s: float) -> Endpoint:
    return Endpoint(
        protocol="mcp",
        url=record.url,
        transport=record.transport,
        command=record.command,
        headers=headers,
        timeout_s=timeout_s,
    )


def _label(record: McpServerRecord) -> str:
    return f"MCP server {record.name!r}"


def _usable(tool: RemoteToolInfo) -> RemoteToolInfo:
    """The tool with a schema arguments can be checked against (an open object if not).

    The server's schema is checked like a graph's input schema (RE2 patterns, local ``$ref``
    only): one it could not be held to is dropped, and the server checks its own arguments.
    """
    schema = tool.input_schema
    if (
        not isinstance(schema, dict)
        or schema.get("type", "object") != "object"
        or schema_problems(schema, "input_schema")
    ):
        return dataclasses.replace(tool, input_schema=dict(_OPEN_OBJECT))
    return tool
