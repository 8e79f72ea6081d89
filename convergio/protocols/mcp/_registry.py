"""Tenants' MCP servers: where each is, and the tools it offered when last listed.

Records live in the tenant store's SQLite file (same locking and durability rules as
connections). Header values may carry keys, so they live in the secret store (one secret per
server holding the headers as JSON); this table keeps only header names and fingerprints.
The tool list is stored so that validating a graph never reaches the network.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

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

_SCHEMA = """
CREATE TABLE IF NOT EXISTS mcp_servers (
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    name          TEXT NOT NULL,
    url           TEXT NULL,
    transport     TEXT NOT NULL,
    command       TEXT NOT NULL,
    headers       TEXT NOT NULL,
    timeout_s     REAL NOT NULL,
    tools         TEXT NOT NULL,
    refreshed_at  TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
"""
_SELECT = (
    "SELECT tenant_id, name, url, transport, command, headers, timeout_s, tools, refreshed_at, updated_at"
    " FROM mcp_servers WHERE tenant_id = ?"
)
_UPSERT = (
    "INSERT OR REPLACE INTO mcp_servers (tenant_id, name, url, transport, command, headers, timeout_s, tools,"
    " refreshed_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


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
        tools: What the server offered when last listed (``refreshed_at``).
    """

    tenant_id: str
    name: str
    url: str | None
    transport: Literal["http", "stdio"] = "http"
    command: tuple[str, ...] = ()
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    timeout_s: float = 30.0
    tools: tuple[RemoteToolInfo, ...] = ()
    refreshed_at: str = ""
    updated_at: str = ""

    def tool(self, name: str) -> RemoteToolInfo | None:
        return next((tool for tool in self.tools if tool.name == name), None)


class McpServerRegistry:
    """MCP server records in the tenant store's database."""

    def __init__(self, store: TenantStore) -> None:
        self._store = store
        with store._connect() as db:
            db.executescript(_SCHEMA)

    def put(self, record: McpServerRecord) -> McpServerRecord:
        """Create or replace a record; returns it with its update time.

        Raises:
            UnknownTenant: no such tenant.
        """
        saved = dataclasses.replace(record, updated_at=_now())
        with self._store._write() as db:
            TenantStore._require_tenant(db, record.tenant_id)
            db.execute(_UPSERT, _row(saved))
        return saved

    def get(self, tenant_id: str, name: str) -> McpServerRecord | None:
        with self._store._connect() as db:
            row = db.execute(_SELECT + " AND name = ?", (tenant_id, name)).fetchone()
        return _record(row) if row else None

    def list(self, tenant_id: str) -> list[McpServerRecord]:
        with self._store._connect() as db:
            rows = db.execute(_SELECT + " ORDER BY name", (tenant_id,)).fetchall()
        return [_record(row) for row in rows]

    def delete(self, tenant_id: str, name: str) -> bool:
        with self._store._write() as db:
            cursor = db.execute("DELETE FROM mcp_servers WHERE tenant_id = ? AND name = ?", (tenant_id, name))
        return cursor.rowcount > 0


def _row(record: McpServerRecord) -> tuple[Any, ...]:
    tools = [dataclasses.asdict(tool) for tool in record.tools]
    return (
        record.tenant_id,
        record.name,
        record.url,
        record.transport,
        json.dumps(list(record.command)),
        json.dumps(record.headers, sort_keys=True),
        record.timeout_s,
        json.dumps(tools, sort_keys=True),
        record.refreshed_at,
        record.updated_at,
    )


def _record(row: tuple[Any, ...]) -> McpServerRecord:
    tenant_id, name, url, transport, command, headers, timeout_s, tools, refreshed_at, updated_at = row
    return McpServerRecord(
        tenant_id=tenant_id,
        name=name,
        url=url,
        transport=transport,
        command=tuple(json.loads(command)),
        headers=dict(json.loads(headers)),
        timeout_s=float(timeout_s),
        tools=tuple(RemoteToolInfo(**tool) for tool in json.loads(tools)),
        refreshed_at=refreshed_at,
        updated_at=updated_at,
    )
