"""Tenants' MCP servers: where each is, and the tools it offered when last listed.

Records are the tenant store's ``mcp_servers`` family, so they live wherever the tenants do
(SQLite file or control plane). Header values may carry keys, so they live in the secret store
(one secret per server holding the headers as JSON); a record keeps only header names and
fingerprints. The tool list is stored so that validating a graph never reaches the network.

A stdio server runs a command on the host, so only the operator may add one (``python -m
convergio mcp add-stdio``): its record says ``operator``, which nothing a tenant sends can set,
and the tool source starts no process for a record without it (older tenant-made ones included).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from convergio.protocols._types import RemoteToolInfo
from convergio.tenants import TenantStore
from convergio.tenants._store import _now

__all__ = [
    "SERVER_NAME",
    "TOOL_PREFIX",
    "McpServerRecord",
    "McpServerRegistry",
    "check_server_name",
    "headers_secret_name",
    "split_tool_name",
]

SERVER_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
"""A server's name as graphs write it in ``mcp.<server>.<tool>``."""
TOOL_PREFIX = "mcp."

_KIND: Final = "mcp_servers"


def check_server_name(name: str) -> str:
    """The name, if it is ``^[a-z][a-z0-9-]{0,31}$``.

    Raises:
        ValueError: it is not; the message says what the shape is.
    """
    if SERVER_NAME.fullmatch(name) is None:
        raise ValueError(f"{name!r} must be 1-32 of a-z, 0-9 and '-', starting with a letter")
    return name


def headers_secret_name(server: str) -> str:
    """The secret-store name holding a server's headers (JSON)."""
    return f"mcp--{server}"


def split_tool_name(name: str) -> tuple[str, str] | None:
    """``mcp.<server>.<tool>`` as ``(server, tool)``; ``None`` for any other name."""
    if not name.startswith(TOOL_PREFIX):
        return None
    server, dot, tool = name[len(TOOL_PREFIX) :].partition(".")
    if not dot or not tool or SERVER_NAME.fullmatch(server) is None:
        return None
    return server, tool


@dataclass(frozen=True, slots=True)
class McpServerRecord:
    """A tenant's MCP server as stored.

    Attributes:
        headers: Header name to value fingerprint (the values are in the secret store).
        operator: Added by the operator (the CLI), not through the API: the only records whose
            stdio ``command`` may run.
        tools: What the server offered when last listed (``refreshed_at``).
    """

    tenant_id: str
    name: str
    url: str | None
    transport: Literal["http", "stdio"] = "http"
    command: tuple[str, ...] = ()
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    timeout_s: float = 30.0
    operator: bool = False
    tools: tuple[RemoteToolInfo, ...] = ()
    refreshed_at: str = ""
    updated_at: str = ""

    def tool(self, name: str) -> RemoteToolInfo | None:
        return next((tool for tool in self.tools if tool.name == name), None)


class McpServerRegistry:
    """MCP server records, per tenant, in the tenant store (any adapter).

    Args:
        store: The tenant store; a record is refused for a tenant it does not know.
    """

    def __init__(self, store: TenantStore) -> None:
        self._records = store.records(_KIND)

    def put(self, record: McpServerRecord) -> McpServerRecord:
        """Create or replace a record; returns it with its update time.

        Raises:
            UnknownTenant: no such tenant.
        """
        saved = dataclasses.replace(record, updated_at=_now())
        self._records.put(saved.tenant_id, saved.name, _body(saved))
        return saved

    def get(self, tenant_id: str, name: str) -> McpServerRecord | None:
        body = self._records.get(tenant_id, name)
        return None if body is None else _record(body)

    def list(self, tenant_id: str) -> list[McpServerRecord]:
        return [_record(body) for body in self._records.list(tenant_id)]

    def delete(self, tenant_id: str, name: str) -> bool:
        return self._records.delete(tenant_id, name)


def _body(record: McpServerRecord) -> dict[str, Any]:
    return {
        "tenant_id": record.tenant_id,
        "name": record.name,
        "url": record.url,
        "transport": record.transport,
        "command": list(record.command),
        "headers": dict(record.headers),
        "timeout_s": record.timeout_s,
        "operator": record.operator,
        "tools": [dataclasses.asdict(tool) for tool in record.tools],
        "refreshed_at": record.refreshed_at,
        "updated_at": record.updated_at,
    }


def _record(body: Mapping[str, Any]) -> McpServerRecord:
    return McpServerRecord(
        tenant_id=body["tenant_id"],
        name=body["name"],
        url=body.get("url"),
        transport=body.get("transport", "http"),
        command=tuple(body.get("command", ())),
        headers=dict(body.get("headers", {})),
        timeout_s=float(body.get("timeout_s", 30.0)),
        operator=body.get("operator") is True,
        tools=tuple(RemoteToolInfo(**tool) for tool in body.get("tools", ())),
        refreshed_at=body.get("refreshed_at", ""),
        updated_at=body.get("updated_at", ""),
    )
