"""Tenants' named provider connections: the non-secret half (kind, endpoint, deployment...).

The key itself lives only in the secret store; a record keeps its fingerprint so the API can
show which key is in place without ever holding it. Records are the tenant store's
``connections`` family, so they live wherever the tenants do (SQLite file or control plane).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from convergio.tenants._store import TenantStore, _now

__all__ = ["ConnectionRecord", "ConnectionRegistry"]

KIND: Final = "connections"


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    """A tenant's connection as stored; ``key_fingerprint`` is ``None`` for keyless kinds;
    ``prices`` (EUR per unit as decimal strings, the units of ``prices.json``) replace the price
    table for this connection's calls, ``None``: the table's."""

    tenant_id: str
    name: str
    kind: str
    endpoint: str | None = None
    deployment: str | None = None
    api_version: str | None = None
    model: str | None = None
    key_fingerprint: str | None = None
    updated_at: str = ""
    prices: Mapping[str, str] | None = None


_FIELDS: Final = frozenset(field.name for field in dataclasses.fields(ConnectionRecord))


class ConnectionRegistry:
    """Connections, per tenant, in the tenant store (any adapter).

    Args:
        store: The tenant store; a record is refused for a tenant it does not know.
    """

    def __init__(self, store: TenantStore) -> None:
        self._records = store.records(KIND)

    def put(self, record: ConnectionRecord) -> ConnectionRecord:
        """Create or replace a connection; returns it with its update time.

        Raises:
            UnknownTenant: No tenant has the record's id.
        """
        saved = dataclasses.replace(record, updated_at=_now())
        self._records.put(saved.tenant_id, saved.name, dataclasses.asdict(saved))
        return saved

    def get(self, tenant_id: str, name: str) -> ConnectionRecord | None:
        body = self._records.get(tenant_id, name)
        return None if body is None else _record(body)

    def list(self, tenant_id: str) -> list[ConnectionRecord]:
        return [_record(body) for body in self._records.list(tenant_id)]

    def delete(self, tenant_id: str, name: str) -> bool:
        return self._records.delete(tenant_id, name)


def _record(body: Mapping[str, Any]) -> ConnectionRecord:
    # Fields a later release adds are ignored by this one, so instances of two releases can share a store.
    return ConnectionRecord(**{key: value for key, value in body.items() if key in _FIELDS})
