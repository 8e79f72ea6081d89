"""Tenants' named provider connections: the non-secret half (kind, endpoint, deployment...).

The key itself lives only in the secret store; this table keeps its fingerprint so the API can
show which key is in place without ever holding it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from convergio.tenants._store import TenantStore, _now

__all__ = ["ConnectionRecord", "ConnectionRegistry"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS connections (
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    endpoint         TEXT NULL,
    deployment       TEXT NULL,
    api_version      TEXT NULL,
    model            TEXT NULL,
    key_fingerprint  TEXT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
"""
_COLUMNS = (
    "tenant_id",
    "name",
    "kind",
    "endpoint",
    "deployment",
    "api_version",
    "model",
    "key_fingerprint",
    "updated_at",
)
_UPSERT = (
    "INSERT OR REPLACE INTO connections (tenant_id, name, kind, endpoint, deployment, api_version, model,"
    " key_fingerprint, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT = (
    "SELECT tenant_id, name, kind, endpoint, deployment, api_version, model, key_fingerprint, updated_at"
    " FROM connections WHERE tenant_id = ?"
)


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    """A tenant's connection as stored; ``key_fingerprint`` is ``None`` for keyless kinds."""

    tenant_id: str
    name: str
    kind: str
    endpoint: str | None = None
    deployment: str | None = None
    api_version: str | None = None
    model: str | None = None
    key_fingerprint: str | None = None
    updated_at: str = ""


class ConnectionRegistry:
    """Connections in the tenant store's SQLite file (same locking and durability rules)."""

    def __init__(self, store: TenantStore) -> None:
        self._store = store
        with store._connect() as db:
            db.executescript(_SCHEMA)

    def put(self, record: ConnectionRecord) -> ConnectionRecord:
        """Create or replace a connection; returns it with its update time."""
        saved = dataclasses.replace(record, updated_at=_now())
        with self._store._write() as db:
            TenantStore._require_tenant(db, record.tenant_id)
            db.execute(
                _UPSERT,
                tuple(getattr(saved, column) for column in _COLUMNS),
            )
        return saved

    def get(self, tenant_id: str, name: str) -> ConnectionRecord | None:
        with self._store._connect() as db:
            row = db.execute(_SELECT + " AND name = ?", (tenant_id, name)).fetchone()
        return _record(row) if row else None

    def list(self, tenant_id: str) -> list[ConnectionRecord]:
        with self._store._connect() as db:
            rows = db.execute(_SELECT + " ORDER BY name", (tenant_id,)).fetchall()
        return [_record(row) for row in rows]

    def delete(self, tenant_id: str, name: str) -> bool:
        with self._store._write() as db:
            cursor = db.execute("DELETE FROM connections WHERE tenant_id = ? AND name = ?", (tenant_id, name))
        return cursor.rowcount > 0


def _record(row: tuple[Any, ...]) -> ConnectionRecord:
    return ConnectionRecord(*row)
